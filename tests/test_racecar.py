"""The car writes the pulse widths a servo and ESC expect, clamps, refuses NaN, and stops safely."""

import math

import pytest
import traitlets

from jetracer import NvidiaRacecar, Racecar, WaveshareRacecar
from jetracer.errors import HardwareError
from jetracer.i2c import PCA9685Twin, VirtualI2C


def expected_pulse(value, min_us=750.0, max_us=2250.0):
    """Adafruit ContinuousServo mapping: -1 -> min pulse, +1 -> max pulse (checked to one tick)."""
    return min_us + (value + 1.0) / 2.0 * (max_us - min_us)


def clip(v):
    return max(-1.0, min(1.0, v))


@pytest.fixture
def car(bus, pca):
    return NvidiaRacecar(i2c=bus)


def test_jetracer_notebook_idiom(car, pca):
    car.steering = 0.3
    car.throttle = 0.2
    car.steering_gain = -0.65
    tick = pca.tick_us
    assert abs(pca.pulse_us(0) - expected_pulse(0.3 * -0.65)) <= tick
    assert abs(pca.pulse_us(1) - expected_pulse(0.2 * 0.8)) <= tick


def test_defaults_match_jetracer(car):
    assert (car.i2c_address, car.steering_channel, car.throttle_channel) == (0x40, 0, 1)
    assert car.steering_gain == -0.65 and car.steering_offset == 0.0 and car.throttle_gain == 0.8
    assert car.pwm_frequency == 50.0


def test_neutral_on_construction(bus, pca):
    NvidiaRacecar(i2c=bus)
    assert abs(pca.pulse_us(0) - 1500) <= pca.tick_us / 2 + 1e-9
    assert abs(pca.pulse_us(1) - 1500) <= pca.tick_us / 2 + 1e-9
    assert abs(pca.frequency_hz - 50) < 0.1


@pytest.mark.parametrize("steering", [-1.0, -0.5, 0.0, 0.25, 1.0])
@pytest.mark.parametrize("gain,offset", [(-0.65, 0.0), (0.9, 0.2), (-1.0, -0.3), (0.5, 0.6)])
def test_steering_pulse_over_gains_and_offsets(car, pca, steering, gain, offset):
    car.steering_gain = gain
    car.steering_offset = offset
    car.steering = steering
    assert abs(pca.pulse_us(0) - expected_pulse(clip(steering * gain + offset))) <= pca.tick_us / 2 + 1e-9


@pytest.mark.parametrize("throttle", [-1.0, -0.3, 0.0, 0.4, 1.0])
@pytest.mark.parametrize("gain,offset,fwd,rev", [(0.8, 0.0, 1.0, 1.0), (1.0, 0.05, 0.5, 0.2), (0.6, -0.1, 1.0, 0.0)])
def test_throttle_pulse_over_gains_offsets_and_limits(car, pca, throttle, gain, offset, fwd, rev):
    car.throttle_gain, car.throttle_offset = gain, offset
    car.throttle_forward_limit, car.throttle_reverse_limit = fwd, rev
    car.throttle = throttle
    limited = max(-rev, min(fwd, throttle * gain))  # the limits bound the output, after the gain
    assert abs(pca.pulse_us(1) - expected_pulse(clip(limited + offset))) <= pca.tick_us / 2 + 1e-9


def test_overflow_clamps_instead_of_raising(car, pca):
    car.steering_gain = 0.9
    car.steering_offset = 0.5  # JetRacer raises ValueError from the driver here
    car.steering = 1.0
    assert abs(pca.pulse_us(0) - 2250) <= pca.tick_us / 2 + 1e-9
    car.steering = 7.0  # out-of-range commands are clipped too
    assert car.steering == 1.0


def test_custom_pulse_range(bus, pca):
    car = NvidiaRacecar(i2c=bus, steering_min_pulse_us=1000, steering_max_pulse_us=2000, steering_gain=1.0)
    car.steering = 1.0
    assert abs(pca.pulse_us(0) - 2000) <= pca.tick_us / 2 + 1e-9
    car.throttle_min_pulse_us, car.throttle_max_pulse_us = 1100, 1900
    car.throttle = -1.0
    assert abs(pca.pulse_us(1) - expected_pulse(-0.8, 1100, 1900)) <= pca.tick_us / 2 + 1e-9


def test_gain_change_reapplies_immediately(car, pca):
    car.steering = 0.5
    before = pca.pulse_us(0)
    car.steering_gain = 0.3
    assert pca.pulse_us(0) != before
    assert abs(pca.pulse_us(0) - expected_pulse(0.15)) <= pca.tick_us / 2 + 1e-9


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_throttle_refused_and_forced_to_neutral(car, pca, bad):
    car.throttle = 0.5
    with pytest.raises(traitlets.TraitError, match="finite"):
        car.throttle = bad
    assert car.throttle == 0.0
    assert abs(pca.pulse_us(1) - 1500) <= pca.tick_us / 2 + 1e-9


def test_non_finite_steering_refused_and_kept(car, pca):
    car.steering = 0.4
    with pytest.raises(traitlets.TraitError):
        car.steering = math.nan
    assert car.steering == 0.4


def test_close_and_context_exit_write_neutral(bus, pca):
    with NvidiaRacecar(i2c=bus) as car:
        car.steering, car.throttle = 0.8, 0.6
        assert pca.pulse_us(1) > 1550
    assert abs(pca.pulse_us(0) - 1500) <= pca.tick_us / 2 + 1e-9
    assert abs(pca.pulse_us(1) - 1500) <= pca.tick_us / 2 + 1e-9


def test_missing_device_clear_error(bus):
    with pytest.raises(HardwareError, match="no PCA9685 PWM board at 0x40"):
        NvidiaRacecar(i2c=bus)


def test_wrong_address_clear_error(bus, pca):
    with pytest.raises(HardwareError, match="0x41"):
        NvidiaRacecar(i2c=bus, i2c_address=0x41)


def test_base_racecar_has_no_hardware():
    car = Racecar()
    car.throttle = 2.0
    assert car.throttle == 1.0


@pytest.fixture
def waveshare_bus():
    bus = VirtualI2C()
    servo = bus.attach(PCA9685Twin(0x40))
    motors = bus.attach(PCA9685Twin(0x60))
    return bus, servo, motors


def _levels(motors):
    return [round(motors.duty(ch), 3) for ch in range(8)]


def test_waveshare_forward_pattern(waveshare_bus):
    bus, servo, motors = waveshare_bus
    car = WaveshareRacecar(i2c=bus)
    # 1600 Hz asks for prescale round(3.81) - 1 = 3: the chip really runs at 25 MHz / (4096 * 4)
    assert motors.frequency_hz == pytest.approx(25e6 / (4096 * 4))
    car.throttle = 0.5
    d = round(0.5 * 0.8, 3)
    assert _levels(motors) == pytest.approx([d, 1.0, 0.0, 0.0, d, 0.0, 1.0, d], abs=1 / 4096)


def test_waveshare_reverse_pattern_and_zero(waveshare_bus):
    bus, servo, motors = waveshare_bus
    car = WaveshareRacecar(i2c=bus, throttle_gain=1.0)
    car.throttle = -0.25
    assert _levels(motors) == pytest.approx([0.25, 0.0, 1.0, 0.25, 0.0, 1.0, 0.0, 0.25], abs=1 / 4096)
    car.throttle = 0.0
    assert _levels(motors) == [0.0] * 8


def test_waveshare_steering_on_servo_board(waveshare_bus):
    bus, servo, motors = waveshare_bus
    car = WaveshareRacecar(i2c=bus)
    car.steering = 1.0
    assert abs(servo.pulse_us(0) - expected_pulse(-0.65)) <= servo.tick_us / 2 + 1e-9
    car.close()
    assert _levels(motors) == [0.0] * 8
