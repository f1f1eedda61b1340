"""Who may drive: one random token per install, checked in constant time, and session cookies.

The token is generated once (``secrets``), stored with mode 0600 in the user's config folder and
printed once, when it is made; ``[web] token`` in the profile overrides it. A wrong token is
refused and counted; after ``max_failures`` wrong tokens from one address within ``window_s`` that
address is refused without a check until the window has passed, so a phone on the same Wi-Fi
cannot guess its way in. A good token buys a random session id (the cookie); sessions live in
memory only, so restarting the server logs everyone out.
"""

import hmac
import logging
import os
import secrets
import threading
import time
from pathlib import Path

__all__ = ["token_path", "load_or_create_token", "LoginGate", "TOKEN_ALPHABET"]

log = logging.getLogger(__name__)

#: easy to read off a 128x32 OLED and to type on a phone: no 0/o, 1/l/i
TOKEN_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
TOKEN_LENGTH = 12  # 31**12: about 59 bits, against a handful of guesses a minute
MIN_TOKEN_LENGTH = 8


def token_path():
    """``$XDG_CONFIG_HOME/jetracer/web-token`` (default ``~/.config/jetracer/web-token``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jetracer" / "web-token"


def _new_token():
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def load_or_create_token(path=None, announce=None):
    """The install's token from ``path``; made (0600) and passed to ``announce`` once when missing.

    Returns ``(token, created)``. A token file that is readable by others is tightened to 0600 with
    a warning: the token is as good as a key to the car.
    """
    from ..errors import JetracerError

    path = Path(path) if path is not None else token_path()
    try:
        if path.is_file():
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                log.warning("%s was readable by others (mode %o): made it 0600", path, mode)
                os.chmod(str(path), 0o600)
            token = path.read_text(encoding="utf-8", errors="replace").strip()
            if len(token) >= MIN_TOKEN_LENGTH:
                return token, False
            log.warning("%s holds no usable token: making a new one", path)
        path.parent.mkdir(parents=True, exist_ok=True)
        token = _new_token()
        tmp = path.with_name("." + path.name + ".tmp")
        fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
        os.chmod(str(tmp), 0o600)
        os.replace(str(tmp), str(path))
    except OSError as exc:
        raise JetracerError("cannot keep the web login token in %s: %s (set [web] token in the profile, or fix "
                            "the folder's permissions)" % (path, exc.strerror or exc)) from None
    if announce is not None:
        announce(token, path)
    return token, True


class LoginGate:
    """Checks tokens, counts and rate-limits failures, hands out and checks session ids."""

    def __init__(self, token, max_failures=5, window_s=60.0, clock=time.monotonic):
        if not token or len(token) < MIN_TOKEN_LENGTH:
            raise ValueError("a web login token needs at least %d characters" % MIN_TOKEN_LENGTH)
        self._token = token.encode("utf-8")
        self.max_failures = int(max_failures)
        self.window_s = float(window_s)
        self.clock = clock
        self.failures = 0  #: wrong tokens since start (all addresses)
        self.refused = 0  #: attempts refused unchecked because their address was locked out
        self._recent = {}  # address -> [times of recent failures]
        self._sessions = {}
        self._lock = threading.Lock()

    def locked_out(self, address):
        """Seconds ``address`` must still wait, or 0."""
        with self._lock:
            times = self._prune(address)
            if len(times) < self.max_failures:
                return 0.0
            return max(0.0, times[0] + self.window_s - self.clock())

    def _prune(self, address):
        now = self.clock()
        times = [t for t in self._recent.get(address, []) if now - t < self.window_s]
        if times:
            self._recent[address] = times
        else:
            self._recent.pop(address, None)
        return times

    def login(self, address, token):
        """A new session id for a right token; None (counted) for a wrong one or a locked-out address."""
        if self.locked_out(address):
            with self._lock:
                self.refused += 1
            return None
        given = token.encode("utf-8", errors="replace") if isinstance(token, str) else bytes(token or b"")
        if hmac.compare_digest(given, self._token):
            session = secrets.token_urlsafe(24)
            with self._lock:
                self._sessions[session] = self.clock()
            return session
        with self._lock:
            self.failures += 1
            self._recent.setdefault(address, []).append(self.clock())
        log.warning("wrong web login token from %s (%d wrong so far)", address, self.failures)
        return None

    def valid(self, session):
        """True for a session id this gate handed out (constant-time per comparison)."""
        if not session:
            return False
        given = session.encode("utf-8", errors="replace") if isinstance(session, str) else bytes(session)
        with self._lock:
            known = list(self._sessions)
        found = False
        for candidate in known:
            if hmac.compare_digest(given, candidate.encode("ascii")):
                found = True
        return found

    def logout(self, session):
        with self._lock:
            self._sessions.pop(session, None)
