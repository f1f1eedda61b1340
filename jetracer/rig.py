"""The rig: the one place that builds what a profile describes, and closes it again.

Every command and session that touches the car asks for a :class:`Rig` instead of building parts
itself. On the car the rig opens the PCA9685 car object on the profile's I2C bus, the profile's
camera and (``[battery] enabled``) the INA219 monitor. In the simulator it builds the
:class:`~jetracer.sim.world.SimWorld` first and puts the same car object on the world's virtual bus,
takes the world's camera, and reads the battery twin on that bus: the layers above see the same
objects either way, so no code above the rig and the ``sim`` package needs an "are we simulating"
branch. :func:`wants_sim` is the one place that decides it.

Two clocks, as in :mod:`jetracer.sim.world`. In lockstep (the simulator's default) nothing moves
until :meth:`Rig.step` advances the world one frame period and reads the battery under the same
virtual clock; :meth:`Rig.start_realtime` instead runs the physics, battery and camera threads
against the wall clock, which is what the car always does. :attr:`Rig.clock` is the clock the
pilot and the battery monitor must share.

:meth:`Rig.close` puts the car at neutral first and then closes every part in the reverse order of
building (an :class:`contextlib.ExitStack`), logging a part that fails to close so the rest still
close. Parts a caller adds with :meth:`Rig.add` (a guardian, a recorder) close before the rig's own.
"""

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, TypeVar, Union

from .protocols import Battery, Camera, Clock

if TYPE_CHECKING:
    from .profile import Profile
    from .racecar import NvidiaRacecar, WaveshareRacecar
    from .sim.world import SimWorld

__all__ = ["Rig", "wants_sim"]

log = logging.getLogger(__name__)

_Part = TypeVar("_Part")


def wants_sim(profile: "Profile", sim: bool = False) -> bool:
    """The one "are we simulating" rule: ``--sim`` was given, or the profile's camera is the
    simulator's (the ``sim`` profile), which no real car can open."""
    return bool(sim) or profile.camera["type"] == "sim"


class Rig:
    """The parts of one car, built from ``profile``; see the module docstring.

    ``sim``: the simulator (``wants_sim`` decides with the profile). ``world``: in the simulator,
    build the world (False: only the virtual bus with its chip twins, for the commands that only talk
    to chips: stop, calibrate, battery, display). ``track``, ``seed``, ``randomize``, ``appearance``:
    the world's (see :class:`~jetracer.sim.world.SimWorld`). ``car``, ``camera``: build them.
    ``battery``: build the monitor (None: as the profile's ``[battery] enabled`` says).
    ``persistent_bus``: keep the simulated chips' registers in the runtime folder, so ``jetracer
    stop --sim`` reaches a simulated drive. A part that fails to build closes those already built.
    """

    def __init__(self, profile: "Profile", sim: bool = False, world: bool = True, track: Optional[str] = None,
                 seed: int = 0, randomize: Optional[bool] = None, appearance: Any = None, car: bool = True,
                 camera: bool = True, battery: Optional[bool] = None, persistent_bus: bool = True) -> None:
        self.profile = profile
        self.sim = wants_sim(profile, sim)
        self.world: Optional[SimWorld] = None
        self.bus: Any = None  # the simulated chips' virtual I2C bus (None on the car: the profile's bus)
        self.car: Optional[Union[NvidiaRacecar, WaveshareRacecar]] = None
        self.camera: Optional[Camera] = None
        self.battery: Optional[Battery] = None
        self.closed = False
        self._stack = contextlib.ExitStack()
        try:
            self._build(world, track, seed, randomize, appearance, car, camera, battery, persistent_bus)
        except BaseException:
            self.close()
            raise

    def _build(self, world: bool, track: Optional[str], seed: int, randomize: Optional[bool],
               appearance: Any, car: bool, camera: bool, battery: Optional[bool],
               persistent_bus: bool) -> None:
        profile = self.profile
        if self.sim and world:
            from .sim.world import SimWorld

            self.world = SimWorld(profile, track=track or profile.sim["track"], seed=seed, randomize=randomize,
                                  persistent_bus=persistent_bus, appearance=appearance)
            self._push("simulator", self.world.close)
            self.bus = self.world.bus
        elif self.sim:
            from .sim.devices import make_sim_bus

            self.bus = make_sim_bus(profile, persistent=persistent_bus)
        if car:
            from .profile import make_car

            self.car = make_car(profile, i2c=self.bus)
            self._push("car", self.car.close)
        if camera:
            if self.world is not None:
                self.camera = self.world.camera
            else:
                from .camera import make_camera

                self.camera = make_camera(profile)
            self._push("camera", self.camera.close)
        if battery is None:
            battery = bool(profile.battery["enabled"])
        if battery:
            from .battery import BatteryMonitor

            clock = {"clock": self.world.clock} if self.world is not None else {}
            self.battery = BatteryMonitor.from_profile(profile, i2c=self.bus, **clock)
            self._push("battery monitor", self.battery.stop)

    # -- time ------------------------------------------------------------------------------------
    @property
    def clock(self) -> Clock:
        """The clock of this car: the world's virtual time in the simulator, else ``time.monotonic``."""
        return self.world.clock if self.world is not None else time.monotonic

    @property
    def frame_period(self) -> float:
        """Seconds per camera frame: the simulator's lockstep period, else the profile's camera fps."""
        if self.world is not None:
            return self.world.frame_period
        return 1.0 / max(1.0, float(self.profile.camera["fps"]))

    @property
    def lockstep(self) -> bool:
        """True when time moves only by :meth:`step` (the simulator, not started in real time)."""
        return self.world is not None and not self.world.realtime_running

    def step(self) -> None:
        """One lockstep frame period: the world's physics under the PWM now on the chip, then one
        battery reading on the same virtual clock (a failed read leaves ``battery.error`` set for
        the pilot to judge). Nothing to do on the car, where time runs by itself."""
        if self.world is None:
            return
        self.world.step(self.world.frame_period)
        if self.battery is not None:
            from .errors import HardwareError

            try:
                self.battery.update()
            except HardwareError as exc:
                log.debug("%s", exc)

    def advance(self, seconds: float) -> None:
        """Lockstep: :meth:`step` for ``seconds`` of simulated time (at least one frame)."""
        if self.world is None:
            return
        for _ in range(max(1, int(round(seconds / self.world.frame_period)))):
            self.step()

    def start_realtime(self) -> "Rig":
        """Time runs by itself: the simulator's physics thread, the battery monitor's thread and the
        camera's capture thread (the car's camera and battery always run this way)."""
        if self.world is not None and not self.world.realtime_running:
            self.world.start_realtime()
        if self.battery is not None:
            self.battery.start()  # a no-op while its thread runs
        if self.camera is not None and not self.camera.running:
            self.camera.start()
        return self

    def stop_realtime(self) -> None:
        """Back to lockstep in the simulator (threads stopped); on the car, stop capturing."""
        if self.camera is not None:
            self.camera.stop()
        if self.world is not None:
            self.world.stop_realtime()
            if self.battery is not None:
                self.battery.stop()  # lockstep reads it per step

    # -- what happened ---------------------------------------------------------------------------
    def sim_metrics(self) -> Dict[str, Any]:
        """The simulator's lap metrics and simulated time (empty on the car)."""
        if self.world is None:
            return {}
        metrics = dict(self.world.metrics.summary())
        metrics["sim_time_s"] = round(self.world.time, 3)
        return metrics

    def pulse_widths_us(self) -> Optional[Dict[str, float]]:
        """The pulses on the car's chip, read back (None when there is no car or the bus fails)."""
        if self.car is None:
            return None
        try:
            return self.car.pulse_widths_us()
        except Exception as exc:  # noqa: BLE001 - the bus that just failed may fail again: report, don't crash
            log.error("could not read the PWM back: %s", exc)
            return None

    def describe(self) -> str:
        """One line: what was built and where."""
        where = ("the simulator (track %s)" % self.world.track.name if self.world is not None else
                 "the simulated chips" if self.sim else "the car (profile %s)" % self.profile.name)
        parts = [type(self.car).__name__] if self.car is not None else []
        if self.camera is not None:
            parts.append("%s %dx%d" % (type(self.camera).__name__, self.camera.width, self.camera.height))
        return "%s on %s" % (", ".join(parts) or "nothing", where)

    # -- closing ---------------------------------------------------------------------------------
    def add(self, name: str, closer: _Part) -> _Part:
        """Close ``closer`` (a callable, or an object with ``close()``) with the rig, before the
        parts the rig built; returns what was given."""
        part: Any = closer
        fn = part if callable(part) and not hasattr(part, "close") else part.close
        self._push(name, fn)
        return closer

    def _push(self, name: str, fn: Callable[[], Any]) -> None:
        def safely() -> None:
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - keep closing the rest
                log.error("closing the %s: %s", name, exc)
        self._stack.callback(safely)

    def neutral(self) -> None:
        """Steering centred, throttle stopped, now (a failing bus is logged, not raised)."""
        if self.car is None:
            return
        try:
            self.car.neutral()
        except Exception as exc:  # noqa: BLE001 - close() below tries again through car.close()
            log.error("could not put the car at neutral: %s", exc)

    def close(self) -> None:
        """Neutral first, then every part in reverse order of building (safe to call twice)."""
        if self.closed:
            return
        self.closed = True
        self.neutral()
        self._stack.close()

    def __enter__(self) -> "Rig":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Rig(%s)" % self.describe()
