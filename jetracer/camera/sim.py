"""The simulator's camera: the same Camera interface, frames rendered from the car's pose.

Frames are stamped on the world's clock. Not running (lockstep), ``read_frame()`` renders the
current pose at once, so a loop of read -> decide -> ``world.step()`` is deterministic. Running
(real time, ``start()`` or ``with world.realtime():``), the capture thread renders at ``fps``
by the wall clock while the world's physics thread moves the car.
"""

import time

from .base import Camera

__all__ = ["SimCamera"]


class SimCamera(Camera):
    """Camera over a :class:`jetracer.sim.world.SimWorld`; size and fps from the world's profile."""

    def __init__(self, world, fps=None, **kwargs):
        cfg = world.profile.camera
        kwargs.setdefault("clock", world.clock)
        kwargs.setdefault("stale_limit_s", cfg["stale_limit_s"])
        kwargs.setdefault("first_frame_timeout_s", 2.0)
        super().__init__(width=cfg["width"], height=cfg["height"], **kwargs)
        self.world = world
        self.target_fps = float(fps or cfg["fps"])
        self._next_due = None
        self.frozen = False  #: fault injection: True makes the camera deliver nothing, like a dead sensor

    def freeze(self, frozen=True):
        """Simulate a camera that stops delivering frames (unplugged ribbon, crashed Argus daemon)."""
        self.frozen = frozen

    def _open(self):
        self._next_due = None

    def _grab(self):
        if self.frozen:
            if self.running:
                self._sleep(0.005)
            return None
        if self.running:  # capture thread: pace to target_fps on the wall clock
            now = time.monotonic()
            period = 1.0 / self.target_fps
            if self._next_due is None:
                self._next_due = now
            wait = self._next_due - now
            if wait > 0 and self._sleep(wait):
                return None
            self._next_due = max(self._next_due + period, time.monotonic() - period)
        return self.world.render()

    def _release(self):
        self._next_due = None
