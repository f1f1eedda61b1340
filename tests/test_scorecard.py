"""The held-out scorecard (`python -m jetracer.models.scorecard`): one row per shape and room, the lap against
the racer's on the same shape, and a profile that drives the model at a constant speed for like-for-like
steering comparisons."""

import json
from pathlib import Path

import pytest

from jetracer.models.scorecard import main, markdown, score

MODEL = Path(__file__).resolve().parent.parent / "models" / "road_following_fast.pth"
SIM_TOML = Path(__file__).resolve().parent.parent / "hardware" / "profiles" / "sim.toml"

pytestmark = pytest.mark.skipif(not MODEL.is_file(), reason="models/road_following_fast.pth is not shipped")


def test_a_row_per_run_with_the_lap_against_the_racer_and_a_constant_speed_profile(tmp_path):
    own = score(str(MODEL), laps=1, shapes=["oval"], rooms=["plain"], backend="torch")
    assert len(own) == 1
    row = own[0]
    assert row["laps"] == 1 and row["stop_reason"] == "laps" and row["off_track"] == 0
    assert 0.8 < row["lap_time_s"] / row["racer_lap_s"] < 1.3
    assert "| oval | plain | 1 |" in markdown(own)

    slow = tmp_path / "slow.toml"  # the sim car, its throttle a constant 0.3 instead of the network's
    slow.write_text(SIM_TOML.read_text().replace("throttle = 0.25", "throttle = 0.3\nspeed_from_model = false"))
    const = score(str(MODEL), laps=1, shapes=["oval"], rooms=["plain"], backend="torch", profile=str(slow))[0]
    assert const["laps"] == 1 and const["racer_lap_s"] == row["racer_lap_s"]  # the racer drives the sim profile
    assert const["lap_time_s"] > 1.2 * row["lap_time_s"]


def test_the_command_writes_the_table_and_the_rows(tmp_path, capsys):
    md, js = tmp_path / "t.md", tmp_path / "t.json"
    assert main([str(MODEL), "--laps", "1", "--shapes", "oval", "--rooms", "concrete-no-edges", "--backend", "torch",
                 "--out", str(md), "--json", str(js)]) == 0
    rows = json.loads(js.read_text())
    assert [(r["shape"], r["room"]) for r in rows] == [("oval", "concrete-no-edges")]
    assert md.read_text().startswith("| shape | room |")
    assert capsys.readouterr().out.endswith(md.read_text())  # the drives' own lines come first


@pytest.mark.parametrize("args, words", [(["/no/such.pth"], "no model file"), (["FOLDER"], "no model file"),
                                         (["MODEL", "--shapes", "nosuch"], "nosuch")])
def test_a_missing_model_or_a_bad_shape_is_one_line_before_any_drive(args, words, tmp_path, capsys):
    args = [str(MODEL) if a == "MODEL" else str(tmp_path) if a == "FOLDER" else a for a in args]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert words in captured.err and len(captured.err.strip().splitlines()) == 1 and not captured.out


def test_validation_drives_each_shape_in_its_seeds_random_room_and_sums_up(capsys):
    from jetracer.models.scorecard import VALIDATION_SHAPES, summary

    assert "radial:9101" in VALIDATION_SHAPES and "random:9001" in VALIDATION_SHAPES
    rows = score(str(MODEL), laps=1, shapes=["radial:9101"], backend="torch", validation=True)
    assert [(r["shape"], r["room"]) for r in rows] == [("radial:9101", "random-9101")]
    assert rows[0]["racer_lap_s"] > 0 and rows[0]["stop_reason"] == "laps"
    line = summary(rows, laps=1, bar=100.0)
    assert line.startswith("1 of 1 runs within 100.00x") and "over the 1 completed" in line
    assert summary(rows, laps=1, bar=0.5).startswith("0 of 1 runs")
