"""Domain randomisation spans real rooms, and the held-out rooms are out of training's reach."""

import collections
import copy

import numpy as np
import pytest

from jetracer.sim.appearance import FLOOR_KINDS, HELD_OUT_CELLS, held_out, held_out_names, is_held_out, sample_training
from jetracer.sim.renderer import Renderer
from jetracer.sim.track import Track

CAMERA = {"width": 96, "height": 96}


def test_training_draws_never_land_in_a_held_out_cell_and_cover_the_space():
    rng = np.random.default_rng(0)
    cells, kinds, edges, centres, bare = set(), collections.Counter(), collections.Counter(), collections.Counter(), 0
    for _ in range(3000):
        app = sample_training(rng)
        assert not is_held_out(app.cell) and app.cell not in HELD_OUT_CELLS
        assert "purple" not in (app.edge["family"], app.center["family"])
        cells.add(app.cell)
        kinds[app.floor["kind"]] += 1
        edges[app.edge["style"]] += 1
        centres[app.center["style"]] += 1
        bare += app.road["color"] is None
    assert set(kinds) == set(FLOOR_KINDS)
    assert set(edges) == set(centres) == {"solid", "dashed", "none"}
    assert 500 < bare < 2000  # tape on a bare floor as well as painted roads
    assert len(cells) > 300


def test_every_held_out_room_is_in_the_held_out_partition():
    names = held_out_names()
    assert len(names) >= 5
    for name in names:
        assert is_held_out(held_out(name).cell), name
    with pytest.raises(Exception, match="no held-out appearance"):
        held_out("kitchen")


def test_collects_renderer_never_paints_a_held_out_room():
    track = Track.load("oval")
    renderer = Renderer(track, CAMERA, randomize=True, seed=0, px_per_m=20.0)
    for episode in range(60):  # what SimWorld.reset does for each new collect episode
        renderer.reseed([0, episode])
        assert not is_held_out(renderer.appearance.cell)


def test_held_out_room_renders_deterministically_and_unlike_the_plain_track():
    track = Track.load("oval")
    pose = (0.0, 0.0, 0.0)
    x, y = track.point_at(1.0)
    pose = (x, y, track.heading_at(1.0))
    a = Renderer(track, CAMERA, appearance=held_out("wood-blue-tape"), seed=3, px_per_m=50.0).render(pose)
    b = Renderer(track, CAMERA, appearance=held_out("wood-blue-tape"), seed=3, px_per_m=50.0).render(pose)
    plain = Renderer(track, CAMERA, px_per_m=50.0).render(pose)
    assert np.array_equal(a, b)
    assert np.abs(a.astype(int) - plain.astype(int)).mean() > 20


def test_labels_follow_the_jittered_camera():
    """A room mounts the camera higher and pitched: the projected centre line still lands on the paint."""
    track = Track.load("oval")
    room = copy.deepcopy(held_out("concrete-no-edges"))
    room.camera = {"height_scale": 1.25, "pitch_deg": 5.0, "fov_deg": -10.0}
    room.effects.update(noise_sd=0.5, motion_blur_p=0.0, blur_p=0.0, distractors=0, road_distractors=0, objects=0)
    renderer = Renderer(track, {"width": 224, "height": 224}, appearance=room, seed=1)
    assert renderer.camera.mount_height == pytest.approx(0.15) and renderer.camera is not renderer.base_camera
    s = 0.5
    x, y = track.point_at(s)
    nx, ny = track.normal_at(s)
    pose = (x - 0.15 * nx, y - 0.15 * ny, track.heading_at(s) + 0.1)
    frame = renderer.render(pose)
    hits = 0
    for d in (0.8, 1.0, 1.3):
        u, v = renderer.project_to_image(pose, track.point_at(s + 0.2 + d))
        b, g, r = frame[int(round(v)), int(round(u))].astype(int)
        hits += r > b + 60  # orange paint, not the grey road
    assert hits == 3
