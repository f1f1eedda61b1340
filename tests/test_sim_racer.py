"""The racer expert laps faster than the capped expert, within the tyres' grip: no off-track event."""

import json
import math

import numpy as np
import pytest

from jetracer.cli import main
from jetracer.profile import load_profile, make_car
from jetracer.sim.expert import ExpertDriver
from jetracer.sim.racer import RacerDriver, speed_profile
from jetracer.sim.run import drive_lockstep
from jetracer.sim.track import Track
from jetracer.sim.world import SimWorld


def lap(driver_class, track, laps=2, **kwargs):
    with SimWorld("sim", track=track) as world:
        with make_car(world.profile, i2c=world.bus) as car:
            driver = driver_class(world, **kwargs)
            return drive_lockstep(world, car, driver, laps=laps, render=False), world


@pytest.mark.parametrize("track", ["technical", "chicane"])
def test_racer_laps_faster_than_the_expert_and_stays_on_the_road(track):
    racer, world = lap(RacerDriver, track)
    expert, _ = lap(ExpertDriver, track)
    assert racer["laps_completed"] == 2 and racer["off_track_events"] == 0
    assert racer["max_abs_cte_m"] < world.track.width / 2 - world.sim["wheel_track_m"] / 2
    assert max(racer["lap_times_s"]) < 0.8 * min(expert["lap_times_s"])


def test_racer_respects_the_grip_it_plans_with():
    """Plan with more grip than the tyres have and the car runs wide: the limit is the real one."""
    profile = load_profile("sim")
    profile.sim["grip_mu"] = 0.35
    with SimWorld(profile, track="technical") as world:
        with make_car(world.profile, i2c=world.bus) as car:
            greedy = RacerDriver(world, grip_margin=2.5)
            summary = drive_lockstep(world, car, greedy, laps=1, render=False)
    assert summary["off_track_events"] > 0
    honest, _ = lap(RacerDriver, "technical", laps=1)
    assert honest["off_track_events"] == 0


def test_speed_profile_slows_for_the_tightest_corner_within_the_limits():
    track = Track.load("technical")
    s, v = speed_profile(track, lateral_accel=6.0, decel=4.0, accel=3.0, max_speed=5.0)
    tight = max(range(len(s)), key=lambda i: abs(track.curvature_at(s[i])))
    assert v[tight] == pytest.approx(math.sqrt(6.0 / abs(track.curvature_at(s[tight]))), rel=0.05)
    assert v[tight] < 0.6 * v.max() and v.max() <= 5.0 + 1e-9
    step = s[1] - s[0]
    change = np.append(v[1:], v[0]) ** 2 - v ** 2  # v^2 grows by at most 2 a ds, falls by at most 2 d ds
    assert change.max() <= 2 * 3.0 * step + 1e-6 and change.min() >= -2 * 4.0 * step - 1e-6


def test_drive_pilot_racer_writes_metrics(tmp_path):
    out = tmp_path / "m.json"
    assert main(["drive", "--sim", "--pilot", "racer", "--track", "oval", "--laps", "1",
                 "--metrics-json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["pilot"] == "racer" and metrics["laps_completed"] == 1 and metrics["off_track_events"] == 0
    assert metrics["lap_times_s"][0] < 6.5  # the capped expert needs about 8.8 s on the oval


def test_pilot_racer_needs_the_simulator(capsys):
    assert main(["drive", "--pilot", "racer", "--profile", "tamiya_tt02", "--duration", "1"]) != 0
    assert "--sim" in capsys.readouterr().err
