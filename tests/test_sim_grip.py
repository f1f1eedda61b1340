"""The simulated tyres have a grip limit: too fast into a corner and the car runs wide, as on a floor."""

import math

from jetracer.profile import load_profile
from jetracer.sim.vehicle import Vehicle


def turning_radius(speed, steer_deg=20.0):
    vehicle = Vehicle(load_profile("sim").sim)
    vehicle.set_pose(0.0, 0.0, 0.0, speed=speed, steer_angle=math.radians(steer_deg))
    drive = speed / vehicle.sim["top_speed_mps"]
    for _ in range(50):
        vehicle.step(0.01, math.radians(steer_deg), drive)
    yaw_rate = vehicle.yaw / 0.5
    return vehicle.speed / yaw_rate


def test_slow_car_turns_on_its_geometric_radius():
    sim = load_profile("sim").sim
    geometric = sim["wheelbase_m"] / math.tan(math.radians(20.0))
    assert abs(turning_radius(1.0) - geometric) / geometric < 0.05


def test_fast_car_runs_wide_at_the_grip_limit():
    sim = load_profile("sim").sim
    speed = 4.0
    radius = turning_radius(speed)
    assert radius > 2 * sim["wheelbase_m"] / math.tan(math.radians(20.0))
    assert abs(speed * speed / radius - sim["grip_mu"] * 9.81) < 0.5  # lateral acceleration = mu * g
