"""A grip-limited racing expert: as fast as the tyres allow, braking and accelerating within limits.

The expert (:mod:`jetracer.sim.expert`) caps its speed at 2 m/s, so lap times of a network that
imitates it say little about racing. The racer plans a speed profile once per track, as a race
engineer would from the track map:

1. the corner limit at every point, ``v = sqrt(a_lat / |curvature|)`` with ``a_lat`` a fraction
   (``grip_margin``) of the tyre limit ``sim.grip_mu * g`` (the same limit the simulated tyres use);
2. a backward pass so that every corner is reached at its limit with at most ``decel_mps2`` of braking;
3. a forward pass so that speed grows with at most ``accel_mps2``, and never above ``max_speed_mps``.

It steers with the expert's pure pursuit (a longer look-ahead at speed) and drives the car through
the same servo/ESC inverse as the expert, so its commands are ones a real pilot could produce and
its speeds are sensible labels (``speed_label``) for a network that learns where to be fast.
"""

import math

import numpy as np

from .expert import ExpertDriver

__all__ = ["RacerDriver", "speed_profile"]

_G = 9.81
_GRID_M = 0.05  # the profile's spacing along the lap


def speed_profile(track, lateral_accel, decel, accel, max_speed, grid_m=_GRID_M):
    """``(s grid, speed at each s)``: the fastest speed profile within the three limits (closed lap)."""
    n = max(16, int(math.ceil(track.length / grid_m)))
    ds = track.length / n
    s = np.arange(n) * ds
    # the tightest curvature within +-15 cm: the smoothed curvature under-reads a short hairpin
    k = np.array([max(abs(track.curvature_at(x + d)) for d in (-0.15, 0.0, 0.15)) for x in s])
    v = np.minimum(max_speed, np.sqrt(lateral_accel / np.maximum(k, 1e-6)))
    # a closed lap: two sweeps each way settle the wrap-around
    for _ in range(2):
        for i in range(2 * n - 1, -1, -1):  # braking: v[i] <= sqrt(v[i+1]^2 + 2 a ds)
            j, nxt = i % n, (i + 1) % n
            v[j] = min(v[j], math.sqrt(v[nxt] ** 2 + 2 * decel * ds))
        for i in range(2 * n):  # acceleration: v[i+1] <= sqrt(v[i]^2 + 2 a ds)
            j, nxt = i % n, (i + 1) % n
            v[nxt] = min(v[nxt], math.sqrt(v[j] ** 2 + 2 * accel * ds))
    return s, v


class RacerDriver(ExpertDriver):
    """Pure pursuit with a grip-limited speed profile. Defaults derive from the profile's ``[sim]``:
    the grip limit from ``grip_mu``, the top speed from ``top_speed_mps``.

    ``grip_margin``: fraction of ``grip_mu * g`` used in corners (the pursuit path is a little
    tighter than the centreline, and the servo lags). ``preview_s``: the speed target is read this
    far ahead, so the motor's lag brakes in time.
    """

    def __init__(self, world, grip_margin=0.7, decel_mps2=4.0, accel_mps2=4.0, max_speed_mps=None,
                 preview_s=0.25, lookahead_min_m=0.5, lookahead_gain_s=0.3):
        sim = world.sim
        top = sim["top_speed_mps"] * 0.9 if max_speed_mps is None else float(max_speed_mps)
        lateral = grip_margin * sim["grip_mu"] * _G
        super().__init__(world, max_speed_mps=top, lateral_accel_mps2=lateral, decel_mps2=decel_mps2,
                         lookahead_min_m=lookahead_min_m, lookahead_gain_s=lookahead_gain_s)
        self.accel = float(accel_mps2)
        self.preview = float(preview_s)
        self._grid, self._v = speed_profile(world.track, lateral, self.decel, self.accel, top)

    def lookahead(self, speed):
        return min(2.0, self.lookahead_min + self.lookahead_gain * abs(speed))

    def speed_limit(self, s, speed):
        """The planned speed a little ahead of ``s`` (see ``preview_s``)."""
        track = self.world.track
        ahead = track.wrap_s(s + max(0.0, speed) * self.preview)
        return float(np.interp(ahead, self._grid, self._v, period=track.length))

    def speed_label(self):
        """The speed the racer wants here now (m/s): the label written beside a collected image."""
        s = self._s if self._s is not None else self.world.metrics.s
        return self.speed_limit(s, self.world.vehicle.speed)

    def label_here(self):
        """``{"speed_mps", "throttle"}`` the racer wants at the car's place on the lap: the sidecar labels
        of a collected image. ``throttle`` is the steady command that holds that speed on this car
        (through the profile's gains and the ESC's mapping), without the racer's correction term."""
        track, v = self.world.track, self.world.vehicle
        s, _, _ = track.project((v.x, v.y), s_hint=self.world.metrics.s, window_m=1.5)
        speed = self.speed_limit(s, self.speed_limit(s, 0.0))
        return {"speed_mps": round(speed, 3), "throttle": round(self.steady_throttle(speed), 4)}

    def steady_throttle(self, speed):
        """The car command (``throttle`` in [0, 1]) whose ESC drive holds ``speed`` on the flat."""
        drive = min(1.0, max(0.0, speed / self.world.sim["top_speed_mps"]))
        return 0.0 if drive == 0.0 else self.throttle_for_drive(drive)
