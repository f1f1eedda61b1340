"""Expert-labelled XY data from the simulator: what a careful person would click, thousands of times.

The label is the point on the track's centreline a look-ahead distance ahead of the car, projected
into the camera image (``world.project_to_image``): the same "click where the car should head"
JetRacer's notebook asks a person for, without the person.

A model trained only on a perfect driver's view never sees the car off-centre, so it cannot bring it
back. As people do when collecting by hand, episodes start with the car placed off-centre and
mis-aligned, drive with a wandering (noisy) hand at a random speed, and the world repaints its floor,
road colours and lighting per episode (``randomize=True``). The driving itself follows the labels
with the pilot's own control law (steering = x * gain + bias), so the data covers the states a
learned pilot actually visits; the labeller is a policy the :class:`~jetracer.drive.pilot.Pilot` runs,
one episode per :meth:`~jetracer.drive.pilot.Pilot.run`.
"""

import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from ..drive.control import steering_from_x
from ..drive.stop import StopReason
from ..errors import DataError
from ..models.convention import DEFAULT_CATEGORY
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


class _Collector:
    """One collection run seen by the :class:`~jetracer.drive.pilot.Pilot`: the policy that labels and
    steers, the end of each episode (its stop condition) and the step after each frame.

    Each frame, in this order: is the road ahead still in view (else the episode ends, as a person
    would pick the car up)? Every ``stride``-th frame, save the picture with the aim point as its
    label; steer at the aim point with the pilot's control law and a wandering hand; then the world
    moves one frame period (``after_frame``)."""

    def __init__(self, rig, out, category, frames, rng, lookahead_m, progress, labels):
        from ..sim.racer import RacerDriver

        self.rig, self.world = rig, rig.world
        self.out, self.category, self.frames, self.rng = out, category, frames, rng
        self.lookahead_m, self.progress, self.labels = lookahead_m, progress, labels
        self.racer = RacerDriver(self.world)  # labels each image with the speed the grip-limited racer wants there
        profile = rig.profile
        self.gain, self.bias = profile.pilot["steering_gain"], profile.pilot["steering_bias"]
        self.half_width = self.world.track.width / 2.0
        self.edge_margin = profile.sim["wheel_track_m"] / 2.0 + 0.03
        self.saved = self.episodes = self.recovering = 0
        self.failure = None  # what went wrong inside the policy (the pilot only says "engine_error")

    def start_episode(self):
        """A new episode: the car placed off-centre and mis-aligned, a random speed and hand."""
        rng, world = self.rng, self.world
        self.episodes += 1
        recovery = rng.random() < 0.6
        room = self.half_width - self.edge_margin
        pose, self.s_hint = _perturbed_pose(world.track, rng, max_offset_m=room * (0.9 if recovery else 0.3),
                                            max_heading_deg=30.0 if recovery else 8.0)
        world.reset(pose)
        self.throttle = rng.uniform(0.15, 0.4)
        self.noise_sd = rng.uniform(0.05, 0.35)
        self.stride = int(rng.integers(2, 5))
        self.length = int(rng.integers(20, 90))
        self.wander = 0.0
        self.step = 0
        self.uv = None

    def episode_over(self):
        """The stop condition of an episode: its length reached, all frames saved, or the road lost."""
        if self.step >= self.length:
            return StopReason.DURATION
        if self.saved >= self.frames:
            return StopReason.REQUESTED
        self.uv = aim_point(self.world, self.lookahead_m, self.s_hint)
        if self.uv is None or abs(self.world.metrics.cte) > self.half_width - self.edge_margin:
            return StopReason.ROAD_LOST  # off the road or lost: a person would pick the car up here
        return None

    def __call__(self, frame):
        """The policy: save this frame (every ``stride``-th), then the command the labels call for."""
        try:
            if self.step % self.stride == 0:
                self._save()
            world, uv = self.world, self.uv
            x_n = 2.0 * (uv[0] / world.renderer.camera.width - 0.5)
            self.wander = 0.85 * self.wander + self.rng.normal(0.0, self.noise_sd) * math.sqrt(1 - 0.85 ** 2)
            steering = float(np.clip(steering_from_x(x_n, self.gain, self.bias) + self.wander, -1.0, 1.0))
            return steering, self.throttle
        except Exception as exc:  # the pilot stops the car; collect() raises this afterwards
            self.failure = exc
            raise

    def _save(self):
        world = self.world
        image = world.render()
        h, w = image.shape[:2]
        u, v = self.uv
        if (w, h) != IMAGE_SIZE:
            import cv2

            image = cv2.resize(image, IMAGE_SIZE, interpolation=cv2.INTER_AREA)
            u, v = u * IMAGE_SIZE[0] / w, v * IMAGE_SIZE[1] / h
        path = save_sample(self.out, self.category, image, u, v)
        self.labels.set(path.name, source="sim-racer", **self.racer.label_here())
        self.saved += 1
        if _recovering(world):
            self.recovering += 1
        if self.progress:
            self.progress(self.saved, self.frames)

    def after_frame(self):
        """The command is on the chip: the world moves one frame period under it."""
        self.rig.step()
        self.s_hint = self.world.metrics.s
        self.step += 1


#: how a collection episode ends; any other stop reason aborts the collection
_EPISODE_ENDS = (StopReason.DURATION, StopReason.REQUESTED, StopReason.ROAD_LOST)


def collect(out, frames, track="oval", seed=0, category=DEFAULT_CATEGORY, profile=None, lookahead_m=DEFAULT_LOOKAHEAD_M,
            randomize=True, progress=None, tape_share=0.0):
    """Write ``frames`` labelled samples into ``out/category``; returns a summary dict.

    Deterministic for a given seed. ``tape_share``: the share of randomised rooms drawn as bare tape on a
    pale floor (:func:`~jetracer.sim.appearance.sample_training`). ``progress`` is a callable(done, total)
    or None. The car is built by the :class:`~jetracer.rig.Rig` and driven by the
    :class:`~jetracer.drive.pilot.Pilot`, one :meth:`~jetracer.drive.pilot.Pilot.run` per episode, like every
    other drive.
    """
    from ..errors import JetracerError
    from ..profile import load_profile
    from ..rig import Rig
    from ..sim.run import GroundTruthCamera, scripted_pilot
    from .sidecar import LabelWriter

    out = Path(out)
    frames = int(frames)
    if frames < 1:
        raise DataError("--frames must be at least 1, got %d" % frames)
    profile = profile if profile is not None and not isinstance(profile, str) else load_profile(
        profile or "sim", sim=True)
    rng = np.random.default_rng(seed)
    rig = Rig(profile, sim=True, track=track, seed=seed, randomize=randomize, camera=False, battery=False,
              persistent_bus=False, tape_share=tape_share)
    t0 = time.monotonic()
    try:
        world = rig.world
        labels = LabelWriter(out_dir_for(out, category))
        try:
            collector = _Collector(rig, out, category, frames, rng, lookahead_m, progress, labels)
            # frames without a picture: the collector renders only the frames it saves
            pilot = scripted_pilot(world, rig.car, GroundTruthCamera(world), collector)
            while collector.saved < frames:
                collector.start_episode()
                reason = pilot.run(should_stop=collector.episode_over, after_frame=collector.after_frame)
                if collector.failure is not None:
                    raise collector.failure
                if reason == StopReason.SIGNAL:
                    raise KeyboardInterrupt("collection interrupted")
                if reason not in _EPISODE_ENDS:
                    raise JetracerError("collection stopped: %s" % reason)
        finally:
            labels.close()
    finally:
        rig.close()
    summary = {"frames": collector.saved, "episodes": collector.episodes, "track": world.track.name,
               "seed": int(seed), "category": category, "recovery_frames": collector.recovering,
               "lookahead_m": lookahead_m, "randomize": bool(randomize),
               "tape_share": float(tape_share), "image_size": list(IMAGE_SIZE),
               "seconds": round(time.monotonic() - t0, 2)}
    atomic_write_bytes(out / ("collect-%s-seed%d.json" % (world.track.name, int(seed))),
                       (json.dumps(summary, indent=2) + "\n").encode())
    return summary
