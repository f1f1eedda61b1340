"""A periodic worker: call a function every period in a named daemon thread, until stopped.

The battery monitor, the status display, the notebook heartbeat and the simulator's real-time
physics each need "do this every so often, in the background, and never die of one bad call".
Written four times by hand, each copy had its own idea of error logging, joining and restarting;
:class:`Periodic` is that idea once:

- the thread is named (it shows in ``py-spy dump`` and in thread listings) and a daemon (a worker
  never keeps a finished program alive);
- a call that raises is logged once per streak of failures (one line for the ``expected`` error
  types, with the traceback otherwise), the calls go on, and the first call that works again says
  so: an unplugged chip must not flood the journal, nor kill the thread that would notice its return;
- :meth:`Periodic.stop` wakes the wait at once and joins the thread (not when called from the
  worker itself, e.g. a heartbeat whose lapse closes its owner); a call that hangs is reported,
  not waited for forever;
- it can be started again after a stop, and :meth:`Periodic.run` runs the same loop in the
  calling thread (a command whose main thread has nothing else to do).
"""

import logging
import math
import threading

__all__ = ["Periodic"]

log = logging.getLogger(__name__)


def _seconds(value, what):
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError("%s must be a positive number of seconds, got %r" % (what, value))
    return value


class Periodic:
    """Call ``fn()`` every ``period_s`` seconds until :meth:`stop`; see the module docstring.

    ``period_s``: seconds between the end of one call and the next, or a callable returning them
    (asked after every call: the display waits longer while its OLED is missing). ``call_first``:
    call at once when started instead of after one period. ``what``: the worker in log lines
    (default ``name``). ``expected``: exception types whose message says it all (logged as one
    line). ``level``: the level of the first failure's log line. ``join_timeout_s``: how long
    :meth:`stop` waits for a call in progress (default twice the period, at least 2 s).
    ``logger``: the owner's logger, so a log filter for the owner sees its worker too.
    """

    def __init__(self, name, fn, period_s, call_first=False, what=None, expected=(), level=logging.WARNING,
                 join_timeout_s=None, logger=None):
        self.name = str(name)
        self.fn = fn
        if callable(period_s):
            self._period = period_s
        else:
            fixed = _seconds(period_s, "the period of %s" % name)
            self._period = lambda: fixed
        self.call_first = bool(call_first)
        self.what = what or self.name
        self.expected = tuple(expected)
        self.level = level
        self.join_timeout_s = join_timeout_s
        self.log = logger or log
        self.calls = 0  #: calls made (failed ones included)
        self.failures = 0  #: calls that raised
        self.last_error = ""  #: the newest failure, "" once a call works again
        self._failing = False
        self._lock = threading.Lock()
        self._stop = None  # the Event of the current run
        self._thread = None

    @property
    def running(self):
        """True while the background thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self):
        """Start the background thread (a no-op while it runs); returns self."""
        with self._lock:
            if self.running:
                return self
            stop = self._stop = threading.Event()
            self._thread = threading.Thread(target=self._loop, args=(stop,), name=self.name, daemon=True)
            self._thread.start()
        return self

    def run(self, stop_event=None):
        """Run the loop in the calling thread until :meth:`stop` (or ``stop_event`` is set)."""
        with self._lock:
            if self.running:
                raise RuntimeError("%s already runs in its own thread" % self.name)
            stop = self._stop = stop_event if stop_event is not None else threading.Event()
        self._loop(stop)

    def stop(self):
        """Wake and end the loop, and join its thread (idempotent; never joins itself)."""
        with self._lock:
            stop, thread = self._stop, self._thread
            self._thread = None
        if stop is not None:
            stop.set()
        if thread is None or thread is threading.current_thread():
            return
        timeout = self.join_timeout_s
        if timeout is None:
            timeout = max(2.0, 2.0 * self._wait())
        thread.join(timeout)
        if thread.is_alive():
            self.log.warning("%s did not stop within %.1f s (a call is stuck); left behind as a daemon thread",
                             self.what, timeout)

    def call(self):
        """One call with the worker's error handling; True when it worked."""
        self.calls += 1
        try:
            self.fn()
        except self.expected as exc:
            self._failed(exc, traceback=False)
            return False
        except Exception as exc:  # noqa: BLE001 - the worker outlives a bad call; it is logged
            self._failed(exc, traceback=True)
            return False
        if self._failing:
            self._failing = False
            self.last_error = ""
            self.log.info("%s works again", self.what)
        return True

    def _failed(self, exc, traceback):
        self.failures += 1
        self.last_error = "%s: %s" % (type(exc).__name__, exc)
        if self._failing:
            self.log.debug("%s still failing: %s", self.what, self.last_error)
            return
        self._failing = True
        if traceback:
            self.log.log(self.level, "%s failed (will keep trying): %s", self.what, self.last_error, exc_info=True)
        else:
            self.log.log(self.level, "%s (will keep trying)", exc)

    def _wait(self):
        """Seconds until the next call: the period, kept finite and positive whatever it returns."""
        try:
            value = float(self._period())
        except Exception as exc:  # noqa: BLE001 - a broken period must not end the worker
            self.log.debug("%s: period failed (%s); waiting 1 s", self.what, exc)
            return 1.0
        if math.isnan(value):
            return 1.0
        return min(max(value, 0.001), threading.TIMEOUT_MAX)

    def _loop(self, stop):
        wait = 0.0 if self.call_first else self._wait()
        while not stop.wait(wait):
            self.call()
            wait = self._wait()

    def __repr__(self):
        return "<Periodic %s %s, %d calls, %d failed>" % (
            self.name, "running" if self.running else "stopped", self.calls, self.failures)
