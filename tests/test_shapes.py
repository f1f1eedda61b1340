"""Procedural track shapes (`--track random:SEED`, and the radial validation family `radial:SEED`): every
seed gives one drivable track, the same on every run, the racer laps one, collection takes them, and a bad
seed is one line."""

import json
import math

import numpy as np
import pytest

from jetracer.cli import main
from jetracer.errors import TrackError
from jetracer.sim.shapes import random_track_data
from jetracer.sim.track import Track


def test_two_hundred_seeds_each_give_a_track_the_validator_accepts_and_they_differ():
    lengths, turns, widths, longest_straight, shapes = [], [], [], [], set()
    for seed in range(200):
        track = Track.load("random:%d" % seed)  # validated: corner radius, closure, no overlap
        assert track.name == "random-%d" % seed
        extent = track.xy.max(axis=0) - track.xy.min(axis=0)
        assert extent.max() < 14.0  # a room, not a car park
        lengths.append(track.length)
        shapes.add(track.points.round(3).tobytes())
        widths.append(track.width)
        turns.append(math.copysign(1.0, float(np.sum(track.curvature * track._seg_len))))
        straight = np.abs(track.curvature) < 0.05
        longest_straight.append(_longest_run(straight) * 0.02)
        # the car starts on a straight: no corner within a car length of the start line
        assert np.all(np.abs(track.curvature[:15]) < 0.2)
    assert len(shapes) == 200
    assert 8.0 < min(lengths) and max(lengths) < 30.0
    assert 60 < turns.count(1.0) < 140  # clockwise and anticlockwise laps
    assert min(widths) >= 0.9 and max(widths) <= 1.15
    assert max(longest_straight) > 2.5 and min(longest_straight) < 1.5  # long straights and none


def _longest_run(mask):
    best = run = 0
    for v in np.concatenate([mask, mask]):  # the lap wraps
        run = run + 1 if v else 0
        best = max(best, run)
    return min(best, len(mask))


def test_radial_seeds_give_drivable_sweeper_outlines_unlike_the_polygons():
    # the validation family: outlines of the held-out shapes' kind (no long straight), not the polygons
    lengths, turns, longest_straight, shapes = [], [], [], set()
    for seed in range(100):
        track = Track.load("radial:%d" % seed)
        assert track.name == "radial-%d" % seed
        extent = track.xy.max(axis=0) - track.xy.min(axis=0)
        assert extent.max() < 14.0
        lengths.append(track.length)
        shapes.add(track.points.round(3).tobytes())
        turns.append(math.copysign(1.0, float(np.sum(track.curvature * track._seg_len))))
        longest_straight.append(_longest_run(np.abs(track.curvature) < 0.05) * 0.02)
        # set off on its straightest part (an outline of sweepers may have no straight at all)
        assert np.mean(np.abs(track.curvature[:15])) <= np.median(np.abs(track.curvature))
    assert len(shapes) == 100
    assert 10.0 < min(lengths) and max(lengths) < 30.0
    assert 25 < turns.count(1.0) < 75
    polygons = [_longest_run(np.abs(Track.load("random:%d" % s).curvature) < 0.05) * 0.02 for s in range(100)]
    assert np.median(longest_straight) < 0.5 * np.median(polygons)


def test_the_polygon_family_is_the_one_earlier_datasets_were_collected_on():
    # adding the radial family must not move a random:SEED shape (the recipes' data would change)
    a = random_track_data(7)
    assert a["width_m"] == 1.015 and len(a["centerline"]) == 294 and a["centerline"][100] == [2.3663, 2.1007]
    assert random_track_data("random:7") == a
    assert random_track_data("radial:7")["centerline"] != a["centerline"]


def test_the_same_seed_is_the_same_track_and_another_seed_is_not():
    a, b, c = random_track_data(7), random_track_data(7), random_track_data(8)
    assert a == b
    assert a["centerline"] != c["centerline"]


def test_the_racer_laps_a_procedural_shape_cleanly(tmp_path):
    out = tmp_path / "m.json"
    assert main(["drive", "--sim", "--pilot", "racer", "--track", "random:3", "--laps", "2",
                 "--metrics-json", str(out)]) == 0
    m = json.loads(out.read_text())
    assert m["stop_reason"] == "laps" and m["laps_completed"] == 2 and m["off_track_events"] == 0


def test_collection_splits_frames_over_procedural_shapes_with_speed_labels(tmp_path):
    from jetracer.data.sidecar import read_labels

    assert main(["collect", "--sim", "--track", "oval", "random:11", "random:12", "--frames", "30", "--seed", "4",
                 "--out", str(tmp_path)]) == 0
    assert (tmp_path / "collect-random-11-seed1004.json").is_file()
    assert (tmp_path / "collect-random-12-seed2004.json").is_file()
    labels = read_labels(tmp_path / "apex")
    assert len(labels) == 30 and all(0.0 < v["throttle"] <= 1.0 for v in labels.values())


@pytest.mark.parametrize("spec, words", [("random:abc", "whole number"), ("random:-3", ">= 0"),
                                         ("random:", "whole number"), ("random:1.5", "whole number"),
                                         ("radial:x", "whole number"), ("radial:-1", ">= 0")])
def test_a_bad_seed_is_one_line_and_exit_2(spec, words, capsys):
    assert main(["drive", "--sim", "--pilot", "racer", "--track", spec, "--laps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1 and "Traceback" not in err
    with pytest.raises(TrackError):
        Track.load(spec)


def test_a_wider_turning_car_gets_a_track_it_can_drive():
    # the generator validates against the car it is asked for, so a profile's own car never gets a refusal
    from jetracer.sim.track import min_turn_radius

    for seed in range(20):
        track = Track.load("random:%d" % seed, wheelbase_m=0.4, max_steer_deg=20.0)
        assert 1.0 / np.max(np.abs(track.curvature)) >= 1.15 * min_turn_radius(0.4, 20.0)
