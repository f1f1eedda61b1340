"""The notebook's safety net: stop the car on a kernel interrupt, an exception in any cell, and
when the browser goes away.

Why each piece is needed in Jupyter:

- An exception in a cell leaves background threads (the pilot, the teleop timer) driving:
  :class:`Guard` hooks IPython's ``post_run_cell`` and stops the car when ``error_in_exec`` is set
  (KeyboardInterrupt from "Interrupt kernel" during a cell included).
- "Interrupt kernel" while *no* cell runs does nothing in ipykernel (SIGINT is ignored between
  cells), and that is exactly when a background pilot is driving. The guard installs its own
  handler for those idle moments (ipykernel restores ``kernel.saved_sigint_handler`` after each
  cell), and cells still get the normal KeyboardInterrupt.
- A closed tab or a dropped Wi-Fi link sends nothing: :class:`Heartbeat` pings the page a few
  times a second through a link that lives in the browser and stops the car when the echoes stop.
"""

import logging
import signal
import sys
import threading
import time

from .env import require

__all__ = ["Guard", "Heartbeat", "run_loop"]

log = logging.getLogger(__name__)


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()


def _say(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class Guard:
    """Calls ``stop(reason, halt)`` when a cell raises or the kernel is interrupted between cells.

    ``halt`` is True for an interrupt (the user wants everything to stop, loops included) and False
    for an exception (the car stops; a pilot loop keeps running in mode ``stopped`` so the view
    stays live). ``install()`` is a no-op outside IPython (a script has its own signal handling).
    """

    def __init__(self, stop, shell=None):
        self._stop = stop
        self.shell = shell
        self.installed = False
        self.last_reason = ""
        self._kernel = None
        self._previous_idle_handler = None

    def install(self):
        shell = self.shell or _ipython()
        if shell is None or self.installed:
            return self
        self.shell = shell
        shell.events.register("post_run_cell", self.post_run_cell)
        self._install_idle_interrupt()
        self.installed = True
        return self

    def _install_idle_interrupt(self):
        kernel = getattr(self.shell, "kernel", None)
        if kernel is None or not hasattr(kernel, "saved_sigint_handler"):
            return  # not ipykernel (a terminal IPython handles Ctrl-C itself)
        if threading.current_thread() is not threading.main_thread():
            return
        self._kernel = kernel
        self._previous_idle_handler = kernel.saved_sigint_handler
        kernel.saved_sigint_handler = self.on_idle_interrupt

    def uninstall(self):
        if not self.installed:
            return
        try:
            self.shell.events.unregister("post_run_cell", self.post_run_cell)
        except ValueError:
            pass
        kernel = self._kernel
        if kernel is not None and getattr(kernel, "saved_sigint_handler", None) == self.on_idle_interrupt:
            kernel.saved_sigint_handler = self._previous_idle_handler
            if threading.current_thread() is threading.main_thread() and \
                    signal.getsignal(signal.SIGINT) == self.on_idle_interrupt:  # closed outside a cell
                signal.signal(signal.SIGINT, self._previous_idle_handler or signal.SIG_IGN)
        self._kernel = None
        self.installed = False

    def post_run_cell(self, result):
        error = getattr(result, "error_in_exec", None)
        if error is None:
            return
        if isinstance(error, KeyboardInterrupt):
            self.trip("kernel interrupted", halt=True)
        else:
            self.trip("%s in a cell" % type(error).__name__, halt=False)

    def on_idle_interrupt(self, signum=None, frame=None):
        """SIGINT while no cell runs: the user pressed "Interrupt kernel" to stop a running car."""
        self.trip("kernel interrupted", halt=True)

    def trip(self, reason, halt=False):
        self.last_reason = reason
        try:
            self._stop(reason, halt)
        except Exception as exc:  # noqa: BLE001 - report, never raise out of a hook or a signal handler
            log.error("stopping the car after %s failed: %s", reason, exc)


class Heartbeat:
    """The browser's pulse. Every ``period_s`` the kernel bumps a counter widget; a link that lives
    in the browser (``ipywidgets.jsdlink``) copies it into a second widget, whose change comes back
    to the kernel: an echo only a connected page produces, with nothing to display. When no echo
    arrived for ``timeout_s`` (``first_beat_s`` after the start, while the page loads its widgets)
    ``on_lapse(reason)`` runs once; again only after echoes resumed and stopped anew.

    The kernel reads widget messages between cells, so a cell that runs longer than ``timeout_s``
    cannot hear the page either: drive from background threads (as the notebooks do), or
    :meth:`pause` around a foreground loop (:meth:`Session.run_loop` does).
    """

    def __init__(self, on_lapse, timeout_s=2.0, period_s=0.25, first_beat_s=15.0, clock=time.monotonic,
                 start_timer=True):
        ipywidgets = require("ipywidgets")

        self.on_lapse = on_lapse
        self.timeout_s = float(timeout_s)
        self.period_s = float(period_s)
        self.first_beat_s = float(first_beat_s)
        self.clock = clock
        self.beats = 0
        self.alive = True
        self.lapses = 0
        self.paused = False
        self._started = clock()
        self._last = None
        self.closed = False
        self._thread = None  # the timer's Periodic, made on the first start()
        self.ping = ipywidgets.IntText(value=0, description="ping")
        self.echo = ipywidgets.IntText(value=0, description="echo")
        self.link = ipywidgets.jsdlink((self.ping, "value"), (self.echo, "value"))
        self.echo.observe(self._on_echo, names=["value"])
        self.widget = ipywidgets.Label("browser heartbeat: waiting for the page")
        if start_timer:
            self.start()

    def _on_echo(self, change):
        self.beat()

    def beat(self):
        """A sign of life from the browser."""
        self._last = self.clock()
        self.beats += 1
        if not self.alive or self.beats == 1:
            self.alive = True
            self.widget.value = "browser heartbeat: connected"

    def silence_s(self):
        since = self._last if self._last is not None else self._started
        return self.clock() - since

    def check(self):
        """The timer's body: trip once per lapse. Returns True when it tripped now."""
        if self.paused:
            return False
        limit = self.timeout_s if self._last is not None else max(self.timeout_s, self.first_beat_s)
        if self.alive and self.silence_s() > limit:
            self.alive = False
            self.lapses += 1
            if self._last is not None:
                what = "browser heartbeat lost (no answer for %.1f s)" % self.silence_s()
            else:
                what = "no browser heartbeat within %.0f s (is this page showing widgets?)" % limit
            self.widget.value = what
            self.on_lapse(what)
            return True
        return False

    def pause(self):
        self.paused = True

    def resume(self):
        """Watch again, counting from now (a paused stretch is not a lapse)."""
        if self._last is not None:
            self._last = self.clock()
        else:
            self._started = self.clock()
        self.paused = False

    def start(self):
        """Ping the page and check for echoes every ``period_s``, in a daemon thread."""
        if self.closed:
            raise RuntimeError("the heartbeat is closed")
        if self._thread is None:
            from ..util.periodic import Periodic

            self._thread = Periodic("notebook-heartbeat", self._tick, self.period_s, what="heartbeat check",
                                    level=logging.ERROR, logger=log)
        self._thread.start()
        return self

    def _tick(self):
        self.ping.value = (self.ping.value + 1) % (2 ** 30)
        self.check()

    def close(self):
        """Stop pinging (also from the heartbeat's own thread, when a lapse closes the session) and
        release the widgets. Safe to call twice."""
        if self._thread is not None:
            self._thread.stop()
        if self.closed:
            return
        self.closed = True
        self.echo.unobserve(self._on_echo, names=["value"])
        for w in (self.link, self.ping, self.echo):
            try:
                w.close()
            except Exception:  # noqa: BLE001 - already closed with the kernel's comms
                pass


def run_loop(step, seconds=None, period_s=0.05, on_exit=None, clock=time.monotonic, sleep=time.sleep):
    """Call ``step()`` every ``period_s`` until it returns True, ``seconds`` pass, or the kernel is
    interrupted; ``on_exit()`` (stop the car) runs on every way out. Returns the number of steps.

    For JetRacer-style ``while True:`` cells: "Interrupt kernel" ends the loop quietly (no
    traceback) and the car is stopped, instead of leaving it at the last throttle.
    """
    n = 0
    start = clock()
    try:
        while seconds is None or clock() - start < seconds:
            t0 = clock()
            n += 1
            if step():
                break
            rest = period_s - (clock() - t0)
            if rest > 0:
                sleep(rest)
    except KeyboardInterrupt:
        _say("interrupted after %d steps" % n)
    finally:
        if on_exit is not None:
            on_exit()
    return n
