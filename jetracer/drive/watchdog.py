"""The in-process watchdog: a thread that writes neutral when the driving loop misses a deadline.

The pilot arms a deadline for every frame (capture to PWM written) and for the gap to the next one.
When a deadline passes (an engine call that sleeps or blocks, an I2C write that never returns) this
thread writes the ESC's neutral pulse over its own register handle (:class:`~jetracer.drive.guardian.
RegisterWriter`: no ``DRIVER_LOCK``, no bus lock, so it cannot wait behind the stuck call) and latches
``tripped``; the loop sees it when it wakes and stops with ``stop_reason`` "watchdog".

It needs the interpreter to run: a C call holding the GIL or a frozen process stops this thread too.
The guardian process (:mod:`jetracer.drive.guardian`) and systemd's ``WatchdogSec`` cover those.
"""

import logging
import threading
import time

__all__ = ["FrameWatchdog"]

log = logging.getLogger(__name__)


class FrameWatchdog:
    """``arm(deadline)`` (a ``clock`` time), ``disarm()``; ``write_neutral`` runs once on a miss."""

    def __init__(self, write_neutral, name="pilot-watchdog", clock=time.monotonic):
        self.write_neutral = write_neutral
        self.clock = clock
        self.name = name
        self.tripped = False
        self.reason = ""
        self.tripped_at = None  #: ``clock`` time neutral was written
        self._deadline = None
        self._what = ""
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def arm(self, deadline, what="frame"):
        """Neutral unless :meth:`arm` or :meth:`disarm` is called again before ``deadline``."""
        self._deadline, self._what = deadline, what
        self._changed.set()

    def disarm(self):
        self._deadline = None
        self._changed.set()

    def reset(self):
        """Forget a trip (a new run)."""
        self.disarm()
        self.tripped, self.reason, self.tripped_at = False, "", None

    def overdue(self):
        """True once the armed deadline has passed, even if this thread has not run since (the
        process was stopped, the GIL held): the loop asks before it writes, so a command that
        comes back late is never written."""
        deadline = self._deadline
        return deadline is not None and self.clock() > deadline

    def check(self):
        """From the loop: trip now if the deadline passed (writes neutral); returns ``tripped``."""
        deadline = self._deadline
        if not self.tripped and deadline is not None and self.clock() > deadline:
            self._trip("%s deadline missed by %.3f s" % (self._what, self.clock() - deadline))
        return self.tripped

    def _run(self):
        while not self._stop.is_set():
            deadline = self._deadline
            timeout = None if deadline is None or self.tripped else max(0.0, deadline - self.clock())
            if timeout is None or timeout > 0:
                self._changed.wait(timeout)
                self._changed.clear()
                continue
            if self._deadline is not deadline:  # re-armed while we looked
                continue
            self._trip("%s deadline missed by %.3f s" % (self._what, self.clock() - deadline))

    def _trip(self, reason):
        self.reason = reason
        self.tripped = True  # first: a write the loop makes from now on is followed by its own neutral
        try:
            done = self.write_neutral()
            log.error("watchdog: %s; wrote neutral (%s)", reason, ", ".join(done or ()))
        except Exception as exc:  # noqa: BLE001 - nothing else can act from here; the guardian still can
            log.error("watchdog: %s; writing neutral failed: %s", reason, exc)
        self.tripped_at = self.clock()

    def stop(self):
        self._stop.set()
        self._changed.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._thread = None
