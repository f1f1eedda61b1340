"""Process-level safety: turn SIGTERM/SIGINT/SIGHUP into an exception that unwinds every
``finally`` (so each car object writes neutral on its way out), and a last-resort neutral at exit.
"""

import signal
import threading

__all__ = ["StopSignal", "install_signal_handlers"]


class StopSignal(BaseException):
    """Raised in the main thread when the process is asked to stop (SIGTERM, SIGINT, SIGHUP).

    A BaseException, like KeyboardInterrupt, so ``except Exception`` blocks do not swallow it.
    """

    def __init__(self, signum):
        super().__init__("stopped by signal %s" % signal.Signals(signum).name)
        self.signum = signum


def _raise_stop(signum, frame):
    from ..racecar import neutral_all_cars

    neutral_all_cars()  # first, before anything else gets a chance to fail
    raise StopSignal(signum)


def install_signal_handlers(signals=(signal.SIGTERM, signal.SIGINT, signal.SIGHUP)):
    """Install the stop handlers (main thread only; a no-op elsewhere, e.g. inside Jupyter threads)."""
    if threading.current_thread() is not threading.main_thread():
        return False
    for sig in signals:
        signal.signal(sig, _raise_stop)
    return True
