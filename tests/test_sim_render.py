"""Rendering geometry: where the road appears for a known pose, and the horizon where the pitch puts it."""

import math

import numpy as np
import pytest

from jetracer.sim.renderer import CameraModel, Renderer
from jetracer.sim.track import Track
from jetracer.sim.track import stadium_centerline as stadium

CAMERA = {"width": 224, "height": 224, "fov_deg": 160.0, "lens": "fisheye", "pitch_deg": 20.0, "mount_height_m": 0.12}
FORWARD = 0.2  # lens ahead of the rear axle


@pytest.fixture(scope="module")
def straight():
    """A stadium with 30 m straights; the car sits mid-straight at the origin, facing +x."""
    return Track({"name": "long", "width_m": 1.0, "centerline": stadium(30.0, 3.0, 0.1)})


def render(track, pose, **camera):
    cfg = dict(CAMERA, **camera)
    return Renderer(track, cfg, camera_forward_m=FORWARD, px_per_m=100.0, margin_m=3.0).render(pose)


def road_centre(frame, row):
    """Mid-point between the white edge lines nearest the image centre on ``row`` (the fisheye
    also sees the far side of the track, further out)."""
    white = np.flatnonzero(frame[row].min(axis=1) > 200)
    runs = np.split(white, np.flatnonzero(np.diff(white) > 1) + 1) if len(white) else []
    centres = [r.mean() for r in runs]
    left = [c for c in centres if c < 111.5]
    right = [c for c in centres if c > 111.5]
    assert left and right, "no edge lines either side on row %d: %s" % (row, centres)
    return (max(left) + min(right)) / 2


def test_centred_and_aligned_on_a_straight_the_road_is_centred(straight):
    frame = render(straight, (-FORWARD, 0.0, 0.0))
    assert frame.shape == (224, 224, 3) and frame.dtype == np.uint8
    for row in (80, 92, 104):
        assert road_centre(frame, row) == pytest.approx(111.5, abs=1.0)
    # symmetric left-right, as the scene is
    assert np.abs(frame.astype(int) - frame[:, ::-1].astype(int)).mean() < 2


def test_car_left_of_centre_sees_the_road_shifted_right(straight):
    centred = road_centre(render(straight, (-FORWARD, 0.0, 0.0)), 96)
    left = road_centre(render(straight, (-FORWARD, 0.2, 0.0)), 96)  # +y is left of the +x direction
    right = road_centre(render(straight, (-FORWARD, -0.2, 0.0)), 96)
    assert left > centred + 5
    assert right < centred - 5
    assert left - centred == pytest.approx(centred - right, abs=1.0)


def test_yaw_left_turns_the_road_to_the_right_of_the_image(straight):
    yawed_left = render(straight, (-FORWARD, 0.0, math.radians(10)))
    yawed_right = render(straight, (-FORWARD, 0.0, math.radians(-10)))
    # far ahead the road lies along the old heading: right of centre when the car points left
    assert road_centre(yawed_left, 80) > 111.5 + 10
    assert road_centre(yawed_right, 80) < 111.5 - 10


def wall_rows(frame, column=112):
    """Rows of the centre column showing the wall (the plain renderer's wall colour)."""
    return np.flatnonzero(np.all(frame[:, column] == (150, 160, 170), axis=1))


@pytest.mark.parametrize("pitch_deg", [10.0, 20.0, 35.0])
def test_horizon_sits_where_the_pitch_says(straight, pitch_deg):
    frame = render(straight, (-FORWARD, 0.0, 0.0), pitch_deg=pitch_deg)
    camera = CameraModel(**dict(CAMERA, pitch_deg=pitch_deg))
    expected = camera.cy - camera.focal * math.radians(pitch_deg)  # equidistant fisheye
    assert camera.horizon_row() == pytest.approx(expected)
    last_wall_row = wall_rows(frame).max()
    assert last_wall_row == pytest.approx(expected, abs=2.0)


def test_pinhole_lens_horizon_and_narrower_view(straight):
    frame = render(straight, (-FORWARD, 0.0, 0.0), lens="pinhole", fov_deg=90.0)
    camera = CameraModel(**dict(CAMERA, lens="pinhole", fov_deg=90.0))
    assert wall_rows(frame).max() == pytest.approx(camera.cy - camera.focal * math.tan(math.radians(20)), abs=2.0)
    assert road_centre(frame, 70) == pytest.approx(111.5, abs=1.0)


def test_project_to_image_lands_on_the_painted_edge_line(straight):
    renderer = Renderer(straight, CAMERA, camera_forward_m=FORWARD, px_per_m=100.0)
    pose = (-FORWARD, 0.1, 0.05)
    frame = renderer.render(pose)
    for ahead in (0.6, 1.0, 1.5):
        for side in (1, -1):
            y = side * (straight.width / 2 - 0.025)  # centre of the 5 cm edge line
            u, v = renderer.project_to_image(pose, (ahead, y))
            assert frame[int(round(v)), int(round(u))].min() > 200, (ahead, side, u, v)
    assert renderer.project_to_image(pose, (-1.0, 0.0)) is None  # behind the car


def test_randomised_frames_are_seeded_and_vary(straight):
    pose = (-FORWARD, 0.0, 0.0)
    a = Renderer(straight, CAMERA, randomize=True, seed=5, px_per_m=50.0)
    b = Renderer(straight, CAMERA, randomize=True, seed=5, px_per_m=50.0)
    c = Renderer(straight, CAMERA, randomize=True, seed=6, px_per_m=50.0)
    first = a.render(pose)
    assert np.array_equal(first, b.render(pose))
    assert not np.array_equal(first, c.render(pose))
    assert not np.array_equal(first, a.render(pose))  # per-frame lighting and noise
