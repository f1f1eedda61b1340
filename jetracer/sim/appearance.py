"""What a room looks like: floor, road markings, light, camera mounting, blur, clutter.

Domain randomisation draws one :class:`Appearance` per episode from the space real rooms span:

- floor: ``wood`` (planks), ``carpet`` (fine pile, soft blotches), ``concrete`` (blotchy grey), ``tiles``
  (grout lines) or ``vinyl`` (nearly plain), in a colour that suits it, with shadows and glare;
- road surface: painted (a contrasting strip, as the built-in tracks) or the bare floor (tape only);
- edge marks: solid tape, dashed tape or none, in a colour family, 2-8 cm wide;
- centre line: solid, dashed or none, in a colour family;
- light: exposure, white balance, gamma; camera height, pitch and field of view jitter; motion blur;
  sensor noise; distractors (tape scraps, stains, boxes and furniture feet beside the track).

**Held-out appearances.** A few named rooms (:data:`HELD_OUT`) that training must never see, so a
model can be scored on rooms that are new to it. The style space is partitioned by the *cell* of an
appearance: ``(floor kind, (edge style, edge colour family), (centre style, centre colour family))``.
A cell is held out when it is one of :data:`HELD_OUT_CELLS`, or uses a colour family of
:data:`HELD_OUT_FAMILIES` (``purple`` tape exists only in held-out rooms). :func:`sample_training`
draws only cells outside that set (``is_held_out(cell)`` is False); every held-out appearance's cell is
inside it; ``tests/test_sim_appearance.py`` checks both. The held-out rooms are not reachable from
``jetracer collect`` (it only ever calls :func:`sample_training`): they exist for evaluation alone.
"""

import colorsys

__all__ = ["Appearance", "FLOOR_KINDS", "FAMILIES", "TRAINING_FAMILIES", "HELD_OUT_FAMILIES", "HELD_OUT_CELLS",
           "HELD_OUT", "PALE_FLOOR_LUMA", "held_out", "held_out_names", "is_held_out", "is_tape_on_pale_floor",
           "sample_training", "plain"]

FLOOR_KINDS = ("wood", "carpet", "concrete", "tiles", "vinyl")
MARK_STYLES = ("solid", "dashed", "none")

#: colour family -> (hue range in degrees or None for greys, saturation range, value range)
FAMILIES = {
    "white": (None, (0.0, 0.08), (0.85, 1.0)),
    "black": (None, (0.0, 0.15), (0.05, 0.2)),
    "yellow": ((45, 60), (0.6, 1.0), (0.75, 1.0)),
    "orange": ((20, 35), (0.7, 1.0), (0.75, 1.0)),
    "red": ((-8, 8), (0.65, 1.0), (0.55, 0.95)),
    "green": ((95, 150), (0.5, 1.0), (0.45, 0.9)),
    "blue": ((200, 235), (0.55, 1.0), (0.45, 0.95)),
    "purple": ((270, 300), (0.45, 0.9), (0.4, 0.85)),
}
HELD_OUT_FAMILIES = ("purple",)
TRAINING_FAMILIES = tuple(f for f in FAMILIES if f not in HELD_OUT_FAMILIES)

#: floor kind -> (hue range, saturation range, value range) of the floor colour
_FLOOR_COLORS = {
    "wood": ((20, 40), (0.25, 0.6), (0.35, 0.85)),
    "carpet": ((0, 360), (0.0, 0.45), (0.12, 0.6)),
    "concrete": ((0, 360), (0.0, 0.08), (0.35, 0.75)),
    "tiles": ((0, 360), (0.0, 0.25), (0.45, 0.92)),
    "vinyl": ((0, 360), (0.0, 0.35), (0.25, 0.85)),
}


def _hsv_to_bgr(h_deg, s, v):
    r, g, b = colorsys.hsv_to_rgb((h_deg % 360.0) / 360.0, min(1.0, max(0.0, s)), min(1.0, max(0.0, v)))
    return (int(round(b * 255)), int(round(g * 255)), int(round(r * 255)))


def _family_color(rng, family):
    hue, sat, val = FAMILIES[family]
    h = rng.uniform(*hue) if hue is not None else 0.0
    return _hsv_to_bgr(h, rng.uniform(*sat), rng.uniform(*val))


def _luma(bgr):
    b, g, r = bgr
    return 0.114 * b + 0.587 * g + 0.299 * r


class Appearance:
    """One room. Attributes are plain dicts/numbers (see the module docstring); ``cell`` is its
    partition key. Build with :func:`sample_training`, :func:`held_out` or :func:`plain`."""

    def __init__(self, floor, road, edge, center, light, camera, effects, wall, name=None, seed=0):
        self.floor, self.road, self.edge, self.center = floor, road, edge, center
        self.light, self.camera, self.effects, self.wall = light, camera, effects, wall
        self.name = name
        self.seed = int(seed)  # texture noise, distractor placement

    @property
    def cell(self):
        def mark(m):
            return (m["style"], None if m["style"] == "none" else m["family"])
        return (self.floor["kind"], mark(self.edge), mark(self.center))

    def camera_kwargs(self, base):
        """CameraModel arguments: ``base`` (the profile's camera section) jittered by this room's camera."""
        kw = {"width": base.get("width", 224), "height": base.get("height", 224),
              "fov_deg": base.get("fov_deg", 160.0), "lens": base.get("lens", "fisheye"),
              "pitch_deg": base.get("pitch_deg", 20.0), "mount_height_m": base.get("mount_height_m", 0.12)}
        kw["fov_deg"] = kw["fov_deg"] + self.camera.get("fov_deg", 0.0)
        kw["pitch_deg"] = kw["pitch_deg"] + self.camera.get("pitch_deg", 0.0)
        kw["mount_height_m"] = kw["mount_height_m"] * self.camera.get("height_scale", 1.0)
        return kw

    def __repr__(self):
        return "Appearance(%s, cell=%r)" % (self.name or "random", self.cell)


def is_held_out(cell):
    """True for a cell that only held-out rooms may use."""
    _, (_, edge_family), (_, centre_family) = cell
    return cell in HELD_OUT_CELLS or edge_family in HELD_OUT_FAMILIES or centre_family in HELD_OUT_FAMILIES


def _mark(rng, width_range, none_p):
    style = "none" if rng.random() < none_p else ("solid" if rng.random() < 0.55 else "dashed")
    family = str(rng.choice(TRAINING_FAMILIES))
    dash = rng.uniform(0.08, 0.4)
    return {"style": style, "family": family, "color": _family_color(rng, family),
            "width_m": rng.uniform(*width_range), "dash_m": dash, "gap_m": dash * rng.uniform(0.4, 1.5)}


def _effects(rng):
    return {
        "glare": rng.uniform(0.0, 90.0) if rng.random() < 0.45 else 0.0,
        "glare_xy": (rng.uniform(0.1, 0.9), rng.uniform(0.0, 0.6)),
        "glare_size": rng.uniform(0.08, 0.35),
        "shadows": int(rng.integers(0, 6)) if rng.random() < 0.6 else 0,
        "shadow_depth": rng.uniform(0.35, 0.8),
        "distractors": int(rng.integers(0, 25)),
        "road_distractors": int(rng.integers(0, 6)),
        "objects": int(rng.integers(0, 8)),
        "motion_blur_p": rng.uniform(0.0, 0.4),
        "blur_p": rng.uniform(0.0, 0.35),
        "noise_sd": rng.uniform(1.0, 7.0),
    }


#: a floor at least this light (BT.601 luma of its colour, 0-255) counts as pale for :func:`is_tape_on_pale_floor`
PALE_FLOOR_LUMA = 128


def is_tape_on_pale_floor(app):
    """True for a room whose road is only edge tape on a light bare floor: no painted strip, no centre line.

    The issue's failing room (a light wooden floor, coloured tape edges, no centre line) and the hardest kind
    for a small network: little contrast between floor and road, and the two edges the only cue. About 8 % of
    :func:`sample_training`'s unweighted draws; its ``tape_share`` draws more."""
    return (app.road["color"] is None and app.edge["style"] != "none" and app.center["style"] == "none"
            and _luma(app.floor["color"]) >= PALE_FLOOR_LUMA)


def sample_training(rng, tape_share=0.0, max_tries=1000):
    """A random room for training; never a held-out cell (see the module docstring).

    ``tape_share``: the share of rooms drawn from the tape-on-a-pale-floor kind alone
    (:func:`is_tape_on_pale_floor`). Those come from the same distribution, kept only when they are of the
    kind, so no new colour or cell appears, and the held-out cells stay out. At 0 no extra random number is
    drawn: a seed gives the same room as before the option existed, so existing datasets still reproduce."""
    tape_only = tape_share > 0 and rng.random() < tape_share
    for _ in range(max_tries):
        app = _sample(rng)
        if not is_held_out(app.cell) and (not tape_only or is_tape_on_pale_floor(app)):
            return app
    raise RuntimeError("could not draw a training appearance outside the held-out cells")  # pragma: no cover


def _sample(rng):
    kind = str(rng.choice(FLOOR_KINDS))
    hue, sat, val = _FLOOR_COLORS[kind]
    floor_color = _hsv_to_bgr(rng.uniform(*hue), rng.uniform(*sat), rng.uniform(*val))
    floor = {"kind": kind, "color": floor_color, "contrast": rng.uniform(0.3, 1.3), "grain": rng.uniform(0.0, 6.0),
             "plank_m": rng.uniform(0.08, 0.3), "tile_m": rng.uniform(0.25, 0.6), "along_x": bool(rng.random() < 0.5)}
    if rng.random() < 0.55:  # a painted road strip of its own colour (darker or lighter than the floor)
        lum = _luma(floor_color) / 255.0
        v = rng.uniform(0.08, 0.35) if lum > 0.45 or rng.random() < 0.5 else rng.uniform(0.55, 0.9)
        road = {"color": _hsv_to_bgr(rng.uniform(0, 360), rng.uniform(0.0, 0.3), v)}
    else:
        road = {"color": None}  # tape on the bare floor
    edge = _mark(rng, (0.02, 0.08), none_p=0.15)
    center = _mark(rng, (0.02, 0.06), none_p=0.35)
    if road["color"] is None and edge["style"] == "none" and center["style"] == "none":
        edge["style"] = "solid"  # a room with nothing on the floor has no track to follow
    light = {"gain": rng.uniform(0.55, 1.4), "wb": tuple(rng.uniform(0.8, 1.2, 3)), "gamma": rng.uniform(0.7, 1.35),
             "bias": rng.uniform(-20, 20)}
    camera = {"height_scale": rng.uniform(0.8, 1.25), "pitch_deg": rng.uniform(-5.0, 5.0),
              "fov_deg": rng.uniform(-12.0, 8.0)}
    wall = _hsv_to_bgr(rng.uniform(0, 360), rng.uniform(0, 0.5), rng.uniform(0.2, 0.95))
    return Appearance(floor, road, edge, center, light, camera, _effects(rng), wall, seed=int(rng.integers(2 ** 31)))


def plain(track):
    """The track file's own colours on the default grey floor, no effects: the un-randomised look."""
    style = track.style
    floor = {"kind": "plain", "color": (118, 128, 134)}
    return Appearance(floor, {"color": tuple(style["surface"]["color"])}, dict(style["edge"], family="file"),
                      dict(style["center"], family="file"), light=None, camera={}, effects=None, wall=(150, 160, 170),
                      name="plain")


def _fixed(name, floor, road, edge, center, light=None, camera=None, effects=None, wall=(170, 175, 180), seed=0):
    base_fx = {"glare": 0.0, "glare_xy": (0.5, 0.3), "glare_size": 0.2, "shadows": 0, "shadow_depth": 0.6,
               "distractors": 8, "road_distractors": 1, "objects": 3, "motion_blur_p": 0.1, "blur_p": 0.1,
               "noise_sd": 3.0}
    base_fx.update(effects or {})
    base_light = {"gain": 1.0, "wb": (1.0, 1.0, 1.0), "gamma": 1.0, "bias": 0.0}
    base_light.update(light or {})
    floor = dict({"contrast": 0.8, "grain": 3.0, "plank_m": 0.15, "tile_m": 0.4, "along_x": True}, **floor)
    for mark in (edge, center):
        mark.setdefault("width_m", 0.05)
        mark.setdefault("dash_m", 0.25)
        mark.setdefault("gap_m", 0.25)
        mark.setdefault("family", None)
    return Appearance(floor, road, edge, center, base_light, camera or {}, base_fx, wall, name=name, seed=seed)


def _held_out_rooms():
    """The named held-out rooms, built fresh each call (callers may not mutate a shared one)."""
    return {
        # the failure: light wooden floor, coloured tape edges, no centre line
        "wood-blue-tape": _fixed(
            "wood-blue-tape", {"kind": "wood", "color": _hsv_to_bgr(32, 0.38, 0.8)}, {"color": None},
            {"style": "solid", "family": "blue", "color": _hsv_to_bgr(215, 0.8, 0.75), "width_m": 0.05},
            {"style": "none", "family": None, "color": (0, 0, 0)},
            effects={"glare": 60.0, "glare_xy": (0.6, 0.25), "glare_size": 0.25}, seed=101),
        # dark carpet, dashed white edges, a solid white centre line
        "carpet-white-dashed": _fixed(
            "carpet-white-dashed", {"kind": "carpet", "color": _hsv_to_bgr(220, 0.25, 0.22)}, {"color": None},
            {"style": "dashed", "family": "white", "color": (235, 238, 240), "width_m": 0.04, "dash_m": 0.2,
             "gap_m": 0.15},
            {"style": "solid", "family": "white", "color": (230, 232, 235), "width_m": 0.03},
            light={"gain": 0.85, "wb": (1.1, 1.0, 0.9)}, seed=102),
        # grey tiles, red tape edges, a dashed yellow centre line, shadows across the floor
        "tiles-red-yellow": _fixed(
            "tiles-red-yellow", {"kind": "tiles", "color": _hsv_to_bgr(40, 0.08, 0.78), "tile_m": 0.3},
            {"color": None},
            {"style": "solid", "family": "red", "color": _hsv_to_bgr(0, 0.85, 0.8), "width_m": 0.05},
            {"style": "dashed", "family": "yellow", "color": _hsv_to_bgr(52, 0.9, 0.9), "width_m": 0.04},
            effects={"shadows": 4, "shadow_depth": 0.55}, light={"wb": (0.9, 1.0, 1.12)}, seed=103),
        # bare concrete, no edge marks at all, a darker painted road with a solid orange centre line
        "concrete-no-edges": _fixed(
            "concrete-no-edges", {"kind": "concrete", "color": _hsv_to_bgr(0, 0.02, 0.62)},
            {"color": _hsv_to_bgr(0, 0.0, 0.3)},
            {"style": "none", "family": None, "color": (0, 0, 0)},
            {"style": "solid", "family": "orange", "color": _hsv_to_bgr(28, 0.9, 0.95), "width_m": 0.04},
            light={"gain": 1.2, "gamma": 0.85}, seed=104),
        # a tape colour training never sees: purple edges on light vinyl, dashed white centre
        "vinyl-purple-tape": _fixed(
            "vinyl-purple-tape", {"kind": "vinyl", "color": _hsv_to_bgr(60, 0.1, 0.8)}, {"color": None},
            {"style": "solid", "family": "purple", "color": _hsv_to_bgr(285, 0.7, 0.6), "width_m": 0.06},
            {"style": "dashed", "family": "white", "color": (240, 240, 240), "width_m": 0.03},
            camera={"height_scale": 1.15, "pitch_deg": 3.0}, seed=105),
    }


def held_out_names():
    return sorted(_held_out_rooms())


def held_out(name):
    """The named held-out room (see :func:`held_out_names`)."""
    rooms = _held_out_rooms()
    if name not in rooms:
        from ..errors import TrackError

        raise TrackError("no held-out appearance named %r (known: %s)" % (name, ", ".join(sorted(rooms))))
    return rooms[name]


#: The partition's held-out cells: every named held-out room's cell (purple ones are held out anyway).
HELD_OUT_CELLS = frozenset(room.cell for room in _held_out_rooms().values())
HELD_OUT = tuple(held_out_names())
