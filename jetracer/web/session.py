"""What the web app drives, and the rules a browser drives it by.

:func:`assemble` asks the :class:`~jetracer.rig.Rig` for the parts a profile describes (car,
camera, battery monitor, the simulated world) and adds a pilot when there is something to steer
with. :class:`WebSession` owns the parts and the control loop thread, and applies the safety rules:

- one controlling page at a time (``claim``); every other page watches;
- the controlling page's messages are its keep-alives: a gap longer than ``deadman_s``, a hidden
  tab or a closed socket releases control, which puts the throttle at neutral (and e-stops a pilot
  in ``auto``); nothing resumes by itself: the page must claim again, and after a claim the throttle
  stays neutral until the page has sent a released throttle (a stale held key never drives);
- e-stop from any logged-in page latches, as the pad's does (:class:`TeleopController`); only the
  controlling page releases it, with the throttle released;
- a stalled camera (no frame for the camera's stale limit) cuts the throttle: the person drives by
  the picture; in ``steer``/``auto`` the pilot's own stale-frame e-stop applies;
- commands are checked here, not in the page: finite numbers in range, known mode names.

The control loop feeds the watchdogs (``watchdogs``: :class:`~jetracer.web.watchdogs.LoopWatchdogs`,
the pilot's deadline thread, the guardian process, systemd) first thing every pass: a pass that
blocks or a frozen process gets neutral from a layer that still runs, and when the loop wakes it
latches the e-stop before it writes anything. ``beat_hooks`` (callables) run at the end of every
pass, for anything else that must see the loop alive.
"""

import logging
import math
import threading
import time
from pathlib import Path

from ..drive.pilot import DRIVING_MODES
from ..rig import RigParts
from ..teleop.controller import TeleopController
from ..teleop.events import PadStatus
from ..teleop.mapping import PadInput

__all__ = ["assemble", "Parts", "WebSession", "WEB_MODES", "CommandError", "check_number"]

log = logging.getLogger(__name__)

#: modes a page may choose: the pilot's driving modes (``stopped`` is what the e-stop gives)
WEB_MODES = DRIVING_MODES
LOOP_PERIOD_S = 0.02


class CommandError(ValueError):
    """A request the server refuses; the text goes back to the page."""


class Parts(RigParts):
    """What :func:`assemble` built: the :class:`~jetracer.rig.Rig` (car, camera, battery monitor,
    the simulated world) and the pilot; ``close()`` is the rig's one teardown (neutral first)."""

    def __init__(self, rig=None):
        self.rig = rig
        self.pilot = None
        self.pilot_name = "none"
        self.can_steer = False

    def close(self):
        if self.rig is not None:
            self.rig.close()


def assemble(profile, sim, track=None, pilot="auto", telemetry_path=""):
    """The rig (car, camera, battery monitor; running in real time) and the pilot for the web app.

    ``pilot``: ``auto`` (the expert in the simulator, else the profile's model when its file exists,
    else none), ``expert``, ``model`` or ``none``. ``telemetry_path``: the pilot's JSONL log (the Runs
    page reads it). What was built is closed again when a later part fails.
    """
    import os

    from ..drive.pilot import Pilot
    from ..drive.telemetry import Telemetry
    from ..rig import Rig

    parts = Parts()
    try:
        parts.rig = Rig(profile, sim=sim, track=track, persistent_bus=True)
        rig = parts.rig.start_realtime()
        engine_path = str(profile.resolve_path(profile.engine["path"])) if profile.engine["path"] else ""
        policy = rig.ground_truth_policy() if pilot in ("auto", "expert") else None
        if pilot == "auto" and policy is None:
            pilot = "model" if engine_path and os.path.isfile(engine_path) else "none"
        engine = None
        if policy is not None:
            parts.pilot_name = "expert"
        elif pilot == "expert":
            from ..errors import JetracerError

            raise JetracerError("--pilot expert drives from the simulator's ground truth: add --sim")
        elif pilot == "model":
            from ..engine import load_engine

            engine = load_engine(engine_path, backend=profile.engine["backend"])
            parts.pilot_name = "%s (%s)" % (engine_path, getattr(engine, "backend", "?"))
        telemetry = rig.add("telemetry", Telemetry(log_path=telemetry_path, status_period_s=0))
        parts.pilot = Pilot.from_profile(profile, rig.car, rig.camera, engine=engine, policy=policy,
                                         battery=rig.battery, clock=rig.clock, mode="manual", telemetry=telemetry)
        parts.can_steer = engine is not None or policy is not None
    except BaseException:
        parts.close()
        raise
    return parts


def check_number(value, name, low, high):
    """``value`` as a float in [low, high], or CommandError (NaN, strings, booleans refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CommandError("%s must be a number, got %r" % (name, value))
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise CommandError("%s must be a finite number in [%g, %g], got %r" % (name, low, high, value))
    return value


class WebSession:
    """The parts plus who controls them. See the module docstring for the rules."""

    def __init__(self, parts, deadman_s=0.5, max_throttle=0.5, throttle_cap=0.25, clock=time.monotonic,
                 watchdogs=None):
        self.parts = parts
        self.pilot = parts.pilot
        self.camera = parts.camera
        self.car = parts.car
        self.deadman_s = float(deadman_s)
        self.max_throttle = float(max_throttle)
        self.clock = clock
        self.teleop = TeleopController(self.pilot, mapping="generic", deadman_s=self.deadman_s,
                                       max_throttle=min(throttle_cap, self.max_throttle), throttle_step=0.01,
                                       clock=clock, keepalive=True)
        self.teleop.mapping.labels["estop_release"] = "the Release button, throttle released"
        self.can_steer = parts.can_steer
        self.controller_id = None
        self.watchdogs = watchdogs  #: fed first thing every pass (LoopWatchdogs)
        self.beat_hooks = []  #: called at the end of every loop pass
        self.release_listeners = []  #: called (client_id, reason) when control is taken from a page
        self._armed = False
        self._last_input = None
        self._battery_state = "ok"
        self._last_heard = clock()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = None
        self.loop_passes = 0
        self.stop_reason = ""

    # -- control ownership -----------------------------------------------------------------------
    def claim(self, client_id):
        """Make ``client_id`` the controlling page if nobody else is; returns True if it now controls."""
        with self._lock:
            if self.controller_id not in (None, client_id):
                return False
            if self.controller_id is None:
                self.controller_id = client_id
                self._armed = False  # nothing moves until the page shows a released throttle
                self._last_heard = self.clock()
                self.teleop.connect(PadStatus.up("browser", {}))
                self.teleop.message = "page %s has control" % client_id
            return True

    def release(self, client_id, reason):
        """Take control from ``client_id`` (if it has it): neutral throttle, auto e-stopped."""
        with self._lock:
            if self.controller_id != client_id or client_id is None:
                return False
            self.controller_id = None
            self._armed = False
            self._last_input = None
            self.teleop.disconnect(reason)
            self.car.throttle = 0.0
        log.info("page %s lost control: %s", client_id, reason)
        for listener in list(self.release_listeners):
            try:
                listener(client_id, reason)
            except Exception as exc:  # noqa: BLE001 - a listener must not stop the release
                log.error("release listener: %s", exc)
        return True

    def heard(self, client_id):
        """Any message from a page; from the controlling page it is the keep-alive."""
        with self._lock:
            if client_id == self.controller_id:
                self._last_heard = self.clock()
                self.teleop.keepalive()

    def _require_control(self, client_id):
        if client_id != self.controller_id:
            raise CommandError("this page does not have control: press Drive")

    def drive(self, client_id, steering, throttle):
        """Stick/keys/gamepad from the controlling page: steering and throttle in [-1, 1]
        (full stick); the throttle is scaled by the cap."""
        steering = check_number(steering, "steering", -1.0, 1.0)
        throttle = check_number(throttle, "throttle", -1.0, 1.0)
        with self._lock:
            self._require_control(client_id)
            self.heard(client_id)
            if not self._armed:
                if throttle != 0.0:
                    throttle = 0.0
                    self.teleop.message = "release the throttle first: a new page never drives off"
                else:
                    self._armed = True
            self._last_input = PadInput(steering, throttle, frozenset())
            self.teleop.update(self._last_input)

    def estop(self, reason="web e-stop"):
        """Latched stop, from any logged-in page."""
        self.teleop.estop(reason)
        self.car.throttle = 0.0

    def release_estop(self, client_id):
        with self._lock:
            self._require_control(client_id)
            if not self.teleop.estopped:
                return
            unguarded = getattr(self.watchdogs, "unguarded", "")
            if unguarded:
                raise CommandError("cannot drive unguarded (%s): restart jetracer web" % unguarded)
            held = self._last_input.throttle if self._last_input is not None else 0.0
            if held != 0.0:  # as with the pad: the throttle must be released to clear the e-stop
                raise CommandError("release the throttle to clear the e-stop")
            self.teleop.update(PadInput(0.0, 0.0, frozenset(["estop_release"])))
            self.teleop.update(PadInput(0.0, 0.0, frozenset()))
            self._armed = False  # and nothing moves until the page shows a released throttle again

    def set_mode(self, client_id, mode):
        if mode not in WEB_MODES:
            raise CommandError("mode must be one of %s, got %r" % (", ".join(WEB_MODES), mode))
        with self._lock:
            self._require_control(client_id)
            if self.teleop.estopped:
                raise CommandError("e-stopped: release it first")
            if mode != "manual" and not self.can_steer:
                raise CommandError("no autopilot in this session (no model file, or --pilot none): manual only")
            self.pilot.mode = mode
            self.teleop.message = "mode: %s" % mode

    def set_cap(self, client_id, value):
        value = check_number(value, "throttle cap", 0.0, self.max_throttle)
        with self._lock:
            self._require_control(client_id)
            self.teleop.throttle_scale = value
            if self._last_input is not None:  # the new cap applies to the held stick now
                self.teleop.update(self._last_input)

    # -- the loop ----------------------------------------------------------------------------------
    def start(self):
        if self.watchdogs is not None:
            self.watchdogs.start()
        self._thread = threading.Thread(target=self._run, name="web-control", daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(LOOP_PERIOD_S):
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - keep the loop (and its dead-man) alive; stop the car
                log.exception("web control loop: %s", exc)
                self.estop("control loop fault: %s" % exc)

    def step(self):
        """One pass: watchdogs, dead-man, camera check, pilot, battery, beats."""
        self._feed_watchdogs()
        with self._lock:
            if self.controller_id is not None and self.clock() - self._last_heard > self.deadman_s:
                silent = self.clock() - self._last_heard
                client = self.controller_id
            else:
                client = None
        if client is not None:
            self.release(client, "no keep-alive for %.2f s (dead-man %.2f s)" % (silent, self.deadman_s))
        self.teleop.tick()
        frame = self.camera.latest()
        stale = frame is None or self.pilot.clock() - frame.timestamp > self.camera.stale_limit_s
        if stale and self.pilot.manual_throttle != 0.0 and self.pilot.mode == "manual":
            self.teleop.neutral()
            self.teleop.message = "camera stalled: throttle neutral"
        self._pilot_step(frame)
        self._check_battery()
        self.loop_passes += 1
        for hook in list(self.beat_hooks):
            hook()

    def _feed_watchdogs(self):
        """Before anything is written: a layer that acted since the last pass (this pass was late)
        latches the e-stop, so a loop that wakes from a hang or a freeze never drives on."""
        if self.watchdogs is None:
            return
        reason = self.watchdogs.beat()
        if reason:
            self.estop("watchdog: %s" % reason)

    def _pilot_step(self, frame):
        """As the teleop session: a repeated but fresh frame is skipped while the model drives."""
        pilot = self.pilot
        if pilot.mode in ("steer", "auto") and pilot.waiting_for_next_frame(frame):
            return
        try:
            pilot.act_on(frame)
        except Exception as exc:  # noqa: BLE001 - the autopilot failed: neutral, manual only
            log.error("autopilot failed (%s): manual only", exc)
            pilot.estop("pilot fault: %s" % exc)
            self.can_steer = False
            self.teleop.estop("autopilot failed")

    def _check_battery(self):
        """A critical pack latches the e-stop once (releasing it lets you crawl home), as in teleop."""
        battery = self.parts.battery
        state = getattr(battery, "state", "ok") if battery is not None else "ok"
        if state == self._battery_state:
            return
        self._battery_state = state
        if state == "critical":
            self.teleop.estop("battery critical (%.0f%%): charge it" % getattr(battery, "percent", 0.0))

    # -- what the pages show -----------------------------------------------------------------------
    def status(self):
        pilot, car, battery = self.pilot, self.car, self.parts.battery
        try:
            pwm = car.pulse_widths_us()
        except Exception:  # noqa: BLE001 - a failing bus shows as no reading
            pwm = None
        info = {"mode": pilot.mode, "estopped": self.teleop.estopped, "deadman": self.teleop.deadman_tripped,
                "armed": self._armed, "controller": self.controller_id, "steering": round(car.steering, 3),
                "throttle": round(car.throttle, 3), "cap": self.teleop.throttle_scale,
                "max_throttle": self.max_throttle, "pwm_us": pwm, "camera_fps": round(self.camera.fps, 1),
                "pilot_fps": round(pilot.fps, 1), "latency_ms": round(pilot.latency_ms, 1),
                "message": self.teleop.message, "can_steer": self.can_steer, "pilot": self.parts.pilot_name,
                "deadman_s": self.deadman_s, "stop_reason": pilot.stop_reason}
        if battery is not None:
            info["battery"] = {"percent": round(battery.percent, 1), "voltage": round(battery.voltage, 2),
                               "state": battery.state, "error": getattr(battery, "error", "")}
        return info

    def warnings(self):
        """The OLED's warning lines (battery, stop reason, stalled camera, heat)."""
        from ..status.display import StatusDisplay

        display = StatusDisplay(battery=self.parts.battery, pilot=self.pilot, camera=self.camera,
                                sysinfo=_NoSysInfo())
        lines = display.warnings({})
        if self.teleop.estopped:
            lines.insert(0, "! E-STOP")
        return lines

    # -- the end -----------------------------------------------------------------------------------
    def close(self):
        """Neutral, stop the loop, release the parts (safe to call twice)."""
        self._stop.set()
        try:
            self.teleop.neutral()
            self.car.throttle = 0.0
        except Exception as exc:  # noqa: BLE001 - keep closing
            log.error("neutral on close: %s", exc)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        try:
            self.pilot.telemetry.event("stop", reason=self.stop_reason or "web closed")
        except Exception:  # noqa: BLE001
            pass
        self._close_watchdogs()
        self.parts.close()

    def _close_watchdogs(self):
        """A clean goodbye once the loop has ended at neutral; a loop still stuck keeps them: the
        guardian then writes neutral when this process ends without one."""
        watchdogs, self.watchdogs = self.watchdogs, None
        if watchdogs is None:
            return
        if self._thread is not None and self._thread.is_alive():
            log.error("the control loop did not end: the guardian stays on guard")
            return
        try:
            watchdogs.close()
        except Exception as exc:  # noqa: BLE001 - keep closing
            log.error("closing the watchdogs: %s", exc)


class _NoSysInfo:
    """The display's warnings need no system snapshot here (the page asks for temperature apart)."""

    def snapshot(self):
        return {}


def default_telemetry_path(runs_dir):
    """A new JSONL file per web session in ``runs_dir`` (created; a one-line error when it cannot be)."""
    import os

    from ..errors import JetracerError

    try:
        os.makedirs(str(runs_dir), exist_ok=True)
    except OSError as exc:
        raise JetracerError("telemetry folder %s: %s (pass another with --runs, or set [web] runs_dir)" % (
            runs_dir, exc.strerror or exc)) from None
    return str(Path(runs_dir) / time.strftime("web-%Y%m%d-%H%M%S.jsonl"))
