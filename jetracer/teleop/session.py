"""A teleop session: pad reader + controller + car (+ pilot, camera, recorder), on a rig.

The loop polls the pad, checks the dead-man, and once per camera period lets the pilot act on the
newest frame (:meth:`Pilot.act_on`: a stalled camera e-stops a pilot that steers), records, lets
the rig's time move (:meth:`~jetracer.rig.Rig.step`: the simulator's physics and battery in
lockstep, nothing on the car) and watches the battery. Used by ``jetracer teleop``; every exit
path leaves the throttle neutral, and :meth:`TeleopSession.close` is the rig's one teardown.
"""

import logging
import sys
import time

from ..drive.stop import StopReason
from .controller import TeleopController
from .device import GamepadReader

__all__ = ["TeleopSession"]

log = logging.getLogger(__name__)


class TeleopSession:
    """Owns everything a teleop run needs; ``run(duration=None)`` drives until stopped."""

    def __init__(self, profile, car, reader, pilot=None, camera=None, rig=None, recorder=None, mapping=None,
                 record_root=None, camera_factory=None, battery=None, out=None, clock=time.monotonic,
                 sleep=time.sleep):
        """``rig``: the :class:`~jetracer.rig.Rig` that built ``car`` (its battery monitor, clock and
        teardown are the session's); without one, the given ``car``, ``camera`` and ``battery``
        (a :class:`~jetracer.status.battery.BatteryMonitor`: critical latches the e-stop) are wrapped in one."""
        from ..rig import Rig

        self.profile, self.car, self.reader, self.pilot = profile, car, reader, pilot
        self.rig = rig if rig is not None else Rig.around(profile, car=car, camera=camera, battery=battery)
        self.camera, self.recorder = camera, recorder
        self.battery = self.rig.battery
        self.record_root = record_root
        self.camera_factory = camera_factory  # opens the camera the first time recording needs it
        self.out = out or sys.stdout
        self.clock, self.sleep = clock, sleep
        self.teleop = TeleopController.from_profile(profile, pilot if pilot is not None else car, mapping=mapping,
                                                    clock=clock)
        self.period = self.rig.frame_period
        self.frames = 0
        self.recorded = 0
        self._battery_state = "ok"
        self._last_status = 0.0
        self._tty = hasattr(self.out, "isatty") and self.out.isatty()
        self.guardian = None
        self.stop_reason = ""

    def _start_guardian(self):
        """The guardian process, beaten by this loop: a frozen loop gets neutral from outside."""
        from ..drive.guardian import Guardian

        p = self.profile.pilot
        if p["guardian"] and self.guardian is None and hasattr(self.car, "neutral_outputs"):
            self.guardian = Guardian.start(Guardian.plan_for(self.car), limit_s=p["watchdog_s"],
                                           outputs_off=p["guardian_outputs_off"], name="teleop")
            if self.guardian is not None:
                self.rig.add("guardian", self.guardian)  # after neutral: a clean goodbye

    def start(self):
        """Open the pad now: a missing pad is a one-line error before anything moves."""
        self.teleop.handle(self.reader.open())

    def run(self, duration=None):
        t_start = self.clock()
        next_frame = t_start
        self.rig.start_monitors()
        self._start_guardian()
        try:
            while duration is None or self.clock() - t_start < duration:
                if self.guardian is not None and not self.guardian.beat():
                    self.stop_reason = StopReason.WATCHDOG
                    log.error("stopping: %s", self.guardian.reason)
                    break
                wait = max(0.0, min(0.02, next_frame - self.clock()))
                self.teleop.handle_events(self.reader.poll(wait))
                self.teleop.tick()
                if self.clock() >= next_frame:
                    next_frame += self.period
                    if next_frame < self.clock():  # fell behind: do not try to catch up
                        next_frame = self.clock() + self.period
                    self._frame()
                self._status()
        finally:
            self.teleop.neutral()
            if self.pilot is not None:
                self.pilot.manual_throttle = 0.0
            self.car.throttle = 0.0
            if self._tty:
                self.out.write("\n")
        return self.summary()

    def _frame(self):
        """One camera period: pilot, recording, the rig's time (physics and battery in lockstep)."""
        need_frame = self.pilot is not None or self.teleop.recording
        frame = None
        if need_frame and self.camera is None and self.camera_factory is not None:
            self._open_camera()
        if need_frame and self.camera is not None:
            frame = self.rig.newest_frame(self.camera)
        if self.pilot is not None:
            self._pilot_step(frame)
        self._record(frame)
        self.rig.step()
        self._check_battery()
        self.frames += 1

    def _open_camera(self):
        """Open the camera the first time recording needs it; a CSI camera takes seconds, so the
        car waits at neutral (the pad drives again with its next input)."""
        self.teleop.neutral()
        self.car.throttle = 0.0
        try:
            self.camera = self.camera_factory()
            if self.camera is not self.rig.camera:  # opened by someone else's factory: closes with the rig
                self.rig.add("camera", self.camera)
        except Exception as exc:  # noqa: BLE001 - no camera: drive on, without recording
            self.camera_factory = None
            self.teleop.recording = False
            self.teleop.message = "cannot record: %s" % exc

    def _pilot_step(self, frame):
        """Let the pilot act on ``frame``. The loop may come round before the camera delivered the
        next frame: a repeated frame still within the stale limit is skipped (no stall yet); one
        older than that, or none at all, e-stops a pilot that steers (``act_on``)."""
        pilot = self.pilot
        if pilot.mode != "manual" and pilot.waiting_for_next_frame(frame):
            return
        try:
            pilot.act_on(frame)
        except Exception as exc:  # noqa: BLE001 - the autopilot failed: the person keeps the car
            log.error("autopilot failed (%s): driving by hand only", exc)
            pilot.estop("pilot fault")
            self.pilot = None
            self.teleop.target, self.teleop.pilot = self.car, None
            self.teleop.message = "autopilot failed: manual only"
            self.car.throttle = 0.0

    def _check_battery(self):
        """A critical pack latches the e-stop once (releasing it lets you crawl home); low warns."""
        state = getattr(self.battery, "state", "ok") if self.battery is not None else "ok"
        if state == self._battery_state:
            return
        self._battery_state = state
        percent = getattr(self.battery, "percent", 0.0)
        if state == "critical":
            self.teleop.estop("battery critical (%.0f%%): charge it" % percent)
        elif state == "low":
            self.teleop.message = "battery low (%.0f%%): drive home" % percent

    def _record(self, frame):
        if not self.teleop.recording:
            if self.recorder is not None:
                recorder, self.recorder = self.recorder, None
                self.recorded += recorder.count
                try:
                    recorder.close()
                except OSError as exc:
                    log.error("closing the recording: %s", exc)
            return
        if frame is None:
            return
        try:
            if self.recorder is None:
                from .recorder import TeleopRecorder

                self.recorder = TeleopRecorder.from_profile(self.profile, root=self.record_root)
                self.teleop.message = "recording to %s" % self.recorder.root
            self.recorder.record(frame, self.car.steering, self.car.throttle, mode=self.teleop.mode,
                                 scale=self.teleop.throttle_scale)
        except OSError as exc:  # a full disk, a read-only card: stop recording, keep driving
            self.teleop.recording = False
            self.teleop.message = "recording stopped: %s" % exc
            log.error("recording stopped: %s", exc)

    def _status(self):
        now = self.clock()
        if now - self._last_status < (0.2 if self._tty else 1.0):
            return
        self._last_status = now
        line = self.teleop.status_line()
        lap = self.rig.sim_metrics()  # empty on the car
        if lap:
            line += " | sim %.1f s, %.1f m, laps %d" % (lap["sim_time_s"], lap["distance_m"], lap["laps_completed"])
        if self.recorder is not None:
            line += " | rec %d" % self.recorder.count
        if self._tty:
            self.out.write("\r\033[K" + line[:200])
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def summary(self):
        info = {"frames": self.frames, "recorded": self.recorded + (self.recorder.count if self.recorder else 0),
                "final_pwm_us": self.car.pulse_widths_us() if hasattr(self.car, "pulse_widths_us") else None}
        lap = self.rig.sim_metrics()  # empty on the car
        info.update({k: lap[k] for k in ("distance_m", "laps_completed") if k in lap})
        return info

    def close(self):
        """Neutral, the recording and the pad closed, then the rig (guardian, battery, camera, car,
        world: neutral first, each closed whatever the one before did)."""
        try:
            for closer in (self.teleop.neutral, getattr(self.recorder, "close", None), self.reader.close):
                if closer is None:
                    continue
                try:
                    closer()
                except Exception as exc:  # noqa: BLE001 - keep closing the rest
                    log.error("while closing: %s", exc)
        finally:  # Ctrl-C while the recording closes still closes the rig (neutral, guardian, camera)
            self.rig.close()


def open_reader(spec, clock=time.monotonic):
    """The pad reader for ``spec`` (a name, /dev/input path or recorded file; empty: first pad)."""
    return GamepadReader(spec, clock=clock)
