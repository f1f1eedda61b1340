"""Defaults live in the profile schema only: what a notebook builds by hand behaves as what the
default profile builds, and the lists and statistics shared by several modules are one object."""

import numpy as np
import pytest

from jetracer import NvidiaRacecar
from jetracer.camera.base import Frame
from jetracer.drive.control import ControlLaw, steering_from_x, x_from_steering
from jetracer.drive.pilot import Pilot
from jetracer.i2c import PCA9685Twin, VirtualI2C
from jetracer.profile import SCHEMA, Profile


class AheadEngine:
    """A network that always sees the road straight ahead."""

    def __call__(self, image):
        return 0.0, 0.0


def drive_one_frame(build, mode, **traits):
    """The car's throttle after a pilot built by ``build(car)`` acts on one fresh frame."""
    bus = VirtualI2C()
    bus.attach(PCA9685Twin(0x40))
    with NvidiaRacecar(i2c=bus) as car:
        pilot = build(car)
        pilot.set_trait("mode", mode)
        for name, value in traits.items():
            setattr(pilot, name, value)
        pilot.act_on(Frame(np.zeros((224, 224, 3), np.uint8), pilot.clock(), 1))
        return car.throttle


@pytest.mark.parametrize("mode, traits", [("auto", {"throttle": 0.9}), ("steer", {"manual_throttle": 0.9})])
def test_a_pilot_built_directly_keeps_the_default_profiles_forward_limit(mode, traits):
    """A Pilot built by hand once got a forward limit of 1.0; the default profile's is 0.5."""
    limit = Profile().pilot["throttle_forward_limit"]
    direct = drive_one_frame(lambda car: Pilot(car, None, engine=AheadEngine(), clock=lambda: 1.0), mode, **traits)
    profiled = drive_one_frame(lambda car: Pilot.from_profile(Profile({"pilot": {"road_monitor": False}}), car, None,
                                                              engine=AheadEngine(), clock=lambda: 1.0), mode, **traits)
    assert direct == profiled == pytest.approx(limit)


def test_a_control_law_and_a_pilot_take_every_default_from_the_schema():
    law = ControlLaw()
    for key in ("steering_gain", "steering_bias", "steering_kd", "throttle", "throttle_mode", "throttle_min",
                "throttle_x_slowdown", "throttle_forward_limit", "throttle_reverse_limit"):
        assert getattr(law, key) == SCHEMA["pilot"][key][1], key
    pilot = Pilot(object(), None, clock=lambda: 0.0)
    for key in ("steering_gain", "steering_bias", "steering_kd", "throttle", "stale_frame_s", "watchdog_s"):
        assert getattr(pilot, key) == SCHEMA["pilot"][key][1], key
    assert pilot.battery_unreadable_s == SCHEMA["battery"]["unreadable_stop_s"][1]


def test_the_law_and_its_inverse():
    assert steering_from_x(0.5, 0.75, 0.1) == pytest.approx(0.475)
    assert x_from_steering(steering_from_x(0.5, 0.75, 0.1), 0.75, 0.1) == pytest.approx(0.5)
    assert x_from_steering(0.9, 0.75, 0.0) == 1.0  # beyond the image edge: the edge
    assert x_from_steering(0.3, 0.0, 0.0) == 0.0


def test_a_model_that_names_no_category_is_apex_everywhere():
    """Checkpoints said "apex", the engine loader and the engine base said "road"."""
    from jetracer.engine.base import Engine
    from jetracer.engine.loader import engine_meta
    from jetracer.models.checkpoint import default_meta

    expected = default_meta()["categories"]
    assert expected == ["apex"]
    assert engine_meta({})["categories"] == expected
    assert engine_meta({"arch": "resnet18", "categories": []})["categories"] == expected
    assert Engine({"input_size": [224, 224]}).categories == expected
    assert Profile().teleop["record_category"] == Profile().web["category"] == expected[0]


def test_the_pilot_modes_are_listed_once():
    """The pad's mode button, the web page and the profile take the pilot's own list."""
    from jetracer.drive import pilot
    from jetracer.errors import ProfileError
    from jetracer.teleop import controller
    from jetracer.web import session

    assert controller.MODES is pilot.DRIVING_MODES and session.WEB_MODES is pilot.DRIVING_MODES
    assert pilot.DRIVING_MODES == tuple(m for m in pilot.MODES if m != "stopped")
    for mode in pilot.MODES:
        assert Profile({"pilot": {"mode": mode}}).pilot["mode"] == mode
    with pytest.raises(ProfileError, match="stopped, manual, steer, auto"):
        Profile({"pilot": {"mode": "cruise"}})


def test_a_battery_monitor_built_by_hand_is_the_default_profiles():
    from jetracer.i2c.ina219 import INA219Twin
    from jetracer.status.battery import BatteryMonitor

    bus = VirtualI2C()
    bus.attach(INA219Twin(0x41, cells=3))
    by_hand = BatteryMonitor(i2c=bus)
    profiled = BatteryMonitor.from_profile(Profile(), i2c=bus)
    for name in ("address", "cells", "chemistry", "shunt_ohms", "low_percent", "critical_percent", "smoothing_s",
                 "hysteresis_percent", "internal_resistance_ohms", "period_s"):
        assert getattr(by_hand, name) == getattr(profiled, name), name
