"""SimCamera: lockstep frames on the world's clock; a real-time drive with physics and camera threads."""

import numpy as np
import pytest

from jetracer.camera.base import Camera
from jetracer.profile import make_car
from jetracer.sim.expert import ExpertDriver
from jetracer.sim.run import drive_realtime
from jetracer.sim.world import SimWorld


def test_lockstep_frames_carry_virtual_time_and_sequence():
    with SimWorld("sim", track="oval") as world:
        camera = world.camera
        assert isinstance(camera, Camera)
        first = camera.read_frame()
        assert first.image.shape == (224, 224, 3) and first.image.dtype == np.uint8
        assert first.timestamp == 0.0 and first.seq == 1
        world.vehicle.speed = 1.0  # coast forward a little
        world.step()
        world.step()
        second = camera.read_frame()
        assert second.seq == 2
        assert second.timestamp == pytest.approx(2 * world.frame_period)
        assert not np.array_equal(first.image, second.image)  # the view moved with the car
        assert np.array_equal(second.image, world.render())  # same pose, same picture
        assert camera.wait_frame(second.seq, timeout=0.1).seq == 3  # lockstep: a fresh capture


def test_realtime_drive_moves_the_car_and_ends_at_neutral():
    with SimWorld("sim", track="oval") as world:
        with make_car(world.profile, i2c=world.bus) as car:
            expert = ExpertDriver(world)
            summary = drive_realtime(world, car, expert, duration=1.5)
        assert summary["stop_reason"] == "duration"
        assert summary["frames"] >= 10  # the camera thread delivered frames at about 30 fps
        assert summary["distance_m"] > 0.5
        assert summary["off_track_events"] == 0
        assert summary["final_pwm_us"]["throttle"] == pytest.approx(1500, abs=5)
        assert world.time == pytest.approx(1.5, abs=0.5)  # world time followed the wall clock
        assert not world.realtime_running and not world.camera.running
