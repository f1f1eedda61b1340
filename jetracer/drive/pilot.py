"""The autopilot: newest camera frame -> engine -> control law -> car, with a watchdog.

Every way out of the loop ends with neutral throttle: the run's end, a signal (SIGTERM/SIGINT
arrive as :class:`~jetracer.drive.signals.StopSignal` or KeyboardInterrupt), a frame older than the stale
limit (checked when the frame arrives and again when its command is about to be written), a frame
stamped in the future or earlier than the last one, an engine exception or a non-finite output, an
I2C write that fails twice, a critical battery, a battery monitor blind for ``battery_unreadable_s``,
an e-stop, a missed watchdog deadline (see "watchdog" below), a keep-alive that says stop. The
loop acts only on the newest frame and never twice on the same one; frames it had no time for are
counted as dropped.

Modes: ``stopped`` (neutral; the model still runs so a notebook can show its prediction),
``manual`` (a person drives: ``manual_steering``/``manual_throttle``), ``steer`` (the model steers,
the person sets the throttle) and ``auto`` (the model steers and the control law sets the throttle).
"""

import logging
import threading
import time

import traitlets

from ..errors import CameraError
from ..profile import default
from .control import ControlLaw
from .policies import Fault, ModelPolicy
from .signals import StopSignal
from .stop import StopReason
from .telemetry import Telemetry

__all__ = ["Pilot", "MODES", "DRIVING_MODES", "StopReason"]

log = logging.getLogger(__name__)

#: every mode a pilot can be in (the profile's ``[pilot] mode`` takes one of them)
MODES = ("stopped", "manual", "steer", "auto")
#: the modes a person picks, in the order the pad's mode button cycles them and the web page lists
#: them; ``stopped`` is what an e-stop gives
DRIVING_MODES = MODES[1:]


#: a frame stamped this far ahead of the pilot's clock comes from another clock: its age means nothing
FUTURE_TOLERANCE_S = 0.05


class Pilot(traitlets.HasTraits):
    """Drives ``car`` from ``camera`` frames through ``engine`` (frame -> (x, y)).

    What drives is a policy (:mod:`jetracer.drive.policies`: ``frame -> (steering, throttle)``):
    ``policy`` if given (e.g. the simulator's expert), else a
    :class:`~jetracer.drive.policies.ModelPolicy` over ``engine`` and the control law, with
    ``road_monitor`` (a :class:`~jetracer.drive.road_monitor.RoadMonitor`) watching the engine's
    predictions (it slows, then stops the run with "road_lost", when the network no longer sees a
    road). ``battery`` is any object with a ``state`` trait ("ok", "low", "critical"). ``clock``
    must be the camera's clock (virtual time in the simulator's lockstep).
    """

    # Built without a profile, a pilot takes the profile schema's defaults (its law too), except the
    # mode: it starts "stopped" until told otherwise, where the default profile starts in "steer".
    mode = traitlets.Unicode("stopped")
    manual_steering = traitlets.Float(0.0)
    manual_throttle = traitlets.Float(0.0)
    steering_gain = traitlets.Float(default("pilot", "steering_gain"))
    steering_bias = traitlets.Float(default("pilot", "steering_bias"))
    steering_kd = traitlets.Float(default("pilot", "steering_kd"))
    throttle = traitlets.Float(default("pilot", "throttle"))
    stale_frame_s = traitlets.Float(default("pilot", "stale_frame_s"))
    watchdog_s = traitlets.Float(default("pilot", "watchdog_s"),
                                 help="a frame's deadline, capture to PWM written (real time); 0: off")
    battery_unreadable_s = traitlets.Float(default("battery", "unreadable_stop_s"),
                                           help="stop when the battery monitor is blind this long; 0: off")
    # what the pilot is doing, for widgets and the OLED
    x = traitlets.Float(0.0)
    y = traitlets.Float(0.0)
    fps = traitlets.Float(0.0)
    latency_ms = traitlets.Float(0.0)
    status = traitlets.Unicode("idle")
    stop_reason = traitlets.Unicode("")
    frames = traitlets.Int(0)
    dropped_frames = traitlets.Int(0)
    overruns = traitlets.Int(0)

    def __init__(self, car, camera, engine=None, policy=None, law=None, battery=None, clock=None,
                 telemetry=None, loop_hz=None, road_monitor=None, speed_from_model=None, **traits):
        # None: the profile schema's [pilot] loop_hz / speed_from_model
        loop_hz = default("pilot", "loop_hz") if loop_hz is None else loop_hz
        if speed_from_model is None:
            speed_from_model = default("pilot", "speed_from_model")
        # plain attributes first: the trait observers below use them while traits are set
        self.car = car
        self.camera = camera
        self.engine = engine
        self.law = law or ControlLaw()
        #: what drives: the given policy, or the engine through the control law (None: only manual)
        self.policy = policy if policy is not None or engine is None else ModelPolicy(
            engine, self.law, road_monitor=road_monitor, speed_from_model=speed_from_model)
        self.battery = battery
        self.clock = clock or getattr(camera, "clock", None) or time.monotonic
        self.telemetry = telemetry or Telemetry(status_period_s=0)
        self.loop_period = 1.0 / loop_hz if loop_hz else 0.0
        self._act_lock = threading.RLock()
        super().__init__(**traits)
        if engine is None and policy is None and self.mode in ("steer", "auto"):
            raise ValueError("a pilot in %s mode needs an engine or a policy" % self.mode)
        self._sync_law()
        self._last_seq = -1
        self._stop_requested = None
        self._battery_warned = False
        self._battery_error_warned = False
        self._fps_t0, self._fps_n = time.monotonic(), 0
        self._last_stamp = None
        self._battery_blind_since = None
        #: callables run after every frame written (guardian heartbeat, systemd keep-alive); one that
        #: returns False stops the run with "watchdog"
        self.keepalives = []
        self.watchdog = None

    @classmethod
    def from_profile(cls, profile, car, camera, engine=None, policy=None, battery=None, clock=None, mode=None,
                     telemetry=None):
        p = profile.pilot
        law = ControlLaw.from_profile(p)
        telemetry = telemetry or Telemetry(log_path=p["log_path"], status_period_s=p["status_period_s"])
        monitor = None
        if engine is not None and policy is None and p["road_monitor"]:
            from .road_monitor import RoadMonitor, monitor_applies

            if monitor_applies(engine):
                monitor = RoadMonitor.from_profile(engine, p)
        return cls(car, camera, engine=engine, policy=policy, law=law, battery=battery, clock=clock,
                   telemetry=telemetry, loop_hz=p["loop_hz"], mode=mode or p["mode"], road_monitor=monitor,
                   speed_from_model=p["speed_from_model"],
                   steering_gain=p["steering_gain"], steering_bias=p["steering_bias"], steering_kd=p["steering_kd"],
                   throttle=p["throttle"], stale_frame_s=p["stale_frame_s"], watchdog_s=p["watchdog_s"],
                   battery_unreadable_s=profile.battery["unreadable_stop_s"])

    @property
    def model(self):
        """The :class:`~jetracer.drive.policies.ModelPolicy` driving, or None (another policy or none)."""
        return self.policy if isinstance(self.policy, ModelPolicy) else None

    @property
    def road_monitor(self):
        """The road monitor watching the model's predictions, or None."""
        return self.model.road_monitor if self.model is not None else None

    @property
    def model_throttle(self):
        """True when the model's own throttle output sets the speed."""
        return self.model is not None and self.model.model_throttle

    # -- live tuning (sliders link to these traits) ----------------------------------------------
    @traitlets.validate("mode")
    def _check_mode(self, proposal):
        if proposal["value"] not in MODES:
            raise traitlets.TraitError("mode must be one of %s, got %r" % (", ".join(MODES), proposal["value"]))
        return proposal["value"]

    @traitlets.observe("mode")
    def _mode_changed(self, change):
        log.info("mode %s -> %s", change["old"], change["new"])
        self.law.reset()
        self.telemetry.event("mode", old=change["old"], new=change["new"])
        if change["new"] == "stopped":
            self._neutral()

    @traitlets.observe("steering_gain", "steering_bias", "steering_kd", "throttle")
    def _gains_changed(self, change):
        self._sync_law()

    def _sync_law(self):
        self.law.steering_gain = self.steering_gain
        self.law.steering_bias = self.steering_bias
        self.law.steering_kd = self.steering_kd
        self.law.throttle = self.throttle

    # -- stopping --------------------------------------------------------------------------------
    def estop(self, reason=StopReason.ESTOP):
        """Latched stop: neutral now, mode ``stopped`` until someone picks another mode."""
        log.warning("e-stop: %s", reason)
        self.telemetry.event("estop", reason=reason)
        with self._act_lock:
            self.mode = "stopped"
            self._neutral()

    def request_stop(self, reason=StopReason.REQUESTED):
        """Ask :meth:`run` to end after the current frame (thread-safe)."""
        self._stop_requested = reason

    def _neutral(self):
        """Throttle 0, written to the chip even if the trait already says 0 (a failed write leaves
        the trait at the new value and the chip at the old pulse)."""
        for attempt in (1, 2):
            try:
                self.car.throttle = 0.0
                self.car.apply()
                return
            except Exception as exc:  # noqa: BLE001 - logged; retried once, then close paths retry
                log.error("could not write neutral throttle (attempt %d): %s", attempt, exc)

    # -- one frame ---------------------------------------------------------------------------------
    def process(self, frame):
        """Act on one frame; returns its telemetry record. Raises Fault on engine/I2C faults."""
        t_start = time.perf_counter()
        rec = {"seq": frame.seq, "t": frame.timestamp, "mode": self.mode,
               "capture_age_ms": max(0.0, (self.clock() - frame.timestamp) * 1000.0)}
        steering = throttle = None
        model = self.model
        if model is not None:
            model.watch_road = self.mode in ("steer", "auto")
        if self.policy is not None:
            try:
                steering, throttle = self.policy(frame)
            except Fault:
                raise
            except Exception as exc:  # noqa: BLE001 - any policy failure is a fault that stops the car
                raise Fault(StopReason.ENGINE_ERROR, "policy raised %s: %s" % (type(exc).__name__, exc)) from exc
            finally:
                if model is not None:
                    self.x, self.y = model.x, model.y
            if not ControlLaw.finite(steering, throttle):
                raise Fault(StopReason.ENGINE_ERROR,
                            "policy returned a non-finite command (%r, %r)" % (steering, throttle))
            if model is not None:
                rec.update(model.record)
                t_inf = rec.pop("_t_inf")
            else:
                t_inf = time.perf_counter()
                rec.update(preprocess_ms=0.0, inference_ms=(t_inf - t_start) * 1000.0)
        else:
            t_inf = time.perf_counter()

        with self._act_lock:  # an e-stop from another thread can't slip between mode and write
            rec.update(self._decide_and_actuate(steering, throttle, frame))
        t_end, t_ctl = time.perf_counter(), rec.pop("_t_ctl")
        rec["control_ms"] = (t_ctl - t_inf) * 1000.0
        rec["actuation_ms"] = (t_end - t_ctl) * 1000.0
        rec["latency_ms"] = rec["capture_age_ms"] + (t_end - t_start) * 1000.0
        return rec

    def _decide_and_actuate(self, steering, throttle, frame=None):
        """The commands the current mode calls for, written to the car; returns them for telemetry.

        Nothing is written once the watchdog has acted, nor a model's command whose frame went stale
        while it was computed (a slow inference): the car would steer from where it was, not is."""
        mode = self.mode
        self._check_watchdog()
        if frame is not None and mode in ("steer", "auto"):
            age = self.clock() - frame.timestamp
            if age > self.stale_frame_s:
                raise Fault(StopReason.STALE_FRAME, "command from a frame %.3f s old not written (limit %.3f s)" % (
                    age, self.stale_frame_s))
        if mode == "stopped":
            steering, throttle = 0.0, 0.0
        elif mode == "manual":
            steering, throttle = self.manual_steering, self.manual_throttle
        elif mode == "steer":
            steering, throttle = steering or 0.0, self.law.limit_throttle(self.manual_throttle)
        elif steering is None:  # auto with nothing to follow
            steering, throttle = 0.0, 0.0
        t_ctl = time.perf_counter()
        self._actuate(steering, throttle)
        if self._watchdog_tripped():  # it acted while this write was under way: ours came too late
            self._neutral()
            self._check_watchdog()
        return {"steering": round(steering, 5), "throttle": round(throttle, 5), "_t_ctl": t_ctl}

    def waiting_for_next_frame(self, frame):
        """True when ``frame`` is the one last acted on and still within the stale limit: a loop that
        comes round faster than the camera waits for the next frame, where :meth:`act_on` would take
        the repeat as a camera that stopped (and e-stop)."""
        return frame is not None and frame.seq == self._last_seq and \
            self.clock() - frame.timestamp <= self.stale_frame_s

    def act_on(self, frame):
        """One step for loops other than :meth:`run` (teleop, notebooks): act on ``frame`` only if
        it is new and fresh. A missing, stale or repeated frame while the model drives (``steer``
        or ``auto``) e-stops the pilot: the same watchdog as :meth:`run`, latched. In ``manual``
        the person drives without the camera. Returns the telemetry record, or None.
        Engine faults raise like :meth:`process` (the caller decides who takes over)."""
        if self._watchdog_tripped():
            if self.mode != "stopped":
                self.estop("watchdog: %s" % self._watchdog_reason())
            return None
        problem = "no camera frame" if frame is None else self._frame_problem(frame)
        new = frame is not None and frame.seq != self._last_seq
        if problem or not new:
            if self.mode in ("steer", "auto"):
                self.estop("stale_frame: %s" % (problem or "frame not new (seq %d)" % frame.seq))
            elif self.mode == "manual":
                self._actuate(self.manual_steering, self.manual_throttle)
            return None
        try:
            return self._act_and_record(frame)
        except Fault as fault:
            if fault.reason not in (StopReason.STALE_FRAME, StopReason.WATCHDOG):
                raise
            self.estop("%s: %s" % (fault.reason, fault))
            return None

    def _act_and_record(self, frame):
        """Process a new frame and account for it (dropped frames before it, telemetry, fps)."""
        if self._last_seq >= 0 and frame.seq > self._last_seq + 1:
            self.dropped_frames += frame.seq - self._last_seq - 1
        self._last_seq = frame.seq
        self._last_stamp = frame.timestamp
        rec = self.process(frame)
        self.frames += 1
        self.telemetry.record(rec)
        self.latency_ms = rec["latency_ms"]
        self._update_fps()
        return rec

    def _actuate(self, steering, throttle):
        """Write both commands; one retry on an I2C error (forcing the write), then a fault."""
        try:
            self.car.steering = steering
            self.car.throttle = throttle
            return
        except traitlets.TraitError as exc:  # a non-finite manual command: the car refused it
            raise Fault(StopReason.ENGINE_ERROR, str(exc)) from exc
        except Exception as exc:  # noqa: BLE001 - OSError usually; a bus library may raise anything
            log.warning("I2C write failed (%s: %s); retrying once", type(exc).__name__, exc)
        try:
            self.car.apply()  # the traits hold the new commands; write them even though unchanged
        except Exception as exc:  # noqa: BLE001 - a fault with its stop reason, never a traceback
            raise Fault(StopReason.I2C_ERROR, "I2C write failed twice: %s: %s" % (type(exc).__name__, exc)) from exc

    # -- the loop ----------------------------------------------------------------------------------
    def _next_frame(self):
        """The newest frame not yet acted on, or None if none arrived within the stale limit."""
        try:
            if getattr(self.camera, "running", False):
                timeout = self.stale_frame_s
                if self._last_seq < 0:  # sensors take a second or two to deliver their first frame
                    timeout = max(timeout, getattr(self.camera, "first_frame_timeout_s", timeout))
                return self.camera.wait_frame(self._last_seq, timeout=timeout)
            frame = self.camera.read_frame()
        except CameraError as exc:
            raise Fault(StopReason.STALE_FRAME, str(exc)) from exc
        return frame if frame is not None and frame.seq != self._last_seq else None

    def _check_battery(self):
        state = getattr(self.battery, "state", "ok") if self.battery is not None else "ok"
        if state == "critical":
            percent = getattr(self.battery, "percent", "?")
            raise Fault(StopReason.BATTERY, "battery critical (%s%%): stopping" % percent)
        if state == "low" and not self._battery_warned:
            self._battery_warned = True
            log.warning("battery low (%s%%): drive home", getattr(self.battery, "percent", "?"))
        error = getattr(self.battery, "error", "") if self.battery is not None else ""
        if error and not self._battery_error_warned:
            self._battery_error_warned = True  # once: the OLED keeps showing "no reading"
            log.warning("battery monitor is not reading (%s): the low-battery stop is not active; "
                        "stopping in %.0f s unless it reads again", error,
                        self.battery_unreadable_s)
        self._check_battery_blind(error)

    def _check_battery_blind(self, error):
        """A monitor that cannot read cannot see a pack running flat: after ``battery_unreadable_s``
        of errors (or of no new reading at all) the car stops, in real time and lockstep alike."""
        if self.battery is None or self.battery_unreadable_s <= 0:
            return
        reading, clock = getattr(self.battery, "last_reading", None), getattr(self.battery, "clock", None)
        silent = (isinstance(reading, dict) and callable(clock) and "time" in reading and
                  clock() - reading["time"] > self.battery_unreadable_s)
        if not (error or silent):
            self._battery_blind_since = None
            return
        now = self.clock()
        if self._battery_blind_since is None:
            self._battery_blind_since = now
        if silent or now - self._battery_blind_since >= self.battery_unreadable_s:
            raise Fault(StopReason.BATTERY_UNREADABLE, "battery monitor blind for %.0f s (%s): stopping" % (
                max(now - self._battery_blind_since, self.battery_unreadable_s), error or "no new reading"))

    def run(self, should_stop=None, before_frame=None, after_frame=None):
        """Drive until ``should_stop()`` returns a reason, a fault, or a signal; return the reason.

        ``should_stop`` is polled before each frame: a :class:`~jetracer.drive.stop.StopCondition`
        (laps, duration, time cap) or any callable returning a :class:`StopReason` value or None.
        In the simulator's lockstep the world moves only when told to, once per frame: either
        before each frame is fetched (``before_frame``, as ``jetracer drive`` does: the loop first
        lets the last command act, then looks) or after each frame's command is written
        (``after_frame``, as collection does: look at where the car was put, act, then move).
        The car is at neutral when this returns or raises.
        """
        self.stop_reason = ""
        self._stop_requested = None
        self._battery_blind_since = None
        self.status = "driving"
        self._start_watchdog()
        try:
            while True:
                reason = self._stop_requested or (should_stop() if should_stop else None)
                if reason:
                    self.stop_reason = reason
                    break
                if before_frame is not None:
                    before_frame()
                self._check_battery()
                t0 = time.perf_counter()
                frame = self._next_frame()
                now = self.clock()
                if frame is None:
                    raise Fault(StopReason.STALE_FRAME, "no new camera frame within %.3f s" % self.stale_frame_s)
                problem = self._frame_problem(frame, now)
                if problem:
                    raise Fault(StopReason.STALE_FRAME, problem)
                self._arm_frame(now - frame.timestamp)
                self._act_and_record(frame)
                self._frame_done()
                if after_frame is not None:
                    after_frame()
                self.telemetry.maybe_status(self.status_line)
                elapsed = time.perf_counter() - t0
                if self.loop_period:
                    if elapsed > self.loop_period:
                        self.overruns += 1
                    else:
                        time.sleep(self.loop_period - elapsed)
        except Fault as fault:
            self.stop_reason = fault.reason
            log.error("stopping: %s", fault)
            self.telemetry.event("fault", reason=fault.reason, detail=str(fault))
        except (StopSignal, KeyboardInterrupt) as exc:
            self.stop_reason = StopReason.SIGNAL
            log.warning("stopping: %s", exc or "interrupted")
        finally:
            if self.watchdog is not None and self.watchdog.tripped:
                self.stop_reason = StopReason.WATCHDOG  # the cause, whatever ended the loop afterwards
            self._stop_watchdog()
            self._neutral()
            try:
                self.car.neutral()  # steering centred too, now that the run is over
            except Exception as exc:  # noqa: BLE001 - throttle is already neutral (or logged)
                log.error("could not centre the steering: %s", exc)
            self.status = "stopped: %s" % (self.stop_reason or StopReason.ERROR)
        return self.stop_reason

    def _frame_problem(self, frame, now=None):
        """Why ``frame`` must not be acted on (stale, from the future, older than the last), or ''."""
        now = self.clock() if now is None else now
        age = now - frame.timestamp
        if age > self.stale_frame_s:
            return "newest frame is %.3f s old (limit %.3f s)" % (age, self.stale_frame_s)
        if age < -FUTURE_TOLERANCE_S:
            return "frame stamped %.3f s in the future: the camera's clock is not the pilot's" % -age
        if self._last_stamp is not None and frame.timestamp < self._last_stamp:
            return "camera timestamps went backwards by %.3f s" % (self._last_stamp - frame.timestamp)
        return ""

    # -- watchdog: deadlines the loop must meet, kept by a thread that needs nothing from it -------
    def _start_watchdog(self):
        """Start the deadline thread for :meth:`run` (once per pilot; reset for each run)."""
        if self.watchdog is None and self.watchdog_s > 0:
            from .guardian import RegisterWriter
            from .watchdog import FrameWatchdog

            try:
                writer = RegisterWriter(self.car.i2c, self.car.neutral_outputs())
            except (AttributeError, OSError, ValueError) as exc:
                log.warning("no second I2C handle for the watchdog (%s): relying on the guardian", exc)
                return
            self.watchdog = FrameWatchdog(writer).start()
        if self.watchdog is not None:
            self.watchdog.reset()

    def start_watchdog(self):
        """The deadline thread for a loop other than :meth:`run` that arms it itself (the web app's
        control loop, every pass): :meth:`act_on` and each write honour its trips. None when the
        car's bus has no second handle or ``watchdog_s`` is 0."""
        self._start_watchdog()
        return self.watchdog

    def _stop_watchdog(self):
        if self.watchdog is not None:
            self.watchdog.disarm()

    def close_watchdog(self):
        """Stop the deadline thread and close its bus handle (sessions call this when done)."""
        if self.watchdog is not None:
            self.watchdog.stop()
            self.watchdog.write_neutral.close()
            self.watchdog = None

    def _arm_frame(self, capture_age):
        """This frame's PWM must be written within ``watchdog_s`` of its capture (the first frame is
        exempt: the throttle is still neutral, and first inferences warm caches and CUDA)."""
        if self.watchdog is not None and self.frames > 0 and self.mode != "stopped":
            budget = max(0.0, self.watchdog_s - max(0.0, capture_age))
            self.watchdog.arm(self.watchdog.clock() + budget, "frame")

    def _frame_done(self):
        """Written: the next frame must come within the stale limit and be acted on within the
        watchdog limit; then the keep-alives (guardian heartbeat, systemd) hear that we live."""
        if self.watchdog is not None:
            if self.mode == "stopped":
                self.watchdog.disarm()
            else:
                self.watchdog.arm(self.watchdog.clock() + self.stale_frame_s + self.watchdog_s, "loop")
        for keepalive in self.keepalives:
            if keepalive() is False:
                raise Fault(StopReason.WATCHDOG, getattr(getattr(keepalive, "__self__", None), "reason", "")
                             or "a keep-alive asked to stop")

    def _watchdog_tripped(self):
        return self.watchdog is not None and self.watchdog.check()

    def _watchdog_reason(self):
        return self.watchdog.reason if self.watchdog is not None else ""

    def _check_watchdog(self):
        if self._watchdog_tripped():
            raise Fault(StopReason.WATCHDOG, "watchdog wrote neutral: %s" % self._watchdog_reason())

    def _update_fps(self):
        self._fps_n += 1
        now = time.monotonic()
        if now - self._fps_t0 >= 1.0:
            self.fps = self._fps_n / (now - self._fps_t0)
            self._fps_t0, self._fps_n = now, 0

    def status_line(self):
        lat = self.telemetry.stages["latency_ms"]
        return "[%s] frames %d (dropped %d) %.1f fps | x %+.2f -> steer %+.2f thr %+.2f | latency p50 %s p99 %s ms" % (
            self.mode, self.frames, self.dropped_frames, self.fps, self.x, self.car.steering, self.car.throttle,
            _fmt(lat.p(50)), _fmt(lat.p(99)))

    def summary(self):
        """The pilot's half of the metrics JSON."""
        stages = self.telemetry.summary()
        return {"frames": self.frames, "dropped_frames": self.dropped_frames, "overruns": self.overruns,
                "stop_reason": self.stop_reason,
                "control_latency_ms": {"p50": stages["latency_ms"]["p50"], "p99": stages["latency_ms"]["p99"]},
                "stage_ms": {k: v for k, v in stages.items() if k != "latency_ms"}}


def _fmt(value):
    return "-" if value is None else "%.1f" % value
