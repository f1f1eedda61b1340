"""The shipped fast network (arch `fast`, 128x128, throttle output) drives 3 clean laps of every built-in
track through `jetracer drive --sim`, its throttle from the network, the road monitor on."""

import json
from pathlib import Path

import pytest

from jetracer.cli import main
from jetracer.sim.track import Track

MODEL = Path(__file__).resolve().parent.parent / "models" / "road_following_fast.pth"

pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="models/road_following_fast.pth is not shipped")


def test_fast_model_is_small_documented_and_has_a_throttle_output():
    from jetracer.models import load_model

    assert MODEL.stat().st_size < 2 * 1024 * 1024
    assert "road_following_fast.pth" in (MODEL.parent / "README.md").read_text()
    _, meta = load_model(MODEL)
    assert meta["arch"] == "fast" and meta["input_size"] == [128, 128] and meta["throttle_output"] is True


@pytest.mark.parametrize("track", Track.builtin_names())
def test_fast_model_drives_three_clean_laps(tmp_path, track):
    out = tmp_path / "m.json"
    code = main(["drive", "--sim", "--track", track, "--engine", str(MODEL), "--laps", "3", "--backend", "torch",
                 "--metrics-json", str(out)])
    metrics = json.loads(out.read_text())
    assert code == 0 and metrics["stop_reason"] == "laps" and metrics["laps_completed"] == 3
    assert metrics["off_track_events"] == 0 and metrics["max_abs_cte_m"] < 0.45
    assert abs(metrics["final_pwm_us"]["throttle"] - 1500) < 5


def _drive(tmp_path, name, args):
    out = tmp_path / (name + ".json")
    code = main(["drive", "--sim", "--laps", "2", "--metrics-json", str(out)] + args)
    metrics = json.loads(out.read_text())
    assert code == 0 and metrics["stop_reason"] == "laps" and metrics["laps_completed"] == 2
    return metrics


def test_fast_model_laps_a_held_out_shape_within_115_percent_of_the_racers_time(tmp_path):
    # issue 19's speed target, on a shape no training data came from: the network's own throttle, the sim
    # profile's pilot, against the grip-limited racer on the same track
    kidney = str(MODEL.parent / "heldout" / "kidney.json")
    racer = _drive(tmp_path, "racer", ["--pilot", "racer", "--track", kidney])
    fast = _drive(tmp_path, "fast", ["--engine", str(MODEL), "--backend", "torch", "--track", kidney])
    assert fast["off_track_events"] == 0
    assert min(fast["lap_times_s"]) <= 1.15 * min(racer["lap_times_s"])


def test_model_throttle_scale_flag_slows_the_network_down(tmp_path):
    # --model-throttle-scale reaches the pilot: the same network at 0.8 of its own throttle laps slower
    # than at the sim profile's scale, and still cleanly
    args = ["--engine", str(MODEL), "--backend", "torch", "--track", "oval"]
    usual = _drive(tmp_path, "usual", args)
    slower = _drive(tmp_path, "slower", args + ["--model-throttle-scale", "0.8"])
    assert slower["off_track_events"] == 0
    assert min(slower["lap_times_s"]) > 1.1 * min(usual["lap_times_s"])
