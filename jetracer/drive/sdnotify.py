"""systemd's notify protocol (``sd_notify``) without libsystemd: one datagram per message.

The drive unit is ``Type=notify`` with ``WatchdogSec=``: systemd waits for ``READY=1``, then expects
``WATCHDOG=1`` at least every ``WATCHDOG_USEC``; when the keep-alives stop (the loop is frozen, the
GIL is held, the process is stopped) it kills the drive and ``ExecStopPost=jetracer stop`` writes
neutral. The keep-alives come from the driving loop itself, never from a helper thread: a thread
would keep a stuck loop alive. Outside systemd (no ``$NOTIFY_SOCKET``) every call is a no-op.
"""

import os
import socket
import time

__all__ = ["notify", "SystemdNotifier"]


def _address(path):
    """``@name`` is an abstract socket (Linux): a leading NUL byte instead of the ``@``."""
    return "\0" + path[1:] if path.startswith("@") else path


def notify(message, env=None):
    """Send ``message`` (e.g. "READY=1") to ``$NOTIFY_SOCKET``; False when there is none or it fails."""
    env = os.environ if env is None else env
    path = env.get("NOTIFY_SOCKET", "")
    if not path:
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.sendto(message.encode("utf-8"), _address(path))
        return True
    except OSError:
        return False
    finally:
        sock.close()


class SystemdNotifier:
    """READY/STOPPING/STATUS and rate-limited watchdog keep-alives for the current process."""

    def __init__(self, env=None, clock=time.monotonic):
        self.env = os.environ if env is None else env
        self.clock = clock
        self.enabled = bool(self.env.get("NOTIFY_SOCKET"))
        usec = self.env.get("WATCHDOG_USEC", "")
        pid = self.env.get("WATCHDOG_PID", "")
        mine = not pid or pid == str(os.getpid())
        self.watchdog_s = int(usec) / 1e6 if usec.isdigit() and int(usec) > 0 and mine else None
        self._last = None

    def ready(self, status=""):
        return notify("READY=1" + ("\nSTATUS=%s" % status if status else ""), self.env) if self.enabled else False

    def status(self, text):
        return notify("STATUS=%s" % text, self.env) if self.enabled else False

    def stopping(self):
        return notify("STOPPING=1", self.env) if self.enabled else False

    def keepalive(self):
        """``WATCHDOG=1``, at most four times per watchdog interval (systemd asks for at least two)."""
        if self.watchdog_s is None:
            return True
        now = self.clock()
        if self._last is None or now - self._last >= self.watchdog_s / 4.0:
            self._last = now
            notify("WATCHDOG=1", self.env)
        return True
