"""One actuator mapping: what the car writes to the PCA9685 is what the mapping says, and its inverse
(used by the simulator's experts, calibrate and the profile checks) undoes it on the chip."""

import math

import pytest

from jetracer.drive.actuator import ActuatorMapping, OutputMapping, PulseRange
from jetracer.i2c import PCA9685Twin, VirtualI2C
from jetracer.profile import Profile, load_profile, make_car
from jetracer.racecar import read_pulse_us
from jetracer.sim.expert import ExpertDriver
from jetracer.sim.racer import RacerDriver
from jetracer.sim.world import SimWorld

TICK_US = 1e6 / 50.0 / 4096  # one 12-bit step at 50 Hz
COMMANDS = [-1.0, -0.7, -0.25, 0.0, 0.1, 0.33, 0.8, 1.0]

#: a car whose every mapping number differs from the defaults (gains below 1, trims, a narrow
#: pulse range, asymmetric throttle limits)
ODD_CAR = {"steering_gain": 0.55, "steering_offset": -0.12, "steering_min_pulse_us": 1000.0,
           "steering_max_pulse_us": 2000.0, "throttle_gain": -0.7, "throttle_offset": 0.05,
           "throttle_min_pulse_us": 1000.0, "throttle_max_pulse_us": 2000.0, "esc_neutral_us": 1525.0,
           "throttle_forward_limit": 0.4, "throttle_reverse_limit": 0.2}


def odd_profile(**extra):
    return Profile({"car": dict(ODD_CAR, **extra)})


@pytest.mark.parametrize("settings", [{}, ODD_CAR], ids=["defaults", "odd-car"])
def test_the_pulses_on_the_chip_are_the_mappings_forward_and_its_inverse_reads_them_back(settings):
    profile = Profile({"car": settings})
    bus = VirtualI2C()
    bus.attach(PCA9685Twin(0x40))
    mapping = ActuatorMapping.from_settings(profile.car)
    with make_car(profile, i2c=bus) as car:
        for command in COMMANDS:
            car.steering, car.throttle = command, command
            steering_us = read_pulse_us(car.pca, 0)
            throttle_us = read_pulse_us(car.pca, 1)
            assert steering_us == pytest.approx(mapping.steering.forward(command), abs=TICK_US / 2 + 1e-6)
            assert throttle_us == pytest.approx(mapping.throttle.forward(command), abs=TICK_US / 2 + 1e-6)
            # the inverse of the read-back pulse is the command, to within a tick's worth of command
            s_tol = TICK_US / (mapping.steering.pulses.half_span_us * abs(mapping.steering.gain)) + 1e-6
            assert mapping.steering.inverse(steering_us) == pytest.approx(command, abs=s_tol)
            if mapping.throttle.value(command) == mapping.throttle.value(command * 1.001):
                continue  # held at a limit: many commands give this pulse
            t_tol = TICK_US / (mapping.throttle.pulses.half_span_us * abs(mapping.throttle.gain)) + 1e-6
            assert mapping.throttle.inverse(throttle_us) == pytest.approx(command, abs=t_tol)
        assert car.neutral_outputs() == [(0x40, 1, mapping.throttle.neutral)]


def test_a_car_built_without_a_profile_is_the_default_profiles_car():
    bus = VirtualI2C()
    bus.attach(PCA9685Twin(0x40))
    from jetracer import NvidiaRacecar

    with NvidiaRacecar(i2c=bus) as car:
        for key, value in Profile().car.items():
            if car.has_trait(key):
                assert getattr(car, key) == value, key


def test_waveshare_duty_mapping_offsets_in_the_direction_of_travel():
    mapping = ActuatorMapping.from_settings(Profile({"car": {"type": "waveshare", "throttle_offset": -0.1,
                                                              "throttle_gain": 0.5}}).car)
    assert mapping.throttle_output == "duty"
    assert mapping.throttle.forward(0.0) == 0.0
    assert mapping.throttle.forward(0.4) == pytest.approx(0.3)  # 0.4 * 0.5 + |offset|
    assert mapping.throttle.forward(-0.4) == pytest.approx(-0.3)
    for command in (-0.9, -0.4, 0.2, 0.9):
        assert mapping.throttle.inverse(mapping.throttle.forward(command)) == pytest.approx(command)


def test_pulse_range_and_output_mapping_never_leave_their_range():
    pulses = PulseRange(1000, 2000)
    assert pulses.pulse_us(5.0) == 2000 and pulses.pulse_us(-5.0) == 1000
    assert pulses.value(3000) == 1.0 and pulses.value(0) == -1.0
    assert PulseRange(1500, 1500).value(1600) == 0.0  # an empty range: no ZeroDivisionError
    out = OutputMapping(0.0, 0.1, pulses)
    assert out.inverse(1700) == 0.0  # a zero gain: no command moves it, and no ZeroDivisionError
    assert not math.isnan(OutputMapping(1.0, 0.0, pulses, 0.5, 0.5).forward(1e308))


@pytest.mark.parametrize("car", [{}, ODD_CAR], ids=["defaults", "odd-car"])
def test_the_expert_inverts_the_cars_own_mapping(car):
    """The wheel angle and drive the expert asks for are what the simulated servo/ESC get."""
    profile = Profile({"car": car, "camera": {"type": "sim"}})
    with SimWorld(profile, track="oval") as world, make_car(profile, i2c=world.bus) as vehicle:
        expert = ExpertDriver(world)
        max_steer = math.radians(profile.sim["max_steer_deg"])
        for angle in (-0.2, -0.1, 0.0, 0.12, 0.2):  # within reach of both cars
            for drive in (0.0, 0.1, 0.35):
                wanted = max(-max_steer, min(max_steer, angle))
                steering, _ = expert.to_commands(wanted, 0.0)
                vehicle.steering, vehicle.throttle = steering, expert.throttle_for_drive(drive)
                got_angle, got_drive = world.read_pwm()
                # one PWM tick is ~0.3 degrees of wheel at these ranges
                assert got_angle == pytest.approx(wanted, abs=math.radians(0.6))
                assert got_drive == pytest.approx(drive, abs=0.02)


def test_the_racers_steady_throttle_on_a_waveshare_car_is_the_drive_itself_and_zero_at_rest():
    """On an H-bridge car the command holding a speed is the duty the mapping inverts to; at rest it
    is 0 (the hand inversion gave -offset/gain there: a creeping reverse command)."""
    profile = load_profile("waveshare_ai_kit")
    data = profile.to_dict()
    data["car"]["throttle_offset"] = 0.08
    data["camera"]["type"] = "sim"
    profile = Profile(data)
    with SimWorld(profile, track="oval") as world, make_car(profile, i2c=world.bus) as car:
        racer = RacerDriver(world)
        assert racer.steady_throttle(0.0) == 0.0
        assert racer.to_commands(0.0, 0.0) == (0.0, 0.0)
        speed = 0.4 * profile.sim["top_speed_mps"]
        car.throttle = racer.steady_throttle(speed)
        assert world.read_pwm()[1] == pytest.approx(0.4, abs=0.01)


def test_calibrate_saves_the_esc_neutral_the_car_writes_at_throttle_zero():
    from jetracer import NvidiaRacecar
    from jetracer.commands.calibrate import Wizard

    bus = VirtualI2C()
    chip = bus.attach(PCA9685Twin(0x40))
    with NvidiaRacecar(i2c=bus, throttle_min_pulse_us=1000.0, throttle_max_pulse_us=2000.0) as car:
        answers = ["", "y", "", "++", "+", "", "y"]  # throttle trim nudged to +0.06
        values = Wizard(car, ask=lambda prompt: answers.pop(0), say=lambda *a: None).run()["car"]
        assert values["throttle_offset"] == pytest.approx(0.06)
        assert values["esc_neutral_us"] == pytest.approx(chip.pulse_us(1), abs=chip.tick_us)
        assert values["esc_neutral_us"] == pytest.approx(1530.0)
        Profile({"car": dict(values, throttle_min_pulse_us=1000.0, throttle_max_pulse_us=2000.0)})  # accepted


def test_non_finite_numbers_give_neutral_not_a_crash():
    nan, inf = float("nan"), float("inf")
    mapping = ActuatorMapping.from_settings(odd_profile().car)
    assert mapping.throttle.forward(nan) == mapping.throttle.neutral == pytest.approx(1525.0)
    assert mapping.steering.inverse(nan) == 0.0
    assert OutputMapping(nan, 0.0, PulseRange(1000, 2000)).forward(0.5) == 1500.0
    assert OutputMapping(1.0, 0.1, None, offset_is_trim=False).forward(nan) == 0.0
    assert mapping.throttle.forward(inf) == pytest.approx(mapping.throttle.forward(1.0))
    bus = VirtualI2C()
    bus.attach(PCA9685Twin(0x40))
    from jetracer import NvidiaRacecar

    with NvidiaRacecar(i2c=bus) as car:
        car.steering = 0.5
        car.steering_gain = nan  # a notebook slider gone wrong: the servo centres, nothing raises
        assert read_pulse_us(car.pca, 0) == pytest.approx(1500.0, abs=TICK_US)


def test_an_unknown_car_type_is_one_line():
    from jetracer.racecar import car_from_settings

    with pytest.raises(ValueError, match="nvidia, waveshare"):
        car_from_settings(dict(Profile().car, type="traxxas"), i2c=VirtualI2C())


@pytest.mark.parametrize("setting,value", [("steering_gain", 0.3), ("steering_offset", 0.2),
                                           ("steering_max_pulse_us", 1800.0), ("throttle_gain", 0.2)])
def test_a_setting_changed_live_reaches_the_chip_at_once(setting, value):
    """The car keeps its mapping between writes; a slider moving a setting must still be obeyed
    on the very write it causes and on every one after it."""
    bus = VirtualI2C()
    bus.attach(PCA9685Twin(0x40))
    car = make_car(load_profile("sim"), i2c=bus)
    car.steering, car.throttle = 0.8, 0.4  # the mapping is built and kept here
    setattr(car, setting, value)
    for _ in range(2):
        expected = car.actuator.steering.forward(0.8), car.actuator.throttle.forward(0.4)
        fresh = ActuatorMapping.from_settings(car.settings())
        assert expected == (fresh.steering.forward(0.8), fresh.throttle.forward(0.4))
        pulses = read_pulse_us(car.pca, car.steering_channel), read_pulse_us(car.pca, car.throttle_channel)
        assert all(abs(p - e) < 5.0 for p, e in zip(pulses, expected)), (pulses, expected)
        car.steering, car.throttle = 0.8, 0.4
    car.close()
