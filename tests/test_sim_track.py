"""Tracks: the built-ins load and are drivable; geometry queries agree; bad files get one-line errors."""

import json
import math

import numpy as np
import pytest
from helpers import wrap_angle

from jetracer.errors import TrackError
from jetracer.sim.track import Track, stadium_centerline


def stadium(straight=4.0, radius=1.5, step=0.05):
    return stadium_centerline(straight, radius, step)


def test_builtins_load_at_1_10_scale():
    names = Track.builtin_names()
    assert {"oval", "technical", "chicane"} <= set(names)
    for name in names:
        track = Track.load(name)
        assert 0.8 <= track.width <= 1.5
        min_radius = 1 / np.max(np.abs(track.curvature))
        assert min_radius >= 0.95, (name, min_radius)
        assert track.length > 10


def test_technical_track_has_left_and_right_corners_of_varied_radius():
    track = Track.load("technical")
    radii = 1 / np.abs(track.curvature[np.abs(track.curvature) > 0.05])
    assert np.min(track.curvature) < -0.3 and np.max(track.curvature) > 0.3  # turns both ways
    assert radii.max() / radii.min() > 2


def test_point_at_and_project_agree():
    track = Track.load("technical")
    for s in np.linspace(0, track.length, 37, endpoint=False):
        x, y = track.point_at(s)
        s2, cte, heading = track.project((x, y))
        assert abs((s2 - s + track.length / 2) % track.length - track.length / 2) < 1e-6
        assert abs(cte) < 1e-6
        assert abs(wrap_angle(heading - track.heading_at(s))) < 1e-9
        # a point 0.3 m to the left of the driving direction has cte +0.3
        nx, ny = track.normal_at(s)
        s3, cte3, _ = track.project((x + 0.3 * nx, y + 0.3 * ny), s_hint=s)
        assert cte3 == pytest.approx(0.3, abs=0.01)
        _, cte4, _ = track.project((x - 0.3 * nx, y - 0.3 * ny))
        assert cte4 == pytest.approx(-0.3, abs=0.01)


def test_arc_length_heading_and_curvature_of_an_oval():
    track = Track({"name": "s", "width_m": 1.0, "centerline": stadium()})
    assert track.length == pytest.approx(8 + 2 * math.pi * 1.5, rel=2e-3)
    assert track.point_at(0.0) == pytest.approx((0.0, 0.0))
    assert track.point_at(track.length + 1.0) == pytest.approx(track.point_at(1.0))
    assert track.heading_at(0.5) == pytest.approx(0.0, abs=1e-6)  # along +x
    assert track.curvature_at(0.5) == pytest.approx(0.0, abs=1e-6)
    mid_corner = 2.0 + math.pi * 1.5 / 2
    assert track.curvature_at(mid_corner) == pytest.approx(1 / 1.5, rel=0.03)  # left turn: positive
    assert track.heading_at(mid_corner) == pytest.approx(math.pi / 2, abs=0.02)


def _error(data, match, tmp_path=None):
    with pytest.raises(TrackError, match=match) as info:
        Track(data, where="t.json")
    assert "\n" not in str(info.value)
    return str(info.value)


def test_malformed_tracks_are_refused_with_one_line():
    good = stadium()
    _error({"width_m": 1.0, "centerline": good[:5]}, "at least 8")
    _error({"width_m": 1.0, "centerline": "nope"}, "list of")
    _error({"width_m": 1.0, "centerline": [[0, 0], [1]] * 5}, "number pairs")
    _error({"width_m": 0.0, "centerline": good}, "width_m")
    _error({"width_m": "wide", "centerline": good}, "width_m")
    _error({"width_m": 1.0, "centerline": good, "colour": "red"}, "unknown key")
    _error({"width_m": 1.0, "centerline": good, "edge": "white"}, "#rrggbb")
    _error({"width_m": 1.0, "centerline": good[: len(good) * 2 // 3]}, "not closed")
    # a 0.4 m radius stadium: tighter than the sim car (0.26 m wheelbase, 28 deg -> 0.49 m)
    msg = _error({"width_m": 0.6, "centerline": stadium(radius=0.4, step=0.02)}, "tighter than the car can turn")
    assert "0.49" in msg
    # a square polyline has sharp corners: too tight
    square = [[x, 0] for x in range(4)] + [[4, y] for y in range(4)] + [[4 - x, 4] for x in range(4)] + [
        [0, 4 - y] for y in range(4)]
    _error({"width_m": 1.0, "centerline": square}, "radius")


def test_self_intersecting_and_overlapping_tracks_are_refused():
    # a figure-eight (lemniscate) crosses itself
    t = np.linspace(0, 2 * math.pi, 400, endpoint=False)
    eight = np.c_[6 * np.sin(t), 3 * np.sin(2 * t)].tolist()
    _error({"width_m": 1.0, "centerline": eight}, "turns|crosses")
    # ... unless declared, then it loads and projection follows the car's own stretch
    track = Track({"name": "eight", "width_m": 1.0, "centerline": eight, "crossings_allowed": True})
    s_cross = 0.0  # the crossing point (0, 0) is the start
    s, cte, _ = track.project((0.0, 0.0), s_hint=track.length / 2)
    assert abs(cte) < 1e-6 and abs(s - track.length / 2) < 0.05
    assert track.project((0.0, 0.0), s_hint=s_cross)[0] in (pytest.approx(0, abs=0.05),
                                                           pytest.approx(track.length, abs=0.05))
    # a peanut (Cassini oval) whose waist is 1.8 m across, on a 1.9 m wide road: the two sides of the
    # waist overlap although no corner is too tight and the line never crosses
    t = np.linspace(0, 2 * math.pi, 1200, endpoint=False)
    r = np.sqrt(16 * np.cos(2 * t) + np.sqrt(256 * np.cos(2 * t) ** 2 - 256 + 4.1 ** 4))
    peanut = np.c_[r * np.cos(t), r * np.sin(t)].tolist()
    assert Track({"width_m": 1.5, "centerline": peanut}).width == 1.5
    _error({"width_m": 1.9, "centerline": peanut}, r"passes 1\.8\d m from itself")


def test_load_by_name_and_path(tmp_path):
    assert Track.load("oval").name == "oval"
    with pytest.raises(TrackError, match="no built-in track named 'moon'.*oval"):
        Track.load("moon")
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "width_m": 1.2, "centerline": stadium()}))
    assert Track.load(str(path)).width == 1.2
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "width_m": 1.0, "centerline": [[0, 0],')
    with pytest.raises(TrackError, match="bad.json: not valid JSON"):
        Track.load(str(bad))
    with pytest.raises(TrackError, match="cannot read track file"):
        Track.load(str(tmp_path / "missing.json"))
