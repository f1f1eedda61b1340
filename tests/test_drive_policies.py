"""Policies: one signature (frame -> steering, throttle) for the model, the experts and a person."""

import math

import numpy as np
import pytest
from helpers import FakeClock
from test_pilot import ConstantEngine, ScriptedCamera, advance, neutral

from jetracer import NvidiaRacecar
from jetracer.camera.base import Frame
from jetracer.drive.control import ControlLaw
from jetracer.drive.pilot import Pilot
from jetracer.drive.policies import Fault, ManualPolicy, ModelPolicy, expert_policy

FRAME = Frame(np.zeros((224, 224, 3), np.uint8), 0.0, 1)


def test_model_policy_is_the_engine_through_the_control_law_without_a_pilot():
    law = ControlLaw(steering_gain=0.5, throttle=0.3)
    policy = ModelPolicy(ConstantEngine(0.4, -0.2), law)
    steering, throttle = policy(FRAME)
    assert steering == pytest.approx(law.steering(0.4, 0.0)) and throttle == pytest.approx(law.throttle_for(0.4, -0.2))
    assert (policy.x, policy.y) == (0.4, -0.2) and policy.record["x"] == 0.4


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), RuntimeError("CUDA gone")])
def test_model_policy_faults_say_engine_error(bad):
    with pytest.raises(Fault) as caught:
        ModelPolicy(ConstantEngine(bad), ControlLaw())(FRAME)
    assert caught.value.reason == "engine_error" and "engine" in str(caught.value)


def test_a_manual_policy_drives_the_chip_through_the_pilot(bus, pca):
    clock = FakeClock(0.0)
    hand = ManualPolicy(steering=0.0, throttle=0.2)
    pilot = Pilot(NvidiaRacecar(i2c=bus), ScriptedCamera(clock, frames=20), policy=hand, clock=clock, mode="auto",
                  watchdog_s=0.0)
    seen = []

    def stop():
        seen.append(pca.pulse_us(1))
        if pilot.frames == 2:
            hand.throttle = 0.0  # the person lets go: the next frame's command follows
        return "requested" if pilot.frames >= 4 else None

    assert pilot.run(should_stop=stop, before_frame=advance(clock)) == "requested"
    assert seen[2] > 1500 + 50 and abs(seen[-1] - 1500) <= pca.tick_us
    assert neutral(pca)


def test_after_frame_runs_once_the_command_is_on_the_chip(bus, pca):
    """Collection looks, acts, then moves the world: after_frame sees the frame's pulse already written."""
    clock = FakeClock(0.0)
    pilot = Pilot(NvidiaRacecar(i2c=bus), ScriptedCamera(clock, frames=20), policy=lambda frame: (0.0, 0.5),
                  clock=clock, mode="auto", watchdog_s=0.0)
    events = []

    def moved():
        events.append(("after", pilot.frames, pca.pulse_us(1)))
        clock.t += 1 / 30

    def stop():
        events.append(("check", pilot.frames))
        return "duration" if pilot.frames >= 2 else None

    assert pilot.run(should_stop=stop, after_frame=moved) == "duration"
    assert [e[:2] for e in events] == [("check", 0), ("after", 1), ("check", 1), ("after", 2), ("check", 2)]
    assert all(e[2] > 1500 + 100 for e in events if e[0] == "after")
    assert neutral(pca)


def test_a_policy_that_raises_stops_with_engine_error_at_neutral(bus, pca):
    clock = FakeClock(0.0)

    def broken(frame):
        raise KeyError("no such track point")

    pilot = Pilot(NvidiaRacecar(i2c=bus), ScriptedCamera(clock), policy=broken, clock=clock, mode="auto",
                  watchdog_s=0.0)
    assert pilot.run(before_frame=advance(clock)) == "engine_error"
    assert neutral(pca)


def test_the_experts_are_policies_by_name():
    from jetracer.sim.racer import RacerDriver
    from jetracer.sim.world import SimWorld

    with SimWorld("sim", track="oval") as world:
        racer = expert_policy(world, "racer")
        assert isinstance(racer, RacerDriver)
        steering, throttle = racer(None)  # ground truth: the frame is not looked at
        assert math.isfinite(steering) and 0.0 < throttle <= 1.0
        assert expert_policy(world)(FRAME) == expert_policy(world, "expert").command()
        with pytest.raises(ValueError):
            expert_policy(world, "stig")
