"""The consumers of the rig (issue 15): a drive driven without argparse, the simulator-only refusals
made before anything is built, parts built elsewhere closed by the rig, and a web app whose pilot
fails to load leaving no thread and the car at neutral. Pulses are read back from the PCA9685 twin."""

import argparse
import threading

import pytest

from jetracer.commands.drive import DriveOptions, DriveSession
from jetracer.commands.drive import add_arguments as drive_arguments
from jetracer.errors import JetracerError, UsageError
from jetracer.i2c import PCA9685Twin, VirtualI2C
from jetracer.profile import load_profile
from jetracer.racecar import NvidiaRacecar
from jetracer.rig import Rig
from jetracer.sim.devices import make_sim_bus

NEUTRAL = 1500.0
TICK = 1e6 / (25e6 / (4096 * 122)) / 4096  # one 12-bit step at 50 Hz


def is_neutral(pulse_us):
    return abs(pulse_us - NEUTRAL) <= TICK


def sim_chip():
    """The simulated car's PCA9685 as the next process would see it (persistent registers)."""
    return make_sim_bus(load_profile("sim")).device(0x40)


def test_a_notebook_drives_a_drive_session_without_the_command_line():
    profile = load_profile("sim")
    session = DriveSession(profile, DriveOptions(sim=True, pilot="expert", track="oval", laps=1))
    try:
        metrics = session.drive()
    finally:
        assert session.close() is None
    session.close()  # twice is harmless
    assert metrics["stop_reason"] == "laps" and metrics["laps_completed"] == 1 and metrics["pilot"] == "expert"
    assert metrics["track"] == "oval" and metrics["sim_time_s"] > 1.0
    assert is_neutral(metrics["final_pwm_us"]["throttle"]) and is_neutral(sim_chip().pulse_us(1))


def test_drive_options_are_the_command_lines_defaults_and_refuse_unknown_names():
    parser = argparse.ArgumentParser()
    drive_arguments(parser)
    from_cli = DriveOptions.from_args(parser.parse_args([]))
    defaults = DriveOptions()
    names = [n for n in vars(DriveOptions) if not n.startswith("_") and not callable(getattr(DriveOptions, n))]
    assert "pilot" in names and "max_seconds" in names
    assert {n: getattr(from_cli, n) for n in names} == {n: getattr(defaults, n) for n in names}
    with pytest.raises(TypeError, match="lapz"):
        DriveOptions(lapz=3)


@pytest.mark.parametrize("name, value", [("laps", float("nan")), ("laps", 0), ("laps", True), ("laps", 2.5),
                                         ("duration", float("inf")), ("duration", -1.0), ("max_seconds", "soon"),
                                         ("seed", -1)])
def test_drive_options_from_a_script_are_held_to_the_command_lines_bounds(name, value):
    # a NaN lap count would never be reached: the drive would only end at the time cap, or never
    with pytest.raises(UsageError, match=name):
        DriveOptions(**{name: value})
    assert DriveOptions(laps=2, duration=1.5, seed=7).duration == 1.5


@pytest.mark.parametrize("options, words", [(dict(pilot="expert"), "--pilot expert"),
                                            (dict(pilot="racer"), "--pilot racer"),
                                            (dict(laps=2, engine="m.pth"), "--laps")])
def test_simulator_only_options_on_a_car_are_refused_before_the_car_is_opened(options, words):
    # this machine has no I2C bus 1: opening the car first would be a HardwareError, not this
    with pytest.raises(UsageError, match=words):
        DriveSession(load_profile("latrax_rally"), DriveOptions(**options))


def test_a_rig_around_given_parts_puts_the_car_at_neutral_and_closes_them_once():
    bus = VirtualI2C()
    twin = bus.attach(PCA9685Twin(0x40))
    car = NvidiaRacecar(i2c=bus)
    car.steering, car.throttle = 0.6, 0.4
    closed = []

    class Camera:
        def close(self):
            closed.append("camera")

    rig = Rig.around(load_profile("sim"), car=car, camera=Camera())
    assert twin.pulse_us(car.throttle_channel) > NEUTRAL + 50
    assert rig.world is None and not rig.lockstep and rig.ground_truth_policy() is None
    rig.advance(1.0)  # the car's time runs by itself: nothing to step
    rig.close()
    rig.close()
    assert closed == ["camera"]
    assert is_neutral(twin.pulse_us(car.throttle_channel)) and is_neutral(twin.pulse_us(car.steering_channel))


def test_the_rigs_expert_steers_from_the_world_and_stepping_waits_for_lockstep():
    with Rig(load_profile("sim"), track="oval", battery=False) as rig:
        steering, throttle = rig.ground_truth_policy("expert")(rig.newest_frame())
        assert -1.0 <= steering <= 1.0 and 0.0 < throttle <= 1.0
        rig.car.throttle = throttle
        rig.advance(0.5)
        assert rig.sim_state()["s"] > 0.05 and rig.sim_metrics()["sim_time_s"] == pytest.approx(0.5, abs=0.05)
        rig.start_realtime()
        with pytest.raises(RuntimeError, match="real time"):
            rig.advance(0.1)  # the physics thread moves the world: a second mover would race it
        assert rig.to_lockstep() is True and rig.lockstep
    assert is_neutral(sim_chip().pulse_us(1))


def test_a_web_app_whose_model_fails_to_load_leaves_no_thread_and_the_car_at_neutral(tmp_path):
    from jetracer.web.session import assemble

    profile = load_profile("sim")
    profile.engine["path"] = str(tmp_path / "missing.pth")
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(JetracerError):
        assemble(profile, sim=True, pilot="model")
    left = {t.name for t in threading.enumerate() if t.is_alive()} - before
    assert not left, left  # physics, camera and battery threads all stopped
    assert is_neutral(sim_chip().pulse_us(1))
