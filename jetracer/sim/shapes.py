"""Procedural track shapes: ``--track random:SEED`` anywhere a track is named.

The three built-in training tracks teach a network three curvature profiles; a speed it learns
there is the speed of those three laps, and a new room's new shape (a longer straight, a faster
sweeper) gets their average. A random shape per collection shard covers what real tracks vary: how long the straights
are, how tight each corner is, left and right turns, the track's width.

Construction: a star-shaped polygon of 4-7 corners around the origin, each corner rounded by a
circular arc of its own radius, the straights between them left straight. That differs from the
radial (Fourier) outlines of the held-out shapes in ``models/heldout/``, so no seed reproduces
them. A seed whose polygon cannot be rounded into a drivable track (a corner tighter than the car
can turn, the road passing too close to itself) moves on to the next candidate of the same
seed's random stream, so every seed gives one track, the same one on every machine.

``radial:SEED`` is the other family, for validation: a radial outline ``r(theta) = R (1 + sum of
harmonics 2-4)``, the held-out shapes' kind (no straights; long sweepers of changing radius, where a
network's speed falls short). No recipe collects on it, so a setting chosen on ``radial:`` shapes is
chosen on shapes of the held-out kind without looking at the held-out ones (fixed files that random
coefficients do not reproduce).
"""

import math

import numpy as np

__all__ = ["RANDOM_PREFIX", "RADIAL_PREFIX", "is_random_spec", "random_track", "random_track_data"]

#: ``random:17`` names the procedural shape of seed 17
RANDOM_PREFIX = "random:"
#: ``radial:17`` names the radial-outline (validation) shape of seed 17
RADIAL_PREFIX = "radial:"

_STEP_M = 0.05  # centreline sampling
_CORNERS = (4, 8)  # polygon corners, [low, high)
_CORNER_DISTANCE_M = (1.6, 4.6)  # corner distance from the centre
_ARC_RADIUS_M = (0.7, 3.0)  # each corner's rounding radius before it is fitted to its straights
_MIN_ARC_RADIUS_M = 0.7  # a corner squeezed tighter than this is redrawn (the validator's limit is ~0.56 m)
_WIDTH_M = (0.9, 1.15)
_STREAM = 0x7261636B  # "rack": keeps these draws apart from any other use of the same seed
_ATTEMPTS = 200
_RADIUS_M = (2.4, 3.4)  # radial outlines: mean radius
_HARMONICS = {2: 0.25, 3: 0.16, 4: 0.09}  # radial outlines: harmonic k's largest relative amplitude
_RADIAL_STREAM = 0x72616469  # "radi"


def is_random_spec(text):
    """Whether a ``--track`` argument names a procedural shape (``random:SEED`` or ``radial:SEED``)."""
    return str(text).startswith((RANDOM_PREFIX, RADIAL_PREFIX))


def random_track(spec, wheelbase_m=None, max_steer_deg=None):
    """The :class:`~jetracer.sim.track.Track` of a procedural shape: ``random:SEED``, ``radial:SEED``,
    or a bare seed for ``random:`` (see :func:`random_track_data`)."""
    return _draw(spec, wheelbase_m, max_steer_deg)[1]


def random_track_data(spec, wheelbase_m=None, max_steer_deg=None):
    """The track dict (as :class:`~jetracer.sim.track.Track` takes it) of procedural shape ``spec``
    (``random:SEED``, ``radial:SEED``, or a bare seed for ``random:``), drivable by a car of
    ``wheelbase_m`` and ``max_steer_deg`` (default: the profile schema's simulated car). The same
    seed and car give the same track; a car that turns wider may skip a candidate the default car
    takes, and so get another track for that seed.

    Raises :class:`~jetracer.errors.TrackError` for a seed that is not a whole number >= 0.
    """
    return _draw(spec, wheelbase_m, max_steer_deg)[0]


def _draw(spec, wheelbase_m, max_steer_deg, attempts=_ATTEMPTS):
    """``(data, track)`` of the first candidate of the seed's stream that the validator accepts."""
    from ..errors import TrackError
    from .track import Track

    text = str(spec)
    prefix = RADIAL_PREFIX if text.startswith(RADIAL_PREFIX) else RANDOM_PREFIX
    family = prefix.rstrip(":")
    seed = text[len(prefix):] if text.startswith(prefix) else spec
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        raise TrackError("a %s track is %sSEED with SEED a whole number, got %r" % (family, prefix, seed)) from None
    if seed < 0:
        raise TrackError("a %s track's seed must be >= 0, got %d" % (family, seed))
    radial = prefix == RADIAL_PREFIX
    rng = np.random.default_rng([seed, _RADIAL_STREAM if radial else _STREAM])
    for _ in range(attempts):
        centerline = _radial_outline(rng) if radial else _rounded_polygon(rng)
        if centerline is None:
            continue
        data = {"name": "%s-%d" % (family, seed), "width_m": round(float(rng.uniform(*_WIDTH_M)), 3),
                "description": "procedural %sshape (jetracer.sim.shapes), seed %d" % (
                    "radial " if radial else "", seed),
                "centerline": [[round(float(x), 4), round(float(y), 4)] for x, y in centerline]}
        try:
            track = Track(data, where="%s%d" % (prefix, seed), wheelbase_m=wheelbase_m, max_steer_deg=max_steer_deg)
        except TrackError:
            continue
        return data, track
    raise TrackError("%s%d: no drivable shape in %d candidates" % (prefix, seed, attempts))  # never seen in practice


def _radial_outline(rng):
    """An (N, 2) centreline ``r(theta) = R (1 + sum_k a_k cos(k theta + phase_k))``, sampled every
    ~``_STEP_M`` and started at its straightest point; None when it dents too deep."""
    radius = rng.uniform(*_RADIUS_M)
    theta = np.linspace(0.0, 2 * math.pi, 4096, endpoint=False)
    r = np.ones_like(theta)
    for k, top in _HARMONICS.items():
        r += rng.uniform(0.0, top) * np.cos(k * theta + rng.uniform(0.0, 2 * math.pi))
    if r.min() < 0.45:
        return None
    pts = radius * np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)
    if rng.random() < 0.5:  # clockwise half the time
        pts = pts[::-1]
    seg = np.hypot(*(np.roll(pts, -1, axis=0) - pts).T)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    even = np.arange(0.0, s[-1], _STEP_M)
    closed = np.vstack([pts, pts[:1]])
    pts = np.stack([np.interp(even, s, closed[:, 0]), np.interp(even, s, closed[:, 1])], axis=1)
    d1 = np.roll(pts, -1, axis=0) - np.roll(pts, 1, axis=0)
    heading = np.unwrap(np.arctan2(d1[:, 1], d1[:, 0]))
    turn = np.abs(np.gradient(heading))
    smooth = np.convolve(np.concatenate([turn[-20:], turn, turn[:20]]), np.ones(41) / 41, mode="valid")
    pts = np.roll(pts, -int(np.argmin(smooth)), axis=0)
    return pts - pts[0]


def _rounded_polygon(rng):
    """An (N, 2) centreline, or None when a corner cannot be rounded wide enough."""
    n = int(rng.integers(*_CORNERS))
    spacing = 2 * math.pi / n
    angles = np.arange(n) * spacing + rng.uniform(-0.3, 0.3, n) * spacing
    dist = rng.uniform(*_CORNER_DISTANCE_M, n)
    stretch = rng.uniform(0.75, 1.35)  # an oblong room
    corners = np.stack([dist * np.cos(angles) * stretch, dist * np.sin(angles) / stretch], axis=1)
    if rng.random() < 0.5:  # clockwise half the time: right-hand corners as often as left
        corners = corners[::-1]
    edges = np.roll(corners, -1, axis=0) - corners  # edge i runs from corner i to corner i+1
    lengths = np.hypot(edges[:, 0], edges[:, 1])
    if np.any(lengths < 1.0):
        return None
    heading = np.arctan2(edges[:, 1], edges[:, 0])
    turn = (heading - np.roll(heading, 1) + math.pi) % (2 * math.pi) - math.pi  # at corner i, from edge i-1 to i
    if np.any(np.abs(turn) > math.radians(150)) or np.any(np.abs(turn) < math.radians(5)):
        return None
    radius = rng.uniform(*_ARC_RADIUS_M, n)
    tangent = radius * np.tan(np.abs(turn) / 2)
    for i in range(n):  # edge i carries corner i's and corner i+1's tangents: shrink both to fit
        j = (i + 1) % n
        room = 0.9 * lengths[i]
        if tangent[i] + tangent[j] > room:
            scale = room / (tangent[i] + tangent[j])
            tangent[i] *= scale
            tangent[j] *= scale
    radius = tangent / np.tan(np.abs(turn) / 2)
    if np.any(radius < _MIN_ARC_RADIUS_M):
        return None
    pieces = []
    for i in range(n):
        pieces.append(_arc(corners[i], heading[i - 1], turn[i], radius[i], tangent[i]))
        start = corners[i] + tangent[i] * np.array([math.cos(heading[i]), math.sin(heading[i])])
        end = corners[(i + 1) % n] - tangent[(i + 1) % n] * np.array([math.cos(heading[i]), math.sin(heading[i])])
        pieces.append(_line(start, end))
    pts = np.vstack(pieces)
    # start mid-way along the longest straight, so the car sets off on a straight
    longest = int(np.argmax(lengths - tangent - np.roll(tangent, -1)))
    first = sum(len(p) for p in pieces[:2 * longest + 1]) + len(pieces[2 * longest + 1]) // 2
    pts = np.roll(pts, -first, axis=0)
    return pts - pts[0]


def _arc(corner, heading_in, turn, radius, tangent):
    """Points of the arc that rounds ``corner`` (from the incoming straight's tangent point on)."""
    d_in = np.array([math.cos(heading_in), math.sin(heading_in)])
    left = np.array([-d_in[1], d_in[0]])
    start = corner - tangent * d_in
    centre = start + left * radius * math.copysign(1.0, turn)
    a0 = math.atan2(start[1] - centre[1], start[0] - centre[0])
    m = max(2, int(math.ceil(abs(turn) * radius / _STEP_M)))
    a = a0 + np.arange(m) / m * turn
    return np.stack([centre[0] + radius * np.cos(a), centre[1] + radius * np.sin(a)], axis=1)


def _line(start, end):
    """Points from ``start`` towards ``end`` (``end`` itself belongs to the next arc)."""
    m = max(1, int(math.ceil(float(np.hypot(*(end - start))) / _STEP_M)))
    t = np.arange(m)[:, None] / m
    return start + t * (end - start)
