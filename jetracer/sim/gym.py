"""A Gymnasium environment over the simulator: ``gymnasium.make("JetRacer-v0", track=..., seed=...)``.

Needs ``gymnasium`` (the ``gym`` extra: ``pip install jetracer[gym]``) and so Python 3.8 or newer;
nothing else in jetracer imports this module, so the package still runs on the Nano's Python 3.6.
Importing it registers ``JetRacer-v0`` (``gymnasium.make("jetracer.sim.gym:JetRacer-v0")`` imports
it for you, which is also how ``AsyncVectorEnv`` workers find it).

The agent drives the same way everything else does: its action is written to an ``NvidiaRacecar``
(the real driver class) on the world's virtual I2C bus, the pulse widths land in the PCA9685 twin's
registers, and the physics moves the car from those pulses. So gains, offsets, pulse limits and
servo lag of the profile apply to the agent exactly as to the car.

- observation: the camera image, uint8 ``(height, width, 3)``, BGR like the car's camera frames (a
  policy trained here sees what it will see on the car); ``channel_order="rgb"`` flips it.
  ``render()`` (``render_mode="rgb_array"``) returns RGB, as Gymnasium expects.
- action: ``[steering, throttle]`` in [-1, 1] (positive steering turns right, negative throttle
  brakes/reverses); out of range is clipped, NaN becomes neutral.
- reward per step: metres of progress along the centreline, minus ``cte_penalty`` x |cross-track
  error| (m) x dt, minus ``off_track_penalty`` when the episode ends off the track.
- terminated: a wheel beyond the road edge (the metrics' off-track event), when
  ``terminate_off_track``; truncated: ``time_limit_s`` of simulated time.
- info: ``cte_m``, ``speed_mps``, ``lap`` (laps completed), ``lap_time_s`` (the last lap, or None),
  ``lap_times_s``, ``progress_m``, ``off_track``, ``sim_time_s``, ``pwm_us`` (read back from the chip).

Options: ``track`` (a built-in name, JSON path, ``random:SEED``, or a list to draw one from per episode),
``randomize`` (domain randomisation of the camera, a new appearance each episode), ``image_size``
(height, width), ``random_start`` (anywhere on the lap, a little off the line), ``frame_skip``,
``texture_px_per_m`` (the floor texture's resolution: by default scaled down with a small camera,
which makes randomised resets, a repaint each, several times cheaper).
"""

import math

import gymnasium
import numpy as np
from gymnasium import spaces

from ..profile import Profile, load_profile, make_car
from .renderer import Renderer
from .world import SimWorld

__all__ = ["JetRacerEnv", "ENV_ID", "register"]

ENV_ID = "JetRacer-v0"
_DEFAULT_PX_PER_M = 200.0  # the renderer's floor texture resolution, sized for a 224x224 camera


class JetRacerEnv(gymnasium.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(self, track=None, seed=None, profile="sim", randomize=False, image_size=None,
                 time_limit_s=60.0, cte_penalty=1.0, off_track_penalty=5.0, terminate_off_track=True,
                 random_start=False, frame_skip=1, channel_order="bgr", render_mode=None, texture_px_per_m=None):
        base = profile if isinstance(profile, Profile) else load_profile(profile, sim=True)
        data = base.to_dict()
        if image_size is not None:
            height, width = (int(v) for v in image_size)
            data["camera"].update(height=height, width=width)
        self.profile = Profile(data, name=base.name, path=base.path)
        tracks = track if isinstance(track, (list, tuple)) else [track or self.profile.sim["track"]]
        if not tracks:
            raise ValueError("track must name at least one track")
        if channel_order not in ("bgr", "rgb"):
            raise ValueError("channel_order must be 'bgr' or 'rgb', got %r" % (channel_order,))
        if render_mode not in (None, "rgb_array"):
            raise ValueError("render_mode must be None or 'rgb_array', got %r" % (render_mode,))
        self.tracks = list(tracks)
        self.randomize = bool(randomize)
        self.time_limit_s = float(time_limit_s)
        self.cte_penalty = float(cte_penalty)
        self.off_track_penalty = float(off_track_penalty)
        self.terminate_off_track = bool(terminate_off_track)
        self.random_start = bool(random_start)
        self.frame_skip = max(1, int(frame_skip))
        self.channel_order = channel_order
        self.render_mode = render_mode
        if texture_px_per_m is None:  # a small camera needs a coarser floor: repainting it each episode is cheaper
            longest = max(self.profile.camera["height"], self.profile.camera["width"])
            texture_px_per_m = min(_DEFAULT_PX_PER_M, max(60.0, _DEFAULT_PX_PER_M * longest / 224.0))
        self.texture_px_per_m = float(texture_px_per_m)
        self._base_seed = 0 if seed is None else int(seed)
        self._episode = 0
        self._worlds = {}
        self.world = self._world(self.tracks[0])
        self.car = make_car(self.profile, i2c=self.world.bus)
        h, w = self.profile.camera["height"], self.profile.camera["width"]
        self.observation_space = spaces.Box(0, 255, (h, w, 3), dtype=np.uint8)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self._image = None
        self._pending_seed = seed

    # -- worlds ----------------------------------------------------------------------------------
    def _world(self, track):
        key = track if isinstance(track, str) else id(track)
        if key not in self._worlds:
            world = SimWorld(self.profile, track=track, seed=self._base_seed, randomize=self.randomize)
            if self.texture_px_per_m != _DEFAULT_PX_PER_M:
                world.renderer = Renderer(world.track, self.profile.camera, randomize=self.randomize,
                                          camera_forward_m=self.profile.sim["camera_forward_m"],
                                          seed=self._base_seed, px_per_m=self.texture_px_per_m)
            self._worlds[key] = world
        return self._worlds[key]

    def _switch(self, world):
        if world is self.world:
            return
        self.car.close()
        self.world = world
        self.car = make_car(self.profile, i2c=world.bus)

    # -- the Gymnasium API -----------------------------------------------------------------------
    def reset(self, *, seed=None, options=None):
        if seed is None and self._pending_seed is not None:
            seed = self._pending_seed  # the constructor's seed= seeds the first episode
        self._pending_seed = None
        super().reset(seed=seed)
        if seed is not None:
            self._base_seed, self._episode = int(seed), 0
        options = options or {}
        track = options.get("track")
        if track is None:
            track = self.tracks[int(self.np_random.integers(len(self.tracks)))] if len(self.tracks) > 1 \
                else self.tracks[0]
        self._switch(self._world(track))
        world = self.world
        self.car.neutral()
        with world.lock:
            world.time = 0.0  # each episode on its own clock: the same seed gives bit-identical steps
        world.reset(self._start_pose(world))
        if self.randomize:  # a new appearance per episode, derived from our seed (after the world's own reseed)
            world.renderer.reseed([self._base_seed, self._episode])
        self._episode += 1
        self._image = world.render()
        return self._observation(), self._info()

    def _start_pose(self, world):
        if not self.random_start:
            return None
        track = world.track
        s = float(self.np_random.uniform(0.0, track.length))
        offset = float(self.np_random.uniform(-0.2, 0.2)) * track.width / 2.0
        x, y = track.point_at(s)
        nx, ny = track.normal_at(s)
        yaw = track.heading_at(s) + float(self.np_random.uniform(-0.15, 0.15))
        return (x + offset * nx, y + offset * ny, yaw)

    def step(self, action):
        steering, throttle = (float(v) for v in np.asarray(action, dtype=np.float64).reshape(-1)[:2])
        if not math.isfinite(steering):
            steering = 0.0
        if not math.isfinite(throttle):
            throttle = 0.0
        self.car.steering = max(-1.0, min(1.0, steering))
        self.car.throttle = max(-1.0, min(1.0, throttle))
        world, metrics = self.world, self.world.metrics
        before = metrics.progress
        reward = 0.0
        for _ in range(self.frame_skip):
            world.step(world.frame_period)
            reward -= self.cte_penalty * abs(metrics.cte) * world.frame_period
            if metrics.off_track and self.terminate_off_track:
                break
        reward += metrics.progress - before
        terminated = bool(metrics.off_track and self.terminate_off_track)
        if terminated:
            reward -= self.off_track_penalty
        truncated = bool(not terminated and metrics.time - metrics.start_time >= self.time_limit_s - 1e-9)
        if terminated or truncated:
            self.car.neutral()
        self._image = world.render()
        return self._observation(), float(reward), terminated, truncated, self._info()

    def _observation(self):
        image = self._image
        if self.channel_order == "rgb":
            image = image[:, :, ::-1]
        return np.ascontiguousarray(image, dtype=np.uint8)

    def _info(self):
        m, world = self.world.metrics, self.world
        laps = m.lap_times
        return {"cte_m": float(m.cte), "speed_mps": float(world.vehicle.speed), "lap": int(m.laps_completed),
                "lap_time_s": float(laps[-1]) if laps else None, "lap_times_s": [float(t) for t in laps],
                "progress_m": float(m.progress - m.start_progress), "off_track": bool(m.off_track),
                "sim_time_s": float(m.time - m.start_time), "pwm_us": world.final_pwm_us(),
                "track": world.track.name}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        image = self._image if self._image is not None else self.world.render()
        return np.ascontiguousarray(image[:, :, ::-1])

    def close(self):
        car = getattr(self, "car", None)
        if car is not None:
            car.close()
        for world in getattr(self, "_worlds", {}).values():
            world.close()
        self._worlds = {}


def register():
    """Register ``JetRacer-v0`` with Gymnasium (idempotent)."""
    if ENV_ID not in gymnasium.envs.registry:
        gymnasium.register(id=ENV_ID, entry_point="jetracer.sim.gym:JetRacerEnv")


register()  # the Gymnasium convention: importing the module makes the id available (no I/O)
