"""Real-looking frames to calibrate, check and time engines with: an XY dataset folder, the
simulator's camera, or (no simulator) generated road images.

Parity and int8 calibration are only as good as the frames: random noise exercises none of the
activations a road does, so the sources here are, in order of preference, the user's own images,
simulator renders along the track (random lateral offsets and headings, domain randomisation on),
and a synthetic road as the last resort.
"""

import logging
import math

import numpy as np

from ..errors import BackendMissing, DataError

__all__ = ["folder_frames", "sim_frames", "synthetic_frames", "frame_source"]

log = logging.getLogger(__name__)


def _read_bgr(path):
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is not None:
            return image
    from PIL import Image

    with Image.open(str(path)) as img:
        return np.ascontiguousarray(np.asarray(img.convert("RGB"))[:, :, ::-1])


def folder_frames(folder, limit, seed=0):
    """Up to ``limit`` BGR frames from an XY dataset (``DIR/CATEGORY/*.jpg``) or a folder of images,
    chosen evenly from a seeded shuffle so calibration sees every part of the dataset."""
    from pathlib import Path

    folder = Path(folder)
    if not folder.is_dir():
        raise DataError("calibration folder %s not found: pass an XY dataset folder (DIR/CATEGORY/*.jpg)" % folder)
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
                   and not p.name.startswith("."))
    if not paths:
        raise DataError("no images in %s: pass an XY dataset folder (DIR/CATEGORY/*.jpg), e.g. from "
                        "`jetracer collect --sim --out DIR`" % folder)
    order = np.random.default_rng(seed).permutation(len(paths))[:limit]
    frames = []
    for i in sorted(order):
        try:
            frames.append(_read_bgr(paths[i]))
        except (OSError, ValueError) as exc:
            log.warning("skipping unreadable image %s: %s", paths[i], exc)
    if not frames:
        raise DataError("none of the images in %s could be read" % folder)
    return frames


def sim_frames(n, size=(224, 224), seed=0, track=None, profile="sim"):
    """``n`` simulator camera frames at random poses near the centreline (domain randomisation on).

    Raises ImportError when the simulator's renderer is not available in this build.
    """
    from ..profile import load_profile
    from ..sim.renderer import Renderer
    from ..sim.track import Track

    prof = load_profile(profile, sim=True)
    camera = dict(prof.camera, width=int(size[1]), height=int(size[0]))
    rng = np.random.default_rng(seed)
    names = [track] if track else sorted(Track.builtin_names())
    frames = []
    renderers = [Renderer(Track.load(name), camera=camera, randomize=True, seed=seed + i)
                 for i, name in enumerate(names)]
    for i in range(n):
        renderer = renderers[i % len(renderers)]
        t = renderer.track
        k = int(rng.integers(0, len(t.xy)))
        heading = float(t.heading[k])
        offset = rng.uniform(-0.35, 0.35) * t.width
        x = t.xy[k, 0] - math.sin(heading) * offset
        y = t.xy[k, 1] + math.cos(heading) * offset
        yaw = heading + rng.uniform(-0.35, 0.35)
        frames.append(np.ascontiguousarray(renderer.render((x, y, yaw))))
    return frames


def synthetic_frames(n, size=(224, 224), seed=0):
    """Generated road images: a curving grey road with edge and centre lines on a textured floor."""
    rng = np.random.default_rng(seed)
    h, w = int(size[0]), int(size[1])
    v = np.arange(h, dtype=np.float32)[:, None]
    u = np.arange(w, dtype=np.float32)[None, :]
    horizon = 0.3 * h
    depth = np.clip((v - horizon) / (h - horizon), 0.0, 1.0)  # 0 at the horizon, 1 at the bottom
    frames = []
    for _ in range(n):
        floor = rng.uniform(40, 200, 3)
        road = rng.uniform(60, 140)
        centre = w * (0.5 + rng.uniform(-0.25, 0.25) * depth + rng.uniform(-0.5, 0.5) * (1 - depth) ** 2)
        half = (0.05 + 0.45 * depth) * w
        d = np.abs(u - centre)
        img = np.empty((h, w, 3), dtype=np.float32)
        img[:] = floor * (0.8 + 0.2 * rng.random((h, w, 1)))
        on_road = (d < half) & (v > horizon)
        img[on_road] = road
        edge = (np.abs(d - half) < 1.5 + 2.5 * depth) & (v > horizon)
        img[edge] = 235
        dash = (d < 1 + 1.5 * depth) & (((v / 12).astype(int) % 2) == 0) & (v > horizon)
        img[dash] = (40, 200, 230)
        img[v[:, 0] <= horizon] = rng.uniform(90, 220, 3)
        img += rng.normal(0, 6, img.shape)
        frames.append(np.clip(img, 0, 255).astype(np.uint8))
    return frames


def frame_source(n, size=(224, 224), seed=0, calib_dir=None, allow_synthetic=True):
    """(frames, description): the calibration folder if given, else the simulator, else synthetic."""
    if calib_dir:
        return folder_frames(calib_dir, n, seed), "images from %s" % calib_dir
    try:
        return sim_frames(n, size, seed), "simulator frames"
    except (ImportError, BackendMissing) as exc:  # no simulator, or no OpenCV for its renderer
        reason = str(exc)
    if not allow_synthetic:
        raise DataError("no frames to check the engine with: the simulator is not available here (%s); "
                        "pass --calib DIR (an XY dataset)" % reason)
    log.info("simulator not available (%s): using synthetic road frames", reason)
    return synthetic_frames(n, size, seed), "synthetic road frames"
