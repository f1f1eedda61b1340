"""One notebook's hardware: the car, its camera and (in the simulator) the world, with the safety net.

The same cells run on the car and against the simulator: the session's :class:`~jetracer.rig.Rig`
builds an ``NvidiaRacecar`` on the real I2C bus, or on the simulator's virtual bus (the simulated
car moves from the PWM the driver wrote), and the profile's camera or the simulator's; nothing
here asks which. Opening a session closes the one
opened before in this kernel (re-running a cell must not fail on a camera that is still open), and
``close()`` releases the camera so the next notebook can open it.

Two clocks, as in :mod:`jetracer.sim.world`: ``live()`` runs the physics and the camera in real
time (a person at the page); ``advance(seconds)`` and ``run_pilot(pilot, seconds)`` step the
simulator in lockstep (tests, and reproducible experiments). With ``[battery] enabled`` the
session's :class:`~jetracer.status.battery.BatteryMonitor` (the INA219, or its twin in the simulator)
follows the same clock, and every pilot it makes stops the car on a critical pack.
"""

import logging
import sys
import threading
import time

from ..drive.stop import StopReason
from ..rig import RigParts
from .env import in_ci
from .safety import Guard, Heartbeat

__all__ = ["Session", "open_session", "PilotRunner"]

log = logging.getLogger(__name__)

_CURRENT = []  # the open session of this kernel (held, so it can still be closed when a cell is re-run)


def _say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class PilotRunner:
    """Runs ``pilot.run()`` in a background thread so the kernel stays free for widgets.

    ``stop()`` ends the loop (the pilot leaves the car at neutral); ``stop_reason`` says why it
    ended (``requested``, ``stale_frame``, ``engine_error``...).
    """

    def __init__(self, pilot, before_frame=None, name="pilot"):
        self.pilot = pilot
        self.before_frame = before_frame
        self.stop_reason = ""
        self.error = None
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    @property
    def running(self):
        return self._thread.is_alive()

    def _run(self):
        try:
            self.stop_reason = self.pilot.run(should_stop=lambda: StopReason.REQUESTED if self._halt.is_set() else None,
                                              before_frame=self.before_frame)
        except Exception as exc:  # noqa: BLE001 - pilot.run already left the car at neutral; keep the reason
            self.error = exc
            self.stop_reason = "error: %s" % exc
            log.error("pilot thread ended: %s", exc)
        if self.stop_reason not in (StopReason.REQUESTED, ""):
            _say("pilot stopped: %s" % self.stop_reason)

    def stop(self, timeout=3.0):
        self._halt.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        return self.stop_reason


class Session(RigParts):
    """The car, camera and world a notebook uses. See the module docstring.

    ``sim``: the simulator (True) or the car (False). ``profile``: name or path (default ``sim``
    in the simulator, else ``$JETRACER_PROFILE`` or the LaTrax car). ``car``/``camera``: build
    them (data collection on the car needs no car object: you push it by hand). ``live``: start
    the camera (and the simulator's physics) in real time now (default: yes, except in CI, which
    steps the simulator in lockstep). ``heartbeat``: stop the car when the browser goes away
    (default: on when there is a car, except in CI where no browser exists).
    """

    def __init__(self, sim=True, profile=None, track=None, seed=0, car=True, camera=True, live=None, heartbeat=None,
                 heartbeat_timeout_s=2.0, heartbeat_first_s=15.0, guard=True, guardian=None):
        from ..profile import load_profile
        from ..rig import Rig

        _close_current()
        self.profile = load_profile(profile or ("sim" if sim else None), sim=bool(sim))
        self.rig = None
        self.guard = None
        self.heartbeat = None
        self.guardian = None
        self.pilots = []
        self.runners = []
        self.views = []
        self._closers = []
        self.closed = False
        self.stop_reason = ""
        self._lock = threading.RLock()
        try:
            # no car, no battery monitor: collecting data by pushing the car needs neither
            self.rig = Rig(self.profile, sim=sim, track=track, seed=seed, car=car, camera=camera,
                           battery=None if car else False, persistent_bus=True)
            self.rig.start_monitors()  # on the car at once; in the simulator when it goes live
            self.guard = Guard(self.stop).install() if guard else None
            if heartbeat is None:
                heartbeat = self.car is not None and not in_ci()
            self.heartbeat = Heartbeat(self._heartbeat_lapsed, timeout_s=heartbeat_timeout_s,
                                       first_beat_s=heartbeat_first_s) if heartbeat else None
            self.rig.add("pilots' watchdogs", self._close_pilot_watchdogs)
            self.guardian = self._start_guardian(guardian)
            if self.guardian is not None:
                self.rig.add("guardian", self.guardian)  # after the car wrote neutral: a clean goodbye
        except BaseException:
            self._release()
            raise
        self.stop_widget = None
        _CURRENT[:] = [self]
        _say(self.describe())
        if live is None:
            live = not in_ci()
        if live:
            self.live()

    def _start_guardian(self, wanted):
        """A guardian process beaten by a thread of this kernel: a kernel that freezes, holds the
        GIL or dies leaves the car at neutral (``guardian``: default the profile's pilot.guardian)."""
        from ..drive.guardian import BeatThread, neutral_plan

        p = self.profile.pilot
        if self.car is None or not (p["guardian"] if wanted is None else wanted):
            return None
        plan = neutral_plan(self.car)
        if plan is None:
            return None
        return BeatThread(plan, limit_s=p["watchdog_s"], on_trip=self.stop, outputs_off=p["guardian_outputs_off"],
                          name="notebook").start()

    # -- the rig's parts ---------------------------------------------------------------------------
    @property
    def sim(self):
        """True in the simulator (as :func:`~jetracer.rig.wants_sim` decided)."""
        return self.rig is not None and self.rig.sim

    @property
    def clock(self):
        """The car's clock: the simulator's virtual time, else ``time.monotonic``."""
        return self.rig.clock

    def describe(self):
        return self.rig.describe()

    def _close_pilot_watchdogs(self):
        for pilot in self.pilots:
            pilot.close_watchdog()

    # -- time ------------------------------------------------------------------------------------
    def live(self):
        """Real time: the simulator's physics thread and the camera's capture thread run."""
        self.rig.start_realtime()
        return self

    def pause(self):
        """Back to lockstep (the simulator) / stop capturing (the car)."""
        self.rig.stop_realtime()

    @property
    def realtime(self):
        """True while time runs by itself (the car, or the simulator after :meth:`live`)."""
        return not self.rig.lockstep

    def wait(self, seconds):
        """Let ``seconds`` pass for the car: sleep in real time, step the simulator in lockstep."""
        if self.realtime:
            time.sleep(seconds)
        else:
            self.advance(seconds)

    def run_loop(self, step, seconds=None, period_s=0.05):
        """``step()`` every ``period_s`` (until it returns True, ``seconds`` pass, or "Interrupt
        kernel"), then neutral. The heartbeat pauses meanwhile: a running cell cannot hear the page."""
        from .safety import run_loop

        if self.heartbeat is not None:
            self.heartbeat.pause()
        try:
            return run_loop(step, seconds=seconds, period_s=period_s, on_exit=lambda: self.stop("loop ended"),
                            clock=self.clock, sleep=self.wait)
        finally:
            if self.heartbeat is not None:
                self.heartbeat.resume()

    def status(self):
        """One line: where the simulated car is and how fast, and the pulses on the chip."""
        parts = []
        st = self.rig.sim_state()
        if st:
            parts.append("t %.1f s: %.2f m along the track, %.2f m/s, %.2f m off the centreline%s" % (
                st["time"], st["s"], st["speed"], abs(st["cte"]), " (OFF TRACK)" if st["off_track"] else ""))
        if self.car is not None:
            parts.append(", ".join("%s %s" % kv for kv in sorted(self.pulses().items())))
        return " | ".join(parts)

    def advance(self, seconds):
        """Lockstep: step the simulator ``seconds`` under the PWM now on the chip (no-op on the car)."""
        try:
            self.rig.advance(seconds)
        except RuntimeError:
            raise RuntimeError("the simulator runs in real time (live()); call pause() before advance()") from None

    def view(self, overlay=None, fps=12.0):
        """A :class:`~jetracer.notebook.widgets.LiveView` of the camera, stopped with the session."""
        from .widgets import LiveView

        view = LiveView(self.camera, fps=fps, overlay=overlay)
        self.views.append(view)
        return view

    def controls(self, *children):
        """The stop button and the heartbeat above ``children``: display it once, keep it on the page."""
        from .widgets import controls

        box = controls(self, *children)
        self.stop_widget = box.children[0]
        return box

    def find_model(self, *candidates):
        """The first existing file among ``candidates``, else the profile's ``[engine] path``
        (relative to this folder or to the checkout holding the profile); None when there is none."""
        from pathlib import Path

        paths = [Path(c) for c in candidates if c]
        configured = self.profile.engine["path"]
        if configured:
            paths.append(self.profile.resolve_path(configured))
        return next((p for p in paths if p.is_file()), None)

    # -- pilots ----------------------------------------------------------------------------------
    def make_pilot(self, engine=None, policy=None, mode="stopped", **traits):
        """A :class:`~jetracer.drive.pilot.Pilot` for this car and camera, configured from the profile."""
        from ..drive.pilot import Pilot

        pilot = Pilot.from_profile(self.profile, self.car, self.camera, engine=engine, policy=policy,
                                   battery=self.battery, clock=self.clock, mode=mode)
        for name, value in traits.items():
            setattr(pilot, name, value)
        self.pilots.append(pilot)
        return pilot

    def start_pilot(self, pilot):
        """Drive in the background, in real time (the kernel stays free for the sliders). One car,
        one loop: a runner still going (the cell run twice) is stopped first."""
        self._stop_runners()
        self.live()
        runner = PilotRunner(pilot).start()
        self.runners.append(runner)
        return runner

    def _stop_runners(self):
        for runner in list(self.runners):
            if runner.running:
                _say("stopping the pilot loop already running")
                runner.stop()
        self.runners = [r for r in self.runners if r.running]

    def run_pilot(self, pilot, seconds, should_stop=None):
        """Drive in the foreground for ``seconds`` of simulated time, in lockstep (tests, reproducible
        runs); on the car, ``seconds`` of wall time. Returns the pilot's stop reason. The heartbeat
        pauses meanwhile (a running cell cannot hear the page); a background loop is stopped first."""
        if pilot not in self.pilots:
            self.pilots.append(pilot)
        self._stop_runners()
        if self.heartbeat is not None:
            self.heartbeat.pause()
        try:
            if self.rig.to_lockstep():
                clock = self.rig.clock
                end = clock() + seconds

                def until():
                    if should_stop is not None and should_stop():
                        return should_stop()
                    return StopReason.DURATION if clock() >= end - 1e-9 else None
                limit = pilot.watchdog_s
                pilot.watchdog_s = self.rig.lockstep_watchdog_s(limit)
                try:
                    return pilot.run(should_stop=until, before_frame=self.rig.step)
                finally:
                    pilot.watchdog_s = limit
            end = time.monotonic() + seconds
            self.live()
            return pilot.run(should_stop=lambda: StopReason.DURATION if time.monotonic() >= end else (
                should_stop() if should_stop is not None else None))
        finally:
            if self.heartbeat is not None:
                self.heartbeat.resume()

    # -- stopping --------------------------------------------------------------------------------
    def moving(self):
        """True when the throttle (or a pilot in a driving mode) could move the car."""
        if any(p.mode != "stopped" for p in self.pilots):
            return True
        return self.car is not None and self.car.throttle != 0.0

    def stop(self, reason="stop", halt=False):
        """Neutral now: every pilot e-stopped (mode ``stopped``), the car's throttle at zero.
        ``halt`` also ends the background loops. Says so when something was moving."""
        with self._lock:
            was_moving = self.moving()
            self.stop_reason = reason
            for pilot in self.pilots:
                try:
                    pilot.estop(reason)
                except Exception as exc:  # noqa: BLE001 - keep stopping the rest
                    log.error("e-stop of %r failed: %s", pilot, exc)
            if self.car is not None:
                try:
                    self.car.neutral()
                except Exception as exc:  # noqa: BLE001
                    log.error("could not put the car at neutral: %s", exc)
        if halt:
            for runner in list(self.runners):
                runner.stop()
        if was_moving or halt:
            _say("car stopped: %s" % reason)
        return was_moving

    def _heartbeat_lapsed(self, reason):
        self.stop(reason)

    def pulses(self):
        """Pulse widths on the car's steering and throttle pins, read back from the PCA9685."""
        if self.car is None:
            return {}
        return self.car.pulse_widths_us()

    def on_close(self, fn):
        """Call ``fn()`` when the session closes (before the car and camera are released)."""
        self._closers.append(fn)
        return fn

    def close(self):
        """Stop everything, put the car at neutral and release the camera (safe to call twice)."""
        if self.closed:
            return
        self.closed = True
        for runner in list(self.runners):
            runner.stop()
        for view in self.views:
            view.stop()
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception as exc:  # noqa: BLE001 - keep closing the rest
                log.error("closing: %s", exc)
        self._release()
        if _CURRENT and _CURRENT[0] is self:
            del _CURRENT[:]
        _say("session closed: camera released%s" % (
            ", car at neutral %s" % self._final_pulses if getattr(self, "_final_pulses", None) else ""))

    def _release(self):
        """Heartbeat and guard off, then the rig's one teardown: car at neutral first, the
        guardian's clean goodbye, the pilots' watchdogs, battery monitor, camera, car, world."""
        if self.heartbeat is not None:
            self.heartbeat.close()
        if self.guard is not None:
            self.guard.uninstall()
        self._final_pulses = None
        if self.rig is None:
            return
        self.rig.neutral()
        self._final_pulses = self.rig.pulse_widths_us()
        self.rig.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _close_current():
    if _CURRENT:
        previous = _CURRENT[0]
        if not previous.closed:
            _say("closing the previous session first")
            previous.close()
        del _CURRENT[:]


def open_session(sim=True, **kwargs):
    """``Session(sim, **kwargs)``: see :class:`Session`."""
    return Session(sim, **kwargs)
