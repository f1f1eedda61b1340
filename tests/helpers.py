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
