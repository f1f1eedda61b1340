"""A race track: a closed centreline in metres with a width, parametrised by arc length.

Everything the simulator knows about the road comes from here: where the car is along the lap
(``s``), how far it is off the centreline (cross-track error, positive to the LEFT of the driving
direction), the road's heading and curvature ahead (for the expert driver), and the geometry the
renderer paints. A track file that no car could drive is refused with one line saying where.
"""

import json
import math
from pathlib import Path

import numpy as np

from ..errors import TrackError

__all__ = ["Track", "TRACKS_DIR", "DEFAULT_COLORS", "min_turn_radius", "stadium_centerline"]

TRACKS_DIR = Path(__file__).resolve().parent / "tracks"

#: Road markings when the file names none (BGR). ``style``: solid, dashed or none.
DEFAULT_COLORS = {
    "surface": {"color": (58, 58, 62)},
    "edge": {"color": (235, 235, 235), "width_m": 0.05, "style": "solid"},
    "center": {"color": (40, 200, 235), "width_m": 0.04, "style": "dashed", "dash_m": 0.3, "gap_m": 0.3},
}

_STEP_M = 0.02  # the centreline is subdivided to at most this spacing
_SMOOTH_M = 0.05  # heading is the chord direction over +-this much arc length
_CURVE_SMOOTH_M = 0.15  # curvature is averaged with a triangular window of this half-width


def min_turn_radius(wheelbase_m=0.26, max_steer_deg=28.0):
    """Tightest radius a kinematic-bicycle car can drive (rear axle)."""
    return wheelbase_m / math.tan(math.radians(max_steer_deg))


def stadium_centerline(straight_m=4.0, radius_m=1.5, step_m=0.05):
    """[[x, y], ...] of a counter-clockwise stadium, starting mid bottom straight at (0, 0) facing +x.

    Handy for a quick custom track: ``Track({"width_m": 1.0, "centerline": stadium_centerline(10, 2)})``.
    """
    half = straight_m / 2.0
    n_s = max(1, int(round(straight_m / step_m)))
    n_a = max(4, int(round(math.pi * radius_m / step_m)))
    pts = [(x, 0.0) for x in np.linspace(0.0, half, n_s // 2, endpoint=False)]
    for a in np.linspace(0.0, math.pi, n_a, endpoint=False):
        pts.append((half + radius_m * math.sin(a), radius_m - radius_m * math.cos(a)))
    for x in np.linspace(half, -half, n_s, endpoint=False):
        pts.append((x, 2 * radius_m))
    for a in np.linspace(0.0, math.pi, n_a, endpoint=False):
        pts.append((-half - radius_m * math.sin(a), radius_m + radius_m * math.cos(a)))
    for x in np.linspace(-half, 0.0, n_s // 2, endpoint=False):
        pts.append((x, 0.0))
    return [[float(x), float(y)] for x, y in pts]


def _sim_defaults():
    from ..profile import SCHEMA

    return SCHEMA["sim"]["wheelbase_m"][1], SCHEMA["sim"]["max_steer_deg"][1]


def _parse_color(value, where, key):
    """'#rrggbb' or [b, g, r] -> BGR tuple of ints."""
    if isinstance(value, str) and len(value) == 7 and value.startswith("#"):
        try:
            r, g, b = (int(value[i:i + 2], 16) for i in (1, 3, 5))
        except ValueError:
            raise TrackError("%s: %s colour %r is not #rrggbb" % (where, key, value)) from None
        return (b, g, r)
    if isinstance(value, (list, tuple)) and len(value) == 3 and all(
            isinstance(c, (int, float)) and 0 <= c <= 255 for c in value):
        return tuple(int(c) for c in value)
    raise TrackError("%s: %s colour %r must be \"#rrggbb\" or [b, g, r] in 0-255" % (where, key, value))


def _parse_style(data, where):
    styles = {k: dict(v) for k, v in DEFAULT_COLORS.items()}
    for key in styles:
        if key not in data:
            continue
        given = data[key]
        if not isinstance(given, dict):
            given = {"color": given}
        for field, value in given.items():
            if field == "color":
                styles[key]["color"] = _parse_color(value, where, key)
            elif field == "style" and key != "surface":
                if value not in ("solid", "dashed", "none"):
                    raise TrackError("%s: %s style must be solid, dashed or none, got %r" % (where, key, value))
                styles[key]["style"] = value
            elif field in ("width_m", "dash_m", "gap_m") and key != "surface":
                if not isinstance(value, (int, float)) or not 0 < value < 1:
                    raise TrackError("%s: %s %s must be a number of metres in (0, 1), got %r" % (
                        where, key, field, value))
                styles[key][field] = float(value)
            else:
                raise TrackError("%s: unknown field %r in %s" % (where, field, key))
    return styles


#: bounds of a track file, so one cannot exhaust memory: the floor texture is painted at 200 px/m
MAX_POINTS = 20000
MAX_EXTENT_M = 40.0


class Track:
    """A closed track. ``s`` runs from 0 at the start line (the first centreline point) to
    ``length``; the car drives in point order. Build with :meth:`load` or from a dict."""

    def __init__(self, data, where="track", wheelbase_m=None, max_steer_deg=None):
        if wheelbase_m is None or max_steer_deg is None:
            wb, ms = _sim_defaults()
            wheelbase_m = wb if wheelbase_m is None else wheelbase_m
            max_steer_deg = ms if max_steer_deg is None else max_steer_deg
        if not isinstance(data, dict):
            raise TrackError("%s: a track is a JSON object with name, width_m and centerline" % where)
        self.where = where
        self.name = str(data.get("name") or Path(str(where)).stem)
        width = data.get("width_m")
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0.3 <= width <= 5.0:
            raise TrackError("%s: width_m must be a number of metres between 0.3 and 5, got %r" % (where, width))
        self.width = float(width)
        self.crossings_allowed = bool(data.get("crossings_allowed", False))
        self.style = _parse_style(data, where)
        known = {"name", "width_m", "centerline", "crossings_allowed", "surface", "edge", "center",
                 "description"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise TrackError("%s: unknown key %r (known: %s)" % (where, unknown[0], ", ".join(sorted(known))))
        self._build(self._parse_points(data.get("centerline"), where))
        self._validate(min_turn_radius(wheelbase_m, max_steer_deg), wheelbase_m, max_steer_deg)

    # -- loading ---------------------------------------------------------------------------------
    @staticmethod
    def builtin_names():
        """Names of the tracks shipped with jetracer."""
        return sorted(p.stem for p in TRACKS_DIR.glob("*.json"))

    @classmethod
    def load(cls, name_or_path, wheelbase_m=None, max_steer_deg=None):
        """A built-in track by name (``oval``), a JSON file by path, or a procedural shape
        (``random:SEED`` or ``radial:SEED``, see :mod:`jetracer.sim.shapes`)."""
        from .shapes import is_random_spec, random_track

        if isinstance(name_or_path, Track):
            return name_or_path
        text = str(name_or_path)
        if is_random_spec(text):
            return random_track(text, wheelbase_m=wheelbase_m, max_steer_deg=max_steer_deg)
        path = Path(text)
        if not (path.suffix == ".json" or "/" in text or "\\" in text):
            path = TRACKS_DIR / (text + ".json")
            if not path.is_file():
                raise TrackError("no built-in track named %r (built-in: %s; or pass a .json path, or "
                                 "random:SEED, radial:SEED)" % (text, ", ".join(cls.builtin_names())))
        try:
            raw = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise TrackError("cannot read track file %s: %s" % (path, exc.strerror or exc)) from None
        except UnicodeDecodeError as exc:
            raise TrackError("%s: not UTF-8 text (byte 0x%02x at offset %d): a track is a JSON file" % (
                path, exc.object[exc.start], exc.start)) from None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise TrackError("%s: not valid JSON (%s)" % (path, exc)) from None
        return cls(data, where=str(path), wheelbase_m=wheelbase_m, max_steer_deg=max_steer_deg)

    @staticmethod
    def _parse_points(points, where):
        if not isinstance(points, list):
            raise TrackError("%s: centerline must be a list of [x, y] points in metres" % where)
        try:
            pts = np.array(points, dtype=float)
        except (TypeError, ValueError):
            raise TrackError("%s: centerline must be a list of [x, y] number pairs" % where) from None
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise TrackError("%s: centerline must be a list of [x, y] number pairs" % where)
        if not np.all(np.isfinite(pts)):
            raise TrackError("%s: centerline contains a non-finite coordinate" % where)
        if len(pts) > MAX_POINTS:
            raise TrackError("%s: centerline has %d points; at most %d (sample the curve every 5-20 cm)" % (
                where, len(pts), MAX_POINTS))
        extent = pts.max(axis=0) - pts.min(axis=0)
        if extent.max() > MAX_EXTENT_M:
            raise TrackError("%s: the track spans %.0f x %.0f m; at most %.0f m a side (the simulator paints the "
                             "floor at 5 mm a pixel)" % (where, extent[0], extent[1], MAX_EXTENT_M))
        if len(pts) >= 2 and np.hypot(*(pts[-1] - pts[0])) < 1e-6:
            pts = pts[:-1]  # the closing point repeated: fine
        keep = np.ones(len(pts), dtype=bool)  # drop exact repeats, which have no direction
        if len(pts) > 1:
            keep[1:] = np.hypot(*(np.diff(pts, axis=0).T)) > 1e-9
        pts = pts[keep]
        if len(pts) < 8:
            raise TrackError("%s: centerline has %d distinct points; a closed track needs at least 8 "
                             "(sample the curve every 5-20 cm)" % (where, len(pts)))
        return pts

    # -- geometry --------------------------------------------------------------------------------
    def _build(self, pts):
        self.points = pts
        closed = np.vstack([pts, pts[:1]])
        seg = np.diff(closed, axis=0)
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        self._closing_gap = seg_len[-1]
        self._median_seg = float(np.median(seg_len[:-1]))
        # subdivide every segment so the dense polyline has the same shape, spacing <= _STEP_M
        dense = []
        for i in range(len(pts)):
            n = max(1, int(math.ceil(seg_len[i] / _STEP_M)))
            t = np.arange(n)[:, None] / n
            dense.append(closed[i] + t * seg[i])
        self.xy = np.vstack(dense)  # (M, 2); segment k goes from xy[k] to xy[k+1 mod M]
        nxt = np.roll(self.xy, -1, axis=0)
        self._seg = nxt - self.xy
        self._seg_len = np.hypot(self._seg[:, 0], self._seg[:, 1])
        self.s = np.concatenate([[0.0], np.cumsum(self._seg_len)[:-1]])  # arc length at each dense point
        self.length = float(np.sum(self._seg_len))
        # heading: chord over +-_SMOOTH_M; curvature: each vertex's turning angle spread by a
        # triangular kernel, so a finely sampled circle reads as a constant 1/R, not a ripple
        d = self._interp_xy(self.s + _SMOOTH_M) - self._interp_xy(self.s - _SMOOTH_M)
        self.heading = np.arctan2(d[:, 1], d[:, 0])
        self.curvature = self._smoothed_curvature(pts, seg, seg_len)

    def _smoothed_curvature(self, pts, seg, seg_len):
        vertex_s = np.concatenate([[0.0], np.cumsum(seg_len)[:-1]])
        seg_heading = np.arctan2(seg[:, 1], seg[:, 0])
        turning = np.angle(np.exp(1j * (seg_heading - np.roll(seg_heading, 1))))  # at each vertex
        n = int(math.ceil(self.length / 0.01))
        grid = self.length / n
        pos = vertex_s / grid
        lo = np.floor(pos).astype(int)
        frac = pos - lo
        density = np.zeros(n)
        np.add.at(density, lo % n, turning * (1 - frac))
        np.add.at(density, (lo + 1) % n, turning * frac)
        half = max(1, int(round(_CURVE_SMOOTH_M / grid)))
        kernel = np.concatenate([np.arange(1, half + 1), np.arange(half - 1, 0, -1)]).astype(float)
        kernel /= kernel.sum() * grid
        padded = np.concatenate([density[-len(kernel):], density, density[:len(kernel)]])
        smooth = np.convolve(padded, kernel, mode="same")[len(kernel):len(kernel) + n]
        self._curv_grid = np.arange(n) * grid
        self._curv_values = smooth
        return np.interp(self.s, self._curv_grid, smooth, period=self.length)

    def _interp_xy(self, s):
        s = np.mod(s, self.length)
        k = np.clip(np.searchsorted(self.s, s, side="right") - 1, 0, len(self.s) - 1)
        t = (s - self.s[k]) / self._seg_len[k]
        return self.xy[k] + t[..., None] * self._seg[k]

    def wrap_s(self, s):
        return float(s) % self.length

    def point_at(self, s):
        """(x, y) on the centreline at arc length ``s`` (wraps round the lap)."""
        p = self._interp_xy(np.asarray(float(s)))
        return float(p[0]), float(p[1])

    def heading_at(self, s):
        """Driving direction at ``s`` in radians (0 = +x, counter-clockwise positive)."""
        d = self._interp_xy(np.asarray(float(s) + _SMOOTH_M)) - self._interp_xy(np.asarray(float(s) - _SMOOTH_M))
        return float(math.atan2(d[1], d[0]))

    def curvature_at(self, s):
        """Signed curvature at ``s`` in 1/m (positive = turning left)."""
        return float(np.interp(self.wrap_s(s), self._curv_grid, self._curv_values, period=self.length))

    def normal_at(self, s):
        """Unit vector pointing to the left of the driving direction."""
        h = self.heading_at(s)
        return -math.sin(h), math.cos(h)

    def project(self, xy, s_hint=None, window_m=2.0):
        """(s, cte, heading) of the centreline point nearest ``xy``.

        ``cte`` is the signed cross-track error, positive when ``xy`` is LEFT of the driving
        direction. With ``s_hint`` only centreline within ``window_m`` of it is searched (follows
        the car's own stretch of road where the track passes near itself or crosses).
        """
        s, cte = self.project_many(np.asarray(xy, dtype=float)[None, :], s_hint, window_m)
        s0 = float(s[0])
        return s0, float(cte[0]), self.heading_at(s0)

    def project_many(self, points, s_hint=None, window_m=2.0):
        """Vectorised :meth:`project` for an (N, 2) array: returns (s array, cte array)."""
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        if s_hint is None or window_m * 2 >= self.length:
            idx = np.arange(len(self.xy))
        else:
            m = len(self.xy)
            k0 = int(np.searchsorted(self.s, self.wrap_s(s_hint - window_m))) - 1
            k1 = int(np.searchsorted(self.s, self.wrap_s(s_hint + window_m))) + 1
            idx = np.arange(k0, k1 if k1 > k0 else k1 + m) % m
        a, seg, seg_len = self.xy[idx], self._seg[idx], self._seg_len[idx]
        rel = points[:, None, :] - a[None, :, :]  # (N, K, 2)
        t = np.clip(np.einsum("nkj,kj->nk", rel, seg) / (seg_len ** 2), 0.0, 1.0)
        foot = a[None] + t[..., None] * seg[None]
        diff = points[:, None, :] - foot
        dist2 = np.einsum("nkj,nkj->nk", diff, diff)
        best = np.argmin(dist2, axis=1)
        rows = np.arange(len(points))
        k = idx[best]
        cross = seg[best, 0] * diff[rows, best, 1] - seg[best, 1] * diff[rows, best, 0]
        cte = np.sqrt(dist2[rows, best]) * np.where(cross >= 0, 1.0, -1.0)
        s = np.mod(self.s[k] + t[rows, best] * self._seg_len[k], self.length)
        return s, cte

    def bounds(self, margin=0.0):
        """(xmin, ymin, xmax, ymax) of the road surface, plus ``margin`` metres."""
        pad = self.width / 2 + margin
        lo, hi = self.xy.min(axis=0) - pad, self.xy.max(axis=0) + pad
        return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])

    def edges(self):
        """(left, right) edge polylines as (M, 2) arrays."""
        n = np.stack([-np.sin(self.heading), np.cos(self.heading)], axis=1)
        return self.xy + n * self.width / 2, self.xy - n * self.width / 2

    # -- validation ------------------------------------------------------------------------------
    def _validate(self, r_min_car, wheelbase_m, max_steer_deg):
        where = self.where
        if self.length < 4 * self.width or self.length < 3.0:
            raise TrackError("%s: centreline is only %.2f m long; a track needs a loop of at least 3 m "
                             "and 4 widths" % (where, self.length))
        if self._closing_gap > max(4 * self._median_seg, 0.25):
            x, y = self.points[-1]
            raise TrackError("%s: centerline is not closed: the last point (%.2f, %.2f) is %.2f m from the "
                             "first; continue the line back to the start" % (where, x, y, self._closing_gap))
        radius = 1.0 / max(float(np.max(np.abs(self.curvature))), 1e-9)
        need = max(r_min_car * 1.15, self.width / 2 * 1.05)
        if radius < need:
            k = int(np.argmax(np.abs(self.curvature)))
            x, y = self.xy[k]
            why = ("tighter than the car can turn (%.2f m with wheelbase %.2f m and max steer %.0f deg, plus "
                   "margin)" % (r_min_car, wheelbase_m, max_steer_deg)) if need > self.width / 2 * 1.05 else (
                "under half the road width, so the inner edge folds over")
            raise TrackError("%s: corner near (%.2f, %.2f) has radius %.2f m, %s: widen the corner or add points "
                             "to round it (needs >= %.2f m)" % (where, x, y, radius, why, need))
        total_turn = float(np.sum(self.curvature * self._seg_len))
        if not self.crossings_allowed and abs(abs(total_turn) - 2 * math.pi) > 0.5:
            raise TrackError("%s: the centreline turns %.0f deg over a lap, not 360: it loops or crosses "
                             "itself (set \"crossings_allowed\": true for a figure-eight)" % (
                                 where, math.degrees(total_turn)))
        if not self.crossings_allowed:
            self._check_overlap()

    def _check_overlap(self):
        """Refuse a road that crosses or runs into itself (two stretches closer than the width)."""
        step = max(1, int(round(0.1 / _STEP_M)))
        pts, s = self.xy[::step], self.s[::step]
        worst = None  # (distance, point)
        for start in range(0, len(pts), 256):
            block = pts[start:start + 256]
            d = np.hypot(block[:, None, 0] - pts[None, :, 0], block[:, None, 1] - pts[None, :, 1])
            ds = np.abs(s[start:start + 256, None] - s[None, :])
            ds = np.minimum(ds, self.length - ds)
            d = np.where(ds > 3 * self.width, d, np.inf)  # neighbours along the road don't count
            i, j = np.unravel_index(int(np.argmin(d)), d.shape)
            if d[i, j] < self.width * 0.999 and (worst is None or d[i, j] < worst[0]):
                worst = (float(d[i, j]), block[i])
        if worst is not None:
            dist, (x, y) = worst
            what = "crosses itself" if dist < self.width / 4 else (
                "passes %.2f m from itself (closer than the %.2f m width)" % (dist, self.width))
            raise TrackError("%s: the road %s near (%.2f, %.2f): move the stretches apart (or set "
                             "\"crossings_allowed\": true for a deliberate crossing)" % (self.where, what, x, y))

    def __repr__(self):
        return "Track(%r, length=%.1f m, width=%.2f m)" % (self.name, self.length, self.width)
