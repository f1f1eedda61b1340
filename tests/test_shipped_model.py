"""The shipped network drives: 3 clean laps of every built-in track through `jetracer drive --sim`,
as the model itself (torch fp32) and as the int8 engine `make demo` builds on a CPU machine."""

import json
from pathlib import Path

import pytest

from jetracer.cli import main
from jetracer.sim.track import Track

MODEL = Path(__file__).resolve().parent.parent / "models" / "road_following_resnet18.pth"
TRACKS = Track.builtin_names()


def drive(tmp_path, track, *backend):
    out = tmp_path / ("%s.json" % track)
    code = main(["drive", "--sim", "--track", track, "--engine", str(MODEL), "--laps", "3",
                 "--metrics-json", str(out)] + list(backend))
    return code, json.loads(out.read_text())


def check_clean_laps(code, metrics):
    assert code == 0
    assert metrics["stop_reason"] == "laps" and metrics["laps_completed"] == 3
    assert metrics["off_track_events"] == 0
    assert metrics["max_abs_cte_m"] < 0.45  # the road's half-width is 0.5 m
    assert abs(metrics["final_pwm_us"]["throttle"] - 1500) < 5


def test_model_file_is_small_and_documented():
    assert MODEL.stat().st_size < 25 * 1024 * 1024
    assert "road_following_resnet18.pth" in (MODEL.parent / "README.md").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("track", TRACKS)
def test_shipped_model_drives_three_clean_laps(tmp_path, track):
    check_clean_laps(*drive(tmp_path, track, "--backend", "torch"))


@pytest.mark.slow
@pytest.mark.parametrize("track", TRACKS)
def test_shipped_model_int8_engine_drives_three_clean_laps(tmp_path_factory, track):
    cache = tmp_path_factory.getbasetemp() / "engine-cache"  # built once, reused by every track
    check_clean_laps(*drive(tmp_path_factory.mktemp(track), track, "--backend", "onnxruntime", "--precision",
                            "int8", "--engine-cache", str(cache)))
