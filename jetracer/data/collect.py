"""Expert-labelled XY data from the simulator: what a careful person would click, thousands of times.

The label is the point on the track's centreline a look-ahead distance ahead of the car, projected
into the camera image (``world.project_to_image``): the same "click where the car should head"
JetRacer's notebook asks a person for, without the person.

A model trained only on a perfect driver's view never sees the car off-centre, so it cannot bring it
back. As people do when collecting by hand, episodes start with the car placed off-centre and
mis-aligned, drive with a wandering (noisy) hand at a random speed, and the world repaints its floor,
road colours and lighting per episode (``randomize=True``). The driving itself follows the labels
with the pilot's own control law (steering = x * gain + bias), so the data covers the states a
learned pilot actually visits.
"""

import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from ..control import steering_from_x
from ..errors import DataError
from ..util.atomic import atomic_write_bytes
from .xy import save_sample

__all__ = ["DEFAULT_LOOKAHEAD_M", "IMAGE_SIZE", "aim_point", "collect"]

log = logging.getLogger(__name__)

#: How far ahead along the centreline the clicked point lies. With the sim car's fisheye camera and the
#: pilot's steering gain this makes steering = x * gain a pure-pursuit controller that holds the line.
DEFAULT_LOOKAHEAD_M = 1.0
IMAGE_SIZE = (224, 224)  # (width, height) of saved images, JetRacer's


def aim_point(world, lookahead_m=DEFAULT_LOOKAHEAD_M, s_hint=None):
    """Pixel (u, v) of the centreline point ``lookahead_m`` ahead of the car, or None when no part of
    the road ahead is in view. When the full look-ahead is out of frame (car badly mis-aligned) the
    nearest visible point along the way is used, as a person would click the road they can see."""
    track = world.track
    x, y, _ = world.pose
    s, _, _ = track.project((x, y), s_hint=s_hint)
    for fraction in (1.0, 0.85, 0.7, 0.55, 0.4):
        uv = world.project_to_image(track.point_at(s + lookahead_m * fraction))
        if uv is not None:
            return uv
    return None


def out_dir_for(out, category):
    """The category folder collect writes into (images and their sidecar labels)."""
    return Path(out) / category


def _perturbed_pose(track, rng, max_offset_m, max_heading_deg):
    s = rng.uniform(0.0, track.length)
    x, y = track.point_at(s)
    nx, ny = track.normal_at(s)
    offset = rng.uniform(-max_offset_m, max_offset_m)
    yaw = track.heading_at(s) + math.radians(rng.uniform(-max_heading_deg, max_heading_deg))
    return (x + nx * offset, y + ny * offset, yaw), s


def _recovering(world, offset_m=0.12, heading_deg=10.0):
    """Is the car visibly off the line (off-centre or mis-aligned) in this frame?"""
    m = world.metrics
    error = (world.pose[2] - world.track.heading_at(m.s) + math.pi) % (2 * math.pi) - math.pi
    return abs(m.cte) > offset_m or abs(math.degrees(error)) > heading_deg


def collect(out, frames, track="oval", seed=0, category="apex", profile=None, lookahead_m=DEFAULT_LOOKAHEAD_M,
            randomize=True, progress=None):
    """Write ``frames`` labelled samples into ``out/category``; returns a summary dict.

    Deterministic for a given seed. ``progress`` is a callable(done, total) or None.
    """
    from ..profile import load_profile, make_car
    from ..sim.racer import RacerDriver
    from ..sim.world import SimWorld
    from .sidecar import LabelWriter

    out = Path(out)
    frames = int(frames)
    if frames < 1:
        raise DataError("--frames must be at least 1, got %d" % frames)
    profile = profile if profile is not None and not isinstance(profile, str) else load_profile(
        profile or "sim", sim=True)
    rng = np.random.default_rng(seed)
    world = SimWorld(profile, track=track, seed=seed, randomize=randomize)
    car = make_car(profile, i2c=world.bus)
    racer = RacerDriver(world)  # labels each image with the speed the grip-limited racer wants there
    labels = LabelWriter(out_dir_for(out, category))
    gain, bias = profile.pilot["steering_gain"], profile.pilot["steering_bias"]
    half_width = world.track.width / 2.0
    edge_margin = profile.sim["wheel_track_m"] / 2.0 + 0.03
    saved = episodes = recovering = 0
    t0 = time.monotonic()
    try:
        while saved < frames:
            episodes += 1
            recovery = rng.random() < 0.6
            pose, s_hint = _perturbed_pose(world.track, rng,
                                           max_offset_m=(half_width - edge_margin) * (0.9 if recovery else 0.3),
                                           max_heading_deg=30.0 if recovery else 8.0)
            world.reset(pose)
            throttle = rng.uniform(0.15, 0.4)
            noise_sd = rng.uniform(0.05, 0.35)
            stride = int(rng.integers(2, 5))
            length = int(rng.integers(20, 90))
            wander = 0.0
            for step in range(length):
                uv = aim_point(world, lookahead_m, s_hint)
                if uv is None or abs(world.metrics.cte) > half_width - edge_margin:
                    break  # off the road or lost: a person would pick the car up here
                if step % stride == 0:
                    image = world.render()
                    h, w = image.shape[:2]
                    u, v = uv
                    if (w, h) != IMAGE_SIZE:
                        import cv2

                        image = cv2.resize(image, IMAGE_SIZE, interpolation=cv2.INTER_AREA)
                        u, v = u * IMAGE_SIZE[0] / w, v * IMAGE_SIZE[1] / h
                    path = save_sample(out, category, image, u, v)
                    labels.set(path.name, source="sim-racer", **racer.label_here())
                    saved += 1
                    if _recovering(world):
                        recovering += 1
                    if progress:
                        progress(saved, frames)
                    if saved >= frames:
                        break
                x_n = 2.0 * (uv[0] / world.renderer.camera.width - 0.5)
                wander = 0.85 * wander + rng.normal(0.0, noise_sd) * math.sqrt(1 - 0.85 ** 2)
                car.steering = float(np.clip(steering_from_x(x_n, gain, bias) + wander, -1.0, 1.0))
                car.throttle = throttle
                world.step()
                s_hint = world.metrics.s
            car.throttle = 0.0
    finally:
        try:
            car.throttle = 0.0
        finally:
            try:
                labels.close()
            finally:
                world.close()
    summary = {"frames": saved, "episodes": episodes, "track": world.track.name, "seed": int(seed),
               "category": category, "recovery_frames": recovering, "lookahead_m": lookahead_m,
               "randomize": bool(randomize), "image_size": list(IMAGE_SIZE), "seconds": round(time.monotonic() - t0, 2)}
    atomic_write_bytes(out / ("collect-%s-seed%d.json" % (world.track.name, int(seed))),
                       (json.dumps(summary, indent=2) + "\n").encode())
    return summary
