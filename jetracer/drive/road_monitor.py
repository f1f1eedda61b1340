"""Knowing when the network is not seeing a road it knows: slow down, then stop ("road_lost").

A road-following network always answers with *some* aim point, also facing a wall, in a room it
was never trained for, or on a bare floor, and a pilot that trusts it drives away. The monitor
asks the network itself, with no retraining and through any engine (torch, onnxruntime,
TensorRT), whether its answer follows the picture the way it learned to:

- **shift**: move the frame ``shift_px`` left and right; a network that sees a road moves its aim
  point with the picture (it was trained with label-moving shifts). Its *gain* (change of x over the
  change the shift makes) is about 1 on a road it knows and near 0 when it answers by habit;
- **mirror**: the mirrored frame must give the mirrored point (``x_mirror = -x``; flips are in the
  training augmentation);
- **plausible**: the aim point lies where labels lie, a look-ahead point on the floor ahead
  (``y_range`` in the normalised image; a point above the horizon or at the bumper is no road).

Every ``probe_every`` frames the checks give an evidence value in [0, 1] (a failed shift or
plausibility check is full evidence, a failed mirror check half); its running mean
(``smoothing``) is the *suspicion*. Above ``slow_at`` the throttle is scaled down (to
``min_scale`` at ``stop_at``); at ``stop_at`` the monitor reports the road lost and the pilot stops.
A probe costs three extra inferences; with ``probe_every=4`` that is 75 % more network time.

The pilot calls :meth:`RoadMonitor.update` once per frame (see ``Pilot(road_monitor=...)``); an
engine that fails or returns NaN during a probe raises, and the pilot stops with "engine_error".
"""

import logging

import numpy as np

__all__ = ["RoadMonitor", "VALIDATED_ARCHS", "monitor_applies"]

log = logging.getLogger(__name__)

#: the architectures the thresholds below were measured on (no false stop on the built-in tracks);
#: on another one (``tiny``, a quick two-epoch try) a weak network fails the shift check on a road it
#: does drive, so the monitor stays off and says so, rather than stopping a car that is fine
VALIDATED_ARCHS = ("resnet18", "resnet34", "fast")


def monitor_applies(engine):
    """Whether the road monitor's thresholds hold for ``engine``'s network (logged when not)."""
    arch = (getattr(engine, "meta", None) or {}).get("arch", "resnet18")
    if arch in VALIDATED_ARCHS:
        return True
    log.warning("road monitor off: its thresholds were measured on %s, not on %r (no road_lost stop)",
                ", ".join(VALIDATED_ARCHS), arch)
    return False


class RoadMonitor:
    def __init__(self, engine, probe_every=4, shift_px=16, min_gain=0.4, max_mirror_error=0.3,
                 y_range=(-0.4, 0.1), smoothing=0.25, slow_at=0.3, stop_at=0.7, min_scale=0.3):
        self.engine = engine
        self.probe_every = max(1, int(probe_every))
        self.shift_px = int(shift_px)
        self.min_gain = float(min_gain)
        self.max_mirror_error = float(max_mirror_error)
        self.y_range = (float(y_range[0]), float(y_range[1]))
        self.smoothing = float(smoothing)
        self.slow_at, self.stop_at, self.min_scale = float(slow_at), float(stop_at), float(min_scale)
        self._buffer = None
        self.reset()

    @classmethod
    def from_profile(cls, engine, pilot_section):
        return cls(engine, probe_every=pilot_section["road_probe_every"], stop_at=pilot_section["road_lost_at"])

    def reset(self):
        """Forget the suspicion (a new run, or after a person put the car back on the road)."""
        self.suspicion = 0.0
        self.lost = False
        self.frames = 0
        self.last_checks = {}

    def _probe(self, image, x, y):
        """Evidence in [0, 1] that ``(x, y)`` for ``image`` is an answer by habit, not by sight."""
        h, w = image.shape[:2]
        if self._buffer is None or self._buffer.shape != image.shape:
            self._buffer = np.empty_like(image)
        buf, k = self._buffer, max(1, min(self.shift_px, w // 4))
        buf[:, k:] = image[:, :-k]  # picture moved right by k pixels (edge columns repeated)
        buf[:, :k] = image[:, :1]
        x_right, _ = self.engine(buf)
        buf[:, :-k] = image[:, k:]
        buf[:, -k:] = image[:, -1:]
        x_left, _ = self.engine(buf)
        np.copyto(buf, image[:, ::-1])
        x_mirror, _ = self.engine(buf)
        if not all(np.isfinite(v) for v in (x_right, x_left, x_mirror)):
            raise ValueError("the engine returned a non-finite prediction for a probe frame")
        gain = (float(x_right) - float(x_left)) / (4.0 * k / w)  # normalised x spans 2 over the width
        mirror_error = abs(float(x_mirror) + x)
        implausible = not (self.y_range[0] <= y <= self.y_range[1])
        self.last_checks = {"gain": round(gain, 3), "mirror_error": round(mirror_error, 3), "y": round(y, 3)}
        # not following a shifted picture, or aiming where no road can be, is each enough; a mirror
        # error alone is half the evidence (a network can be a little lopsided on a road it knows)
        evidence = (gain < self.min_gain) + implausible + 0.5 * (mirror_error > self.max_mirror_error)
        return min(1.0, float(evidence))

    def update(self, image, x, y):
        """Account for one frame and its prediction; returns the throttle scale in [0, 1].
        ``lost`` turns True (and stays) when the suspicion reaches ``stop_at``."""
        if self.frames % self.probe_every == 0:
            evidence = self._probe(image, float(x), float(y))
            self.suspicion += self.smoothing * (evidence - self.suspicion)
            if self.suspicion >= self.stop_at:
                self.lost = True
        self.frames += 1
        if self.lost:
            return 0.0
        if self.suspicion <= self.slow_at:
            return 1.0
        frac = (self.suspicion - self.slow_at) / max(1e-9, self.stop_at - self.slow_at)
        return 1.0 - (1.0 - self.min_scale) * min(1.0, frac)

    def describe(self):
        """One line for the log when the road is lost."""
        return "road lost: suspicion %.2f after %d frames (last checks %s)" % (
            self.suspicion, self.frames, ", ".join("%s %s" % kv for kv in sorted(self.last_checks.items())))
