"""One stop condition (laps, duration, the stuck-car cap) for every drive, and StopReason's values."""

import json

import pytest
from helpers import FakeClock

from jetracer.drive.stop import CAP_S_PER_LAP, StopCondition, StopReason


class Laps:
    def __init__(self):
        self.done = 0

    def __call__(self):
        return self.done


def test_laps_then_nothing_else_matters():
    laps, sim = Laps(), FakeClock(0.0)
    stop = StopCondition(laps=2, laps_done=laps, cap_s=10.0, sim_time=sim, clock=sim)
    assert stop() is None
    laps.done = 1
    assert stop() is None
    laps.done = 2
    assert stop() == StopReason.LAPS == "laps"


def test_duration_counts_from_when_the_condition_was_made():
    clock = FakeClock(100.0)
    stop = StopCondition(duration=3.0, clock=clock)
    clock.t = 102.9
    assert stop() is None
    clock.t = 103.0
    assert stop() == "duration"


def test_the_stuck_car_cap_is_on_simulated_time_whatever_the_duration_clock():
    wall, sim = FakeClock(0.0), FakeClock(0.0)
    stop = StopCondition(duration=1000.0, cap_s=5.0, clock=wall, sim_time=sim)
    sim.t = 4.99
    assert stop() is None
    sim.t = 5.0  # the wall clock has not moved (a real-time run on a loaded machine): the cap still holds
    assert stop() == "duration"


def test_no_limit_never_stops_and_a_limit_without_its_counter_is_refused():
    assert StopCondition(clock=FakeClock(0.0))() is None
    with pytest.raises(ValueError):
        StopCondition(laps=1)
    with pytest.raises(ValueError):
        StopCondition(cap_s=1.0)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0, "3"])
def test_a_limit_that_could_never_be_reached_is_refused(bad):
    """NaN compares false with everything: a NaN duration would have driven for ever."""
    with pytest.raises(ValueError):
        StopCondition(duration=bad, clock=FakeClock(0.0))


class World:
    """What for_world reads: a lap counter and a clock."""

    def __init__(self):
        self.time = 0.0
        self.metrics = type("M", (), {"laps_completed": 0})()

    def clock(self):
        return self.time


def test_for_world_caps_a_lap_run_at_120_s_per_lap_unless_told():
    world = World()
    stop = StopCondition.for_world(world, laps=3)
    assert stop.cap_s == 3 * CAP_S_PER_LAP == 360.0
    world.time = 359.9
    assert stop() is None
    world.time = 360.0
    assert stop() == "duration"
    assert StopCondition.for_world(world, laps=3, max_seconds=7.0).cap_s == 7.0
    assert StopCondition.for_world(world, duration=5.0).cap_s is None  # a duration run needs no cap


def test_the_reasons_keep_their_metrics_json_spelling():
    assert set(StopReason.NORMAL) == {"laps", "duration", "signal", "requested"}
    spelled = {StopReason.STALE_FRAME: "stale_frame", StopReason.ENGINE_ERROR: "engine_error",
               StopReason.I2C_ERROR: "i2c_error", StopReason.BATTERY: "battery", StopReason.ESTOP: "estop",
               StopReason.BATTERY_UNREADABLE: "battery_unreadable", StopReason.WATCHDOG: "watchdog",
               StopReason.ROAD_LOST: "road_lost", StopReason.SIGNAL: "signal", StopReason.ERROR: "error"}
    assert all(k == v for k, v in spelled.items())
    from jetracer.drive.pilot import StopReason as from_pilot

    assert from_pilot is StopReason  # the old import path still works


# -- the simulator's helpers stop by the same rule as `jetracer drive` ---------------------------------------

def test_a_stuck_car_stops_at_the_drive_commands_cap(tmp_path):
    """Before, drive_lockstep gave up after 30 s + 3.3 s per metre of lap ("time_limit") while
    `jetracer drive` gave up after 120 s per lap ("duration"): two rules for one stuck car."""
    from jetracer.profile import load_profile, make_car
    from jetracer.sim.run import drive_lockstep
    from jetracer.sim.world import SimWorld

    profile = load_profile("sim")
    profile.sim["frame_rate"] = 10.0  # a parked car: coarse steps are honest
    with SimWorld(profile, track="oval") as world, make_car(profile, i2c=world.bus) as car:
        summary = drive_lockstep(world, car, lambda frame: (0.0, 0.0), laps=1, render=False)
    assert summary["stop_reason"] == "duration" and summary["laps_completed"] == 0
    assert summary["sim_time_s"] == pytest.approx(CAP_S_PER_LAP, abs=0.15)


def test_drive_lockstep_reports_what_jetracer_drive_reports(tmp_path):
    """One loop: the helper a script calls and the command give the same lap, frame for frame."""
    from jetracer.cli import main
    from jetracer.profile import load_profile, make_car
    from jetracer.sim.expert import ExpertDriver
    from jetracer.sim.run import drive_lockstep
    from jetracer.sim.world import SimWorld

    out = tmp_path / "m.json"
    assert main(["drive", "--sim", "--pilot", "expert", "--track", "oval", "--laps", "1",
                 "--metrics-json", str(out)]) == 0
    command = json.loads(out.read_text())
    profile = load_profile("sim", sim=True)
    with SimWorld(profile, track="oval") as world, make_car(profile, i2c=world.bus) as car:
        helper = drive_lockstep(world, car, ExpertDriver(world), laps=1, render=False)
    for key in ("stop_reason", "frames", "laps_completed", "lap_times_s", "distance_m", "max_abs_cte_m",
                "mean_abs_cte_m", "off_track_events", "final_pwm_us"):
        assert helper[key] == command[key], key
    assert helper["sim_time_s"] == pytest.approx(command["sim_time_s"], abs=1e-3)  # the command rounds to ms
