"""The simulated world: a track, a car on it, its electronics on a virtual I2C bus, its camera.

It closes the loop at the bottom of the stack: software drives an ``NvidiaRacecar`` on
``world.bus`` exactly as on the real car; :meth:`SimWorld.step` reads the pulse widths that
landed in the PCA9685 twin, moves the car, and updates the lap metrics; :meth:`SimWorld.render`
(or ``world.camera``) shows the car's view from the new pose.

Two clocks:

- **lockstep** (default): nothing moves until ``step(dt)`` is called; ``world.time`` is virtual.
  Call ``camera.read_frame()`` -> decide -> set the car -> ``step(world.frame_period)``. The same
  seed gives the same run, frame for frame (see :func:`jetracer.sim.run.drive_lockstep`).
- **real time**: ``with world.realtime():`` steps the physics from the wall clock in a thread and
  runs the camera's capture thread at the profile's fps; the pilot reads frames and writes the car
  from its own thread, exactly as on the car. ``world.time`` then follows the wall clock.

All state changes happen under ``world.lock``, so the threads never see half a step.
"""

import contextlib
import logging
import math
import threading
import time

from ..i2c import DRIVER_LOCK
from ..profile import Profile, load_profile
from .devices import make_sim_bus
from .metrics import LapMetrics
from .renderer import Renderer
from .track import Track
from .vehicle import Vehicle, esc_command, servo_angle

__all__ = ["SimWorld"]

log = logging.getLogger(__name__)

_START_BEHIND_M = 0.6  # the car starts this far (rear axle) behind the start line
_MOTOR_AMPS = 12.0  # extra battery current at full drive (simulated pack load)


class SimWorld:
    """A simulated car on a track. See the module docstring for the two clocks.

    ``profile``: a Profile or profile name (default ``sim``). ``track``: a Track, built-in name,
    JSON path or ``random:SEED`` (default the profile's ``[sim] track``). ``randomize``: domain randomisation of the
    camera (default the profile's ``[sim] randomize``). ``appearance``: render one fixed room instead
    (an :class:`~jetracer.sim.appearance.Appearance` or a held-out room's name). ``tape_share``: the share of
    randomised rooms drawn as bare tape on a pale floor (see :func:`~jetracer.sim.appearance.sample_training`;
    0, the default, draws them as before). ``persistent_bus``: keep the PCA9685
    registers in the runtime folder (``jetracer stop --sim`` can then reach them).
    """

    def __init__(self, profile=None, track=None, seed=0, randomize=None, persistent_bus=False, appearance=None,
                 tape_share=0.0):
        self.profile = profile if isinstance(profile, Profile) else load_profile(profile or "sim", sim=True)
        sim = self.profile.sim
        self.sim = sim
        self.track = track if isinstance(track, Track) else Track.load(
            track or sim["track"], wheelbase_m=sim["wheelbase_m"], max_steer_deg=sim["max_steer_deg"])
        self.seed = int(seed)
        self.randomize = sim["randomize"] if randomize is None else bool(randomize)
        if isinstance(appearance, str):
            from .appearance import held_out

            appearance = held_out(appearance)
        self.appearance = appearance
        self.frame_period = 1.0 / sim["frame_rate"]
        self.lock = threading.RLock()
        self.bus = make_sim_bus(self.profile, persistent=persistent_bus)
        car = self.profile.car
        self.pwm = self.bus.device(car["i2c_address"])
        self.motor_pwm = self.bus.device(car["motor_i2c_address"]) if car["type"] == "waveshare" else None
        self.vehicle = Vehicle(sim)
        self.renderer = Renderer(self.track, self.profile.camera, camera_forward_m=sim["camera_forward_m"],
                                 randomize=self.randomize, seed=self.seed, appearance=appearance,
                                 tape_share=tape_share)
        self.metrics = LapMetrics(self.track, sim["wheelbase_m"], sim["wheel_track_m"])
        self.battery = self._make_battery()
        self.time = 0.0
        self.steps = 0
        self.episode = 0
        self._drive = 0.0
        self._camera = None
        self._realtime = None  # the physics thread's Periodic while running in real time
        self.closed = False
        self.reset()

    # -- set-up ----------------------------------------------------------------------------------
    def _make_battery(self):
        if not self.profile.battery["enabled"]:
            return None
        try:
            from .pack import sim_battery_for

            self.bus.device(self.profile.battery["i2c_address"])
        except (ImportError, KeyError):
            return None
        return sim_battery_for(self.bus, self.profile, load=lambda: abs(self._drive) * _MOTOR_AMPS)

    def start_pose(self):
        """Rear axle on the centreline, just behind the start line, facing along the track."""
        s = self.track.length - _START_BEHIND_M
        x, y = self.track.point_at(s)
        return (x, y, self.track.heading_at(s))

    def reset(self, pose=None):
        """Put the car at ``pose`` (x, y, yaw of the rear axle; default :meth:`start_pose`) at rest
        and restart the metrics. Later resets start a new randomised episode (new floor and colours)."""
        with self.lock:
            x, y, yaw = pose if pose is not None else self.start_pose()
            self.vehicle.set_pose(x, y, yaw)
            hint = None if pose is not None else self.track.length - _START_BEHIND_M
            if self.randomize and self.steps:  # a new episode, derived from the seed deterministically
                self.episode += 1
                self.renderer.reseed([self.seed, self.episode])
            self.steps = 0
            self.metrics.reset(self.vehicle, self.time, s_hint=hint)

    @property
    def camera(self):
        """The car's camera (:class:`jetracer.camera.sim.SimCamera`), created on first use."""
        if self._camera is None:
            from ..camera.sim import SimCamera

            self._camera = SimCamera(self)
        return self._camera

    # -- the loop --------------------------------------------------------------------------------
    @property
    def pose(self):
        return self.vehicle.pose

    def clock(self):
        """The world's time in seconds (virtual in lockstep, wall-clock driven in real time)."""
        return self.time

    def read_pwm(self):
        """(steering target radians or None, ESC drive in [-1, 1]) from the chips' outputs now."""
        car = self.profile.car
        with DRIVER_LOCK:  # never read a channel half-way through the driver's register write
            steer = servo_angle(self.pwm.pulse_us(car["steering_channel"]), self.sim)
            if self.motor_pwm is None:
                return steer, esc_command(self.pwm.pulse_us(car["throttle_channel"]), self.sim)
            return steer, self._waveshare_drive()

    def _waveshare_drive(self):
        """Signed drive from the AI kit's H-bridge pattern (channel 0 duty, 1/2 set the direction)."""
        chip = self.motor_pwm
        duty = chip.duty(0)
        forward, reverse = chip.duty(1) > 0.5, chip.duty(2) > 0.5
        if duty <= 0 or forward == reverse:
            return 0.0
        return duty if forward else -duty

    def step(self, dt=None):
        """Advance ``dt`` seconds (default one frame period) under the PWM now on the chip."""
        dt = self.frame_period if dt is None else float(dt)
        if dt <= 0:
            return
        with self.lock:
            steer, drive = self.read_pwm()
            self._drive = drive
            self.vehicle.step(dt, steer, drive)
            self.time += dt
            self.steps += 1
            self.metrics.update(self.vehicle, self.time)
            if self.battery is not None:
                self.battery.advance(dt)

    def render(self):
        """The camera image (BGR uint8) at the current pose."""
        with self.lock:
            return self.renderer.render(self.vehicle.pose)

    def project_to_image(self, world_xy):
        """Pixel (u, v) where floor point ``world_xy`` appears in the current camera image, or None."""
        with self.lock:
            return self.renderer.project_to_image(self.vehicle.pose, world_xy)

    def final_pwm_us(self):
        """Pulse widths on the steering and throttle pins now, as a scope would read them."""
        car = self.profile.car
        with self.lock:
            if self.motor_pwm is not None:
                throttle = self.motor_pwm.pulse_us(0)
            else:
                throttle = self.pwm.pulse_us(car["throttle_channel"])
            return {"steering": round(self.pwm.pulse_us(car["steering_channel"]), 1), "throttle": round(throttle, 1)}

    def state(self):
        """Ground truth for logs and labels: pose, speed, steer angle, track position."""
        with self.lock:
            v, m = self.vehicle, self.metrics
            return {"time": self.time, "x": v.x, "y": v.y, "yaw": v.yaw, "speed": v.speed,
                    "steer_deg": math.degrees(v.steer_angle), "s": m.s, "cte": m.cte, "off_track": m.off_track}

    # -- real time -------------------------------------------------------------------------------
    def start_realtime(self, rate_hz=200.0):
        """Step the physics from the wall clock in a background thread (idempotent)."""
        if self.closed:
            raise RuntimeError("the simulated world is closed")
        if self.realtime_running:
            return
        from ..util.periodic import Periodic

        last = [time.monotonic()]

        def physics():
            now = time.monotonic()
            # a stall (debugger, overloaded machine) is not allowed to teleport the car
            self.step(min(now - last[0], 0.1))
            last[0] = now

        self._realtime = Periodic("SimWorld-physics", physics, 1.0 / float(rate_hz), what="simulator physics",
                                  level=logging.ERROR, join_timeout_s=2.0, logger=log).start()

    def stop_realtime(self):
        """Back to lockstep: the physics thread stopped and joined."""
        if self._realtime is not None:
            self._realtime.stop()
        self._realtime = None

    @property
    def realtime_running(self):
        return self._realtime is not None and self._realtime.running

    @contextlib.contextmanager
    def realtime(self, camera=True, rate_hz=200.0):
        """Run physics (and the camera's capture thread) in real time for the ``with`` body."""
        self.start_realtime(rate_hz)
        try:
            if camera:
                self.camera.start()
            yield self
        finally:
            try:
                if camera and self._camera is not None:
                    self._camera.stop()
            finally:
                self.stop_realtime()

    def close(self):
        """Stop the physics thread first, then close the camera. Safe to call twice."""
        self.stop_realtime()
        if self.closed:
            return
        self.closed = True
        if self._camera is not None:
            self._camera.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "SimWorld(track=%r, t=%.2f s, %r)" % (self.track.name, self.time, self.metrics)
