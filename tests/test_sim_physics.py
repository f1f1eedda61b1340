"""The simulated car moves only by the pulses the real NvidiaRacecar wrote into the PCA9685 twin."""

import math

import pytest
from helpers import wrap_angle

from jetracer.profile import make_car
from jetracer.sim.world import SimWorld


@pytest.fixture
def world():
    w = SimWorld("sim", track="oval")
    yield w
    w.close()


@pytest.fixture
def car(world):
    with make_car(world.profile, i2c=world.bus) as c:
        yield c


def run(world, seconds):
    for _ in range(int(round(seconds / world.frame_period))):
        world.step()


def heading_frame(world, x0, y0, yaw0):
    """(forward, left) displacement since (x0, y0) in the car's starting frame."""
    dx, dy = world.vehicle.x - x0, world.vehicle.y - y0
    return dx * math.cos(yaw0) + dy * math.sin(yaw0), -dx * math.sin(yaw0) + dy * math.cos(yaw0)


def test_throttle_forward_moves_forward_at_the_mapped_speed(world, car):
    x0, y0, yaw0 = world.pose
    car.throttle = 0.3
    run(world, 3.0)
    forward, left = heading_frame(world, x0, y0, yaw0)
    assert forward > 3.0 and abs(left) < 0.01
    # 0.3 * gain 0.8 -> servo value 0.24 -> 1680 us; ESC: (180 - 25 deadband) / 475 of 6 m/s
    expected = (0.3 * 0.8 * 750 - 25) / 475 * 6.0
    assert world.vehicle.speed == pytest.approx(expected, rel=0.03)
    assert world.final_pwm_us()["throttle"] == pytest.approx(1680, abs=5)


def test_steering_plus_one_turns_right_and_minus_one_left(world, car):
    x0, y0, yaw0 = world.pose
    car.steering, car.throttle = 1.0, 0.25
    run(world, 1.0)
    assert world.final_pwm_us()["steering"] < 1100  # gain -0.65: +1 is a SHORT pulse on this car
    assert math.degrees(world.vehicle.steer_angle) < -25  # wheels turned right
    assert wrap_angle(world.vehicle.yaw - yaw0) < -0.3  # clockwise
    assert heading_frame(world, x0, y0, yaw0)[1] < -0.05  # and the car went right
    world.reset()
    car.steering = -1.0
    run(world, 1.0)
    assert wrap_angle(world.vehicle.yaw - yaw0) > 0.3
    assert heading_frame(world, x0, y0, yaw0)[1] > 0.05


def test_a_flipped_gain_sign_shows_up_as_the_car_turning_the_wrong_way(world, car):
    yaw0 = world.vehicle.yaw
    car.steering_gain = 0.65  # the classic wiring/sign mistake
    car.steering, car.throttle = 1.0, 0.25
    run(world, 1.0)
    assert wrap_angle(world.vehicle.yaw - yaw0) > 0.3  # turned left


def test_servo_slews_at_its_rate(world, car):
    car.steering = 1.0
    world.step(0.05)
    assert math.degrees(world.vehicle.steer_angle) == pytest.approx(-400 * 0.05, abs=0.5)  # 400 deg/s
    world.step(0.1)
    assert math.degrees(world.vehicle.steer_angle) == pytest.approx(-27.3, abs=0.3)  # full lock reached


def test_neutral_stops_the_car_and_deadband_holds_it(world, car):
    car.throttle = 0.4
    run(world, 2.0)
    assert world.vehicle.speed > 2.0
    car.throttle = 0.0
    run(world, 6.0)
    assert world.vehicle.speed == 0.0
    parked = world.pose
    car.throttle = 0.02  # 1512 us: inside the ESC's 25 us deadband
    run(world, 1.0)
    assert world.pose == parked


def test_reverse_pulse_brakes_before_reversing(world, car):
    car.throttle = 0.4
    run(world, 2.0)
    car.throttle = -0.5
    world.step(0.1)
    assert world.vehicle.speed > 0  # braking, still rolling forward
    run(world, 2.0)
    assert world.vehicle.speed < 0  # then reversing


def test_no_pulse_means_no_drive(world):
    # nothing has programmed the chip: it sleeps after power-on, outputs off
    world.vehicle.speed = 1.0
    world.step(4.0)
    assert world.vehicle.speed == 0.0
    assert world.final_pwm_us() == {"steering": 0.0, "throttle": 0.0}


def test_waveshare_kit_drives_through_its_h_bridge_board():
    with SimWorld("waveshare_ai_kit", track="oval") as world:
        with make_car(world.profile, i2c=world.bus) as car:
            x0, y0, yaw0 = world.pose
            car.throttle = 0.3
            run(world, 2.0)
            assert heading_frame(world, x0, y0, yaw0)[0] > 1.0
            assert world.vehicle.speed == pytest.approx(0.3 * 0.8 * 6.0, rel=0.03)  # duty 0.24 of top speed
            car.throttle = -0.3
            run(world, 3.0)
            assert world.vehicle.speed < 0
