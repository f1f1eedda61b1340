"""The watchdogs of issue 16, fed by the web app's control loop.

A drive feeds them from :meth:`Pilot.run`'s frames; the web app drives through
:meth:`Pilot.act_on` from its own 50 Hz control thread, so that thread feeds them, once per pass,
before it writes anything:

- the pilot's deadline thread (:class:`~jetracer.drive.watchdog.FrameWatchdog`), armed for
  ``pilot.watchdog_s`` from each pass: a pass that blocks (an engine call, a camera lock, an I2C
  write that never returns) gets neutral over the thread's own register handle, and the pilot
  writes nothing after it;
- the guardian process (:class:`~jetracer.drive.guardian.Guardian`), beaten each pass: a process frozen
  (SIGSTOP), a C call holding the GIL, or a control thread stuck gets neutral from outside;
- systemd's ``WatchdogSec`` (``Type=notify``): READY on the first pass, a keep-alive per pass,
  STOPPING on close; a frozen server is killed and ``ExecStopPost`` writes neutral.

Unlike a drive, the server does not exit when one of them acts: :meth:`LoopWatchdogs.beat` says
why, the session latches its e-stop (the page shows it; only the controlling page releases it,
throttle released), and a fresh guardian takes over, so the session stays guarded. A guardian that
dies soon after its start (it cannot reach the board) is not restarted: the session is then
``unguarded`` and refuses to release its e-stop, as a drive exits on a fault.
"""

import logging
import time

__all__ = ["LoopWatchdogs"]

log = logging.getLogger(__name__)


class LoopWatchdogs:
    """``start()``, ``beat()`` every pass (returns '' or why a watchdog acted), ``close()``."""

    #: a guardian gone sooner than this after its start is not replaced (it would only die again)
    restart_min_life_s = 10.0

    def __init__(self, pilot, limit_s, guardian=True, outputs_off=False, notifier=None, name="web"):
        self.pilot = pilot
        self.limit_s = float(limit_s)
        self.use_guardian = bool(guardian)
        self.outputs_off = bool(outputs_off)
        self.notifier = notifier
        self.name = name
        self.watchdog = None
        self.guardian = None
        self.trips = 0
        self.unguarded = ""  #: why the guardian is gone for good ('' while it guards)
        self._plan = None
        self._ready = False

    @classmethod
    def from_profile(cls, profile, pilot):
        """The profile's ``pilot.watchdog_s``, ``pilot.guardian`` and ``pilot.guardian_outputs_off``."""
        from ..drive.sdnotify import SystemdNotifier

        p = profile.pilot
        return cls(pilot, p["watchdog_s"], guardian=p["guardian"], outputs_off=p["guardian_outputs_off"],
                   notifier=SystemdNotifier())

    def start(self):
        from ..drive.guardian import neutral_plan

        if self.limit_s <= 0:
            return self  # off (the profile's bounds never allow it; tests may)
        self.watchdog = self.pilot.start_watchdog()
        if self.use_guardian:
            self._plan = neutral_plan(self.pilot.car)
            if self._plan is None:
                log.warning("no guardian: the car's bus cannot be reached from another process")
            self._start_guardian()
        return self

    def _start_guardian(self):
        from ..drive.guardian import Guardian

        self.guardian = Guardian.start(self._plan, limit_s=self.limit_s, outputs_off=self.outputs_off,
                                       name=self.name) if self._plan is not None else None

    def beat(self):
        """The loop is alive: feed every layer. Returns '' or why a layer wrote neutral since the
        last pass (the caller latches its e-stop before it writes anything)."""
        reasons = []
        watchdog = self.watchdog
        if watchdog is not None and watchdog.check():  # also when its thread could not run (frozen)
            reasons.append("control loop %s" % watchdog.reason)
            watchdog.reset()  # the session's e-stop latches from here on
        if self.guardian is not None and not self.guardian.beat():
            reasons.append(self.guardian.reason)
            self._replace_guardian()
        if watchdog is not None:
            watchdog.arm(watchdog.clock() + self.limit_s, "pass")
        if self.notifier is not None:
            if not self._ready:
                self._ready = True
                self.notifier.ready("web app")
            self.notifier.keepalive()
        if reasons:
            self.trips += 1
            log.error("watchdog: %s", "; ".join(reasons))
        return "; ".join(reasons)

    def _replace_guardian(self):
        """A fresh guardian after one that acted, or one that died after a useful life."""
        old, self.guardian = self.guardian, None
        old.close()
        if not old.lapsed and time.monotonic() - old.started_at < self.restart_min_life_s:
            self.unguarded = old.reason
            log.error("%s soon after its start: not restarted; the car stays e-stopped", old.reason)
            return
        try:
            self._start_guardian()
        except OSError as exc:  # no process can be started now (out of memory, of pids)
            self.unguarded = "no new guardian process: %s" % exc
            log.error("%s; the car stays e-stopped", self.unguarded)
            return
        if self.guardian is not None:
            self.guardian.beat()

    def close(self):
        """A clean end (the loop has stopped, the car is at neutral): every layer stands down."""
        if self.notifier is not None:
            self.notifier.stopping()
        if self.watchdog is not None:
            self.pilot.close_watchdog()
            self.watchdog = None
        if self.guardian is not None:
            self.guardian.close()
            self.guardian = None
