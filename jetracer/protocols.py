"""The seams between the parts, as Protocols: what the pilot and the rig actually call.

The pilot takes its camera, engine, policy, battery monitor and clock by duck typing, so a notebook
can hand it a replayed video, a lambda or a fake battery. These classes write that duck down, for
a reader and for a type checker (mypy checks ``make lint``): anything with these members fits,
whatever it inherits from. Members the pilot reads only when present (``Camera.clock``,
``Camera.first_frame_timeout_s``, ``Engine.meta``, ``Engine.last_timings``, ``Battery.last_reading``)
are optional and not listed.

``typing.Protocol`` exists from Python 3.8; the Jetson Nano's Python 3.6 (JetPack 4.6) uses
``typing_extensions.Protocol`` when it is installed (Adafruit's drivers need it there, so a car has
it), else :class:`StructuralBase`, a plain base class whose ``isinstance`` checks the members the
same way, so ``isinstance(x, Camera)`` means the same on every Python this package supports. Type
checkers always see ``typing.Protocol``.

Not to be confused with the implementations of the same name: :class:`jetracer.camera.Camera` is
the capture base every camera backend shares, :class:`jetracer.engine.Engine` the base of every
inference backend. Both satisfy the protocols here.
"""

import os
import sys
from typing import TYPE_CHECKING, Any, Optional, Set, Tuple, Type, TypeVar, Union

if TYPE_CHECKING:
    import numpy as np

    from .camera.base import Frame

__all__ = ["Camera", "Engine", "Policy", "Battery", "Clock", "Command", "AimPoint", "PathLike", "StructuralBase",
           "protocol_members", "runtime_checkable"]

#: (steering, throttle), each in [-1, 1]: what a policy returns and the car takes
Command = Tuple[float, float]
#: (x, y) normalised image point the car should head for, about [-1, 1]: what an engine returns
AimPoint = Tuple[float, float]
#: a file or folder name as the functions that take one accept it
PathLike = Union[str, "os.PathLike"]

_T = TypeVar("_T")


def protocol_members(cls: type) -> Tuple[str, ...]:
    """The names an object must have to satisfy the protocol ``cls``: its public methods,
    properties and annotated attributes, and ``__call__`` (sorted)."""
    names: Set[str] = set()
    for klass in getattr(cls, "__mro__", (cls,)):
        if klass is object or klass.__name__ in ("Protocol", "Generic", "StructuralBase"):
            continue
        names.update(getattr(klass, "__annotations__", {}))
        names.update(name for name in vars(klass) if not name.startswith("_") or name == "__call__")
    return tuple(sorted(names))


class _StructuralMeta(type):
    """``isinstance(obj, P)`` for a class ``P`` deriving from :class:`StructuralBase`: ``obj``
    has every member of ``P`` (or derives from ``P``), as a runtime-checkable Protocol does."""

    def __instancecheck__(cls, obj: Any) -> bool:
        if type.__instancecheck__(cls, obj):
            return True
        if StructuralBase not in cls.__bases__:  # a class implementing a protocol checks nominally
            return False
        return all(hasattr(obj, name) for name in protocol_members(cls))


class StructuralBase(metaclass=_StructuralMeta):
    """The base the protocols fall back on where neither ``typing`` nor ``typing_extensions`` has a
    ``Protocol`` (Python 3.6 and 3.7 without typing_extensions). Subclass it directly to declare a
    protocol; ``isinstance`` then checks members structurally."""

    __slots__ = ()


def _no_op_decorator(cls: Type[_T]) -> Type[_T]:
    return cls  # StructuralBase protocols are always checkable at run time


if sys.version_info >= (3, 8):
    from typing import Protocol, runtime_checkable  # novermin (guarded by the version check)
else:  # pragma: no cover - Python 3.6/3.7 (the Jetson Nano)
    try:
        from typing_extensions import Protocol, runtime_checkable
    except ImportError:
        Protocol, runtime_checkable = StructuralBase, _no_op_decorator


@runtime_checkable
class Clock(Protocol):
    """Seconds as a float, monotonic: ``time.monotonic`` on the car, the world's virtual time in
    the simulator. The pilot, the camera that stamps frames and the battery monitor share one."""

    def __call__(self) -> float: ...


@runtime_checkable
class Camera(Protocol):
    """The newest frame, never a queue (see :mod:`jetracer.camera.base`). The pilot calls
    :meth:`wait_frame` while the camera runs and :meth:`read_frame` otherwise; a loop that paces
    itself takes :meth:`latest`; the rig starts, stops and closes it and names its size."""

    @property
    def running(self) -> bool:
        """The capture thread is on."""

    @property
    def width(self) -> int:
        """Delivered frame width in pixels."""

    @property
    def height(self) -> int:
        """Delivered frame height in pixels."""

    def latest(self) -> Optional["Frame"]:
        """The newest frame the capture thread delivered, or None before the first; never blocks."""

    def read_frame(self) -> "Frame":
        """The newest frame (captures one when not running); raises CameraError when none comes."""

    def wait_frame(self, after_seq: int, timeout: Optional[float] = None) -> Optional["Frame"]:
        """The newest frame with ``seq > after_seq``, waiting up to ``timeout`` s; None on timeout."""

    def start(self) -> Any:
        """Open the device and capture in the background."""

    def stop(self) -> None:
        """Stop capturing (the device stays open)."""

    def close(self) -> None:
        """Stop and release the device; safe twice."""


@runtime_checkable
class Engine(Protocol):
    """A camera frame (BGR uint8 HxWx3) in, the aim point out (see :mod:`jetracer.engine.base`)."""

    def __call__(self, frame: "np.ndarray") -> AimPoint:
        """(x, y) of the first category."""

    def predict(self, frame: "np.ndarray") -> "np.ndarray":
        """(categories, 2) normalised (x, y) per category (a throttle model's last row: throttle)."""


@runtime_checkable
class Policy(Protocol):
    """A whole driver in one call: a frame in, the command out. It replaces engine + control law in
    the pilot (the simulator's expert, a person's gamepad, a model with its control law)."""

    def __call__(self, frame: "Frame") -> Command:
        """(steering, throttle) for this frame; a non-finite value stops the car."""


@runtime_checkable
class Battery(Protocol):
    """A battery monitor (see :class:`jetracer.status.battery.BatteryMonitor`): the pilot stops the car
    on ``state == "critical"`` and on a monitor that stays blind (``error``); the rig reads it once
    per lockstep frame (:meth:`update`) or runs its thread (:meth:`start`/:meth:`stop`), and closes it."""

    @property
    def state(self) -> str:
        """"ok", "low" or "critical"."""

    @property
    def percent(self) -> float:
        """Estimated state of charge, 0-100."""

    @property
    def error(self) -> str:
        """Why the last reading failed ('' when it worked)."""

    @property
    def clock(self) -> Clock:
        """The clock its readings are stamped with (the rig's: virtual time in the simulator)."""

    def update(self, now: Optional[float] = None) -> Any:
        """Take one reading now, or stamped ``now`` (raises HardwareError when the chip does not answer)."""

    def start(self) -> Any:
        """Read periodically in a thread."""

    def stop(self) -> None:
        """Stop the thread."""

    def close(self) -> None:
        """Stop the thread and let go of the chip; safe twice."""
