"""Small test doubles shared by several test files (time you can set, a real-time poll)."""

import time


class FakeClock:
    """A clock the test moves by hand: pass it wherever the code takes ``clock=``."""

    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t

    def advance(self, dt):
        self.t += dt


def wait_until(predicate, timeout=5.0):
    """Poll a condition in real time (threads need a moment); fail the test if it never holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.002)
    raise AssertionError("condition not reached within %.1f s" % timeout)


def run_captured(cmd, **kwargs):
    """``subprocess.run`` with stdout/stderr as text (``capture_output``/``text`` are Python 3.7+)."""
    import subprocess

    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,  # noqa: UP022 - 3.6 has no
                          universal_newlines=True, **kwargs)  # noqa: UP021 - capture_output/text


def wrap_angle(a):
    """An angle difference in [-pi, pi) (``math.remainder`` is Python 3.7+)."""
    import math

    return (a + math.pi) % (2 * math.pi) - math.pi
