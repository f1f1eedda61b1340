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

What ``close()`` means, for every part (the car, a camera, the battery monitor, the status display,
the simulated world, the notebook heartbeat, and the rig that holds them): it stops first (the car
writes neutral; a part's background thread, a :class:`~jetracer.util.periodic.Periodic`, is stopped
and joined), then releases what it holds; it is safe to call twice, from any thread (a screen's
goodbye message survives the rig closing the display again); and it is final: a closed part's
``start()`` raises instead of quietly running again. ``stop()``, where a part has one, is the pause
that ``start()`` undoes.
"""

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional, TypeVar, Union, cast

from .protocols import Battery, Camera, Clock, Policy

if TYPE_CHECKING:
    from .camera.base import Frame
    from .drive.stop import StopCondition
    from .profile import Profile
    from .racecar import NvidiaRacecar, WaveshareRacecar
    from .sim.pack import SimBattery
    from .sim.world import SimWorld
    from .status.display import StatusDisplay

__all__ = ["Rig", "RigParts", "wants_sim"]

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
    to chips: stop, calibrate, battery, display). ``track``, ``seed``, ``randomize``, ``appearance``,
    ``tape_share``: the world's (see :class:`~jetracer.sim.world.SimWorld`). ``car``, ``camera``: build them.
    ``battery``: build the monitor (None: as the profile's ``[battery] enabled`` says).
    ``persistent_bus``: keep the simulated chips' registers in the runtime folder, so ``jetracer
    stop --sim`` reaches a simulated drive. ``display``: build the OLED status display (on the
    battery monitor) even when the profile's ``[display]`` is off; in the simulator its twin is
    fitted if the bus lacks one. ``optional``: names of parts (``"battery"``) whose missing chip is
    a warning, not an error: the status screen still shows the rest. A part that fails to build
    closes those already built.

    In the simulator without a world (the status commands), :attr:`pack` is the simulated pack
    behind the INA219 twin, drained by :meth:`read_battery` for the wall-clock time that passed.
    """

    def __init__(self, profile: "Profile", sim: bool = False, world: bool = True, track: Optional[str] = None,
                 seed: int = 0, randomize: Optional[bool] = None, appearance: Any = None, car: bool = True,
                 camera: bool = True, battery: Optional[bool] = None, persistent_bus: bool = True,
                 display: bool = False, optional: Iterable[str] = (), tape_share: float = 0.0) -> None:
        self._empty(profile, wants_sim(profile, sim))
        self._optional = frozenset(optional)
        try:
            self._build(world, track, seed, randomize, appearance, car, camera, battery, persistent_bus, tape_share)
            if display:
                self._build_display()
        except BaseException:
            self.close()
            raise

    def _empty(self, profile: "Profile", sim: bool) -> None:
        self.profile = profile
        self.sim = sim
        self.world: Optional[SimWorld] = None
        self.bus: Any = None  # the simulated chips' virtual I2C bus (None on the car: the profile's bus)
        self.car: Optional[Union[NvidiaRacecar, WaveshareRacecar]] = None
        self.camera: Optional[Camera] = None
        self.battery: Optional[Battery] = None
        self.display: Optional[StatusDisplay] = None
        self.pack: Optional[SimBattery] = None
        self.closed = False
        self._optional = frozenset()
        self._pack_time: Optional[float] = None
        self._stack = contextlib.ExitStack()

    @classmethod
    def around(cls, profile: "Profile", car: Any = None, camera: Optional[Camera] = None,
               battery: Optional[Battery] = None) -> "Rig":
        """A rig over parts built elsewhere (a test's car on its own bus, a stand-in camera): nothing
        is built, and what is given closes with the rig as if it had built it. Time is the car's."""
        rig = cls.__new__(cls)
        rig._empty(profile, False)
        rig.car, rig.camera, rig.battery = car, camera, battery
        for name, part, closer in (("car", car, "close"), ("camera", camera, "close"),
                                   ("battery monitor", battery, "close")):
            fn = getattr(part, closer, None)
            if fn is not None:
                rig._push(name, fn)
        return rig

    def _build(self, world: bool, track: Optional[str], seed: int, randomize: Optional[bool],
               appearance: Any, car: bool, camera: bool, battery: Optional[bool],
               persistent_bus: bool, tape_share: float) -> None:
        profile = self.profile
        if self.sim and world:
            from .sim.world import SimWorld

            self.world = SimWorld(profile, track=track or profile.sim["track"], seed=seed, randomize=randomize,
                                  persistent_bus=persistent_bus, appearance=appearance, tape_share=tape_share)
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
            self._make_camera()
        if battery is None:
            battery = bool(profile.battery["enabled"])
        if battery:
            from .errors import HardwareError
            from .status.battery import BatteryMonitor

            clock = {"clock": self.world.clock} if self.world is not None else {}
            if self.sim and self.world is None:
                self.pack = self._sim_pack()  # before the monitor: its first reading sees the pack
            try:
                self.battery = BatteryMonitor.from_profile(profile, i2c=self.bus, **clock)
            except HardwareError as exc:
                if "battery" not in self._optional:
                    raise
                log.warning("%s; going on without battery readings", exc)
            else:
                self._push("battery monitor", self.battery.close)

    def _sim_pack(self) -> Optional["SimBattery"]:
        """The simulated pack behind the INA219 twin on a world-less simulated bus, or None."""
        b = self.profile.battery
        try:
            self.bus.device(b["i2c_address"])
        except KeyError:
            return None
        from .sim.pack import sim_battery_for

        self._pack_time = time.monotonic()
        return sim_battery_for(self.bus, self.profile)

    def _build_display(self) -> None:
        from .status.display import StatusDisplay

        d = self.profile.display
        if self.sim:
            try:
                self.bus.device(d["i2c_address"])
            except KeyError:  # the profile has the display off: fit the twin the user asked to see
                from .i2c.ssd1306 import SSD1306Twin

                self.bus.attach(SSD1306Twin(d["i2c_address"], width=d["width"], height=d["height"]))
        self.display = StatusDisplay.from_profile(self.profile, i2c=self.bus, battery=self.battery,
                                                  camera=self.camera)
        self._push("status display", self.display.close)

    def _make_camera(self) -> Camera:
        if self.world is not None:
            camera: Camera = self.world.camera
        else:
            from .camera import make_camera

            camera = make_camera(self.profile)
        self.camera = camera
        self._push("camera", camera.close)
        return camera

    def open_camera(self, start: bool = True) -> Camera:
        """The camera, built now when the rig was made without it, and capturing: started on the
        car (a CSI camera takes seconds), nothing to start in lockstep, where a read renders the
        frame. For a command that needs a camera only once the person asks for one (teleop).
        ``start=False``: only built (a ``read()`` then captures one frame synchronously)."""
        camera = self.camera if self.camera is not None else self._make_camera()
        if start and not self.lockstep and not camera.running:
            camera.start()
        return camera

    def ground_truth_policy(self, kind: str = "expert") -> Optional[Policy]:
        """The simulator's driver that steers from the world's ground truth, as a policy of a frame
        (``expert``: pure pursuit, speed capped; ``racer``: at the tyres' grip limit); None on the
        car, which has no ground truth to drive from."""
        if self.world is None:
            return None
        from .drive.policies import expert_policy

        return expert_policy(self.world, "racer" if kind == "racer" else "expert")

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

    def lockstep_watchdog_s(self, limit_s: float) -> float:
        """The pilot's watchdog limit for a loop driven in lockstep: the simulated car waits for the
        loop, so only a hang is a fault, not a slow frame (at least the profile's
        ``[sim] lockstep_watchdog_s``)."""
        return max(limit_s, self.profile.sim["lockstep_watchdog_s"])

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

    def read_battery(self, now: Optional[float] = None) -> Optional[str]:
        """One battery reading now (the ``battery`` and ``display`` commands, which keep no world);
        in the simulator without a world, the pack behind the twin first drains for the time since
        the last reading. Returns the state, None without a monitor; a failed read raises the
        monitor's one-line :class:`~jetracer.errors.HardwareError` (``battery.error`` is set)."""
        if self.battery is None:
            return None
        now = self.battery.clock() if now is None else now
        if self.pack is not None:
            self.pack.advance(max(0.0, now - cast(float, self._pack_time)))  # set with the pack
            self._pack_time = now
        return self.battery.update(now)

    def advance(self, seconds: float) -> None:
        """Lockstep: :meth:`step` for ``seconds`` of simulated time (at least one frame); nothing on
        the car. Refused while the simulator runs in real time (its own thread moves the world)."""
        if self.world is None:
            return
        if self.world.realtime_running:
            raise RuntimeError("the simulator runs in real time; stop_realtime() before advance()")
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

    def start_monitors(self) -> None:
        """Start the battery monitor's own thread, unless the rig is in lockstep (where
        :meth:`step` reads it on the virtual clock). For loops that pace themselves (teleop)."""
        if self.battery is not None and not self.lockstep:
            self.battery.start()  # a no-op while its thread runs

    def newest_frame(self, camera: Optional[Camera] = None) -> Optional["Frame"]:
        """The frame a loop acts on now: rendered at this instant in lockstep (time stands still
        until :meth:`step`), else the newest the capture thread delivered (None before the first)."""
        camera = self.camera if camera is None else camera
        if camera is None:
            return None  # a rig built without a camera: no frame
        return camera.read_frame() if self.lockstep else camera.latest()

    def to_lockstep(self) -> bool:
        """Back to lockstep if this rig has it (the simulator: threads stopped, as
        :meth:`stop_realtime`); returns :attr:`lockstep`. The car's time always runs: nothing is
        stopped there (its camera keeps capturing) and this returns False."""
        if self.world is not None:
            self.stop_realtime()
        return self.lockstep

    def stop_realtime(self) -> None:
        """Back to lockstep in the simulator (threads stopped); on the car, stop capturing."""
        if self.camera is not None:
            self.camera.stop()
        if self.world is not None:
            self.world.stop_realtime()
            if self.battery is not None:
                self.battery.stop()  # lockstep reads it per step

    def stop_condition(self, laps: Optional[int] = None, duration: Optional[float] = None,
                       max_seconds: Optional[float] = None, realtime: bool = False) -> "StopCondition":
        """When a drive on this car is done (:class:`~jetracer.drive.stop.StopCondition`): in the
        simulator laps, duration (simulated time in lockstep, the wall clock when ``realtime``) and the
        stuck-car cap; on the car only a duration on the wall clock, since nothing counts laps there."""
        from .drive.stop import StopCondition

        if self.world is not None:
            return StopCondition.for_world(self.world, laps=laps, duration=duration, max_seconds=max_seconds,
                                           realtime=realtime)
        return StopCondition.for_car(duration=duration)

    # -- what happened ---------------------------------------------------------------------------
    def sim_metrics(self) -> Dict[str, Any]:
        """The simulator's lap metrics and simulated time (empty on the car)."""
        if self.world is None:
            return {}
        metrics = dict(self.world.metrics.summary())
        metrics["sim_time_s"] = round(self.world.time, 3)
        return metrics

    def sim_state(self) -> Dict[str, Any]:
        """The simulated car's state (time, ``s`` along the track, speed, ``cte``, ``off_track``;
        see :meth:`~jetracer.sim.world.SimWorld.state`); empty on the car."""
        return self.world.state() if self.world is not None else {}

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
            parts.append("%s %sx%s" % (type(self.camera).__name__, getattr(self.camera, "width", "?"),
                                       getattr(self.camera, "height", "?")))
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
        try:
            self.neutral()
        finally:  # a second Ctrl-C during the neutral write must not skip closing the parts
            self._stack.close()

    def __enter__(self) -> "Rig":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return "Rig(%s)" % self.describe()


class RigParts:
    """The rig's parts as attributes of a holder (a notebook session, the web app's parts), which
    keeps its :class:`Rig` in ``self.rig``; each is None while there is no rig, or no such part."""

    rig: Optional[Rig] = None

    @property
    def world(self) -> Optional["SimWorld"]:
        """The simulated world (None on the car): its track, vehicle and metrics."""
        return self.rig.world if self.rig is not None else None

    @property
    def car(self) -> Any:
        return self.rig.car if self.rig is not None else None

    @property
    def camera(self) -> Optional[Camera]:
        return self.rig.camera if self.rig is not None else None

    @property
    def battery(self) -> Optional[Battery]:
        return self.rig.battery if self.rig is not None else None
