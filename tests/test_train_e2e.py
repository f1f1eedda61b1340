"""The whole chain, small: collect in the simulator -> train on the CPU -> the model drives the oval."""

import json

import pytest

from jetracer.cli import main
from jetracer.models import load_model


@pytest.mark.slow
def test_collect_train_drive_two_clean_laps(tmp_path, capsys):
    data, model, metrics = tmp_path / "data", tmp_path / "tiny.pth", tmp_path / "metrics.json"
    assert main(["collect", "--sim", "--track", "oval", "--frames", "500", "--seed", "1", "--no-randomize",
                 "--out", str(data)]) == 0
    assert main(["train", str(data), "--arch", "tiny", "--epochs", "12", "--batch-size", "32", "--lr", "3e-3",
                 "--seed", "1", "--out", str(model)]) == 0
    _, meta = load_model(model)
    assert meta["dataset"]["samples"] == 500 and meta["val_loss"] < 0.02
    capsys.readouterr()
    assert main(["drive", "--sim", "--track", "oval", "--engine", str(model), "--laps", "2", "--seed", "0",
                 "--metrics-json", str(metrics)]) == 0
    result = json.loads(metrics.read_text())
    assert result["stop_reason"] == "laps", result
    assert result["laps_completed"] >= 2 and result["off_track_events"] == 0, result
    assert result["max_abs_cte_m"] < 0.35  # a wheel stays on the road (half width 0.5 m, track 0.2 m)
    assert abs(result["final_pwm_us"]["throttle"] - 1500) < 30  # left at neutral
