"""What the car's camera sees: the floor plane through a fisheye (or pinhole) lens.

The track is painted once into a top-down texture (floor, road, edge lines, dashed centre line).
The ray through every pixel is traced to the floor once, giving each pixel a fixed floor point in
the car's frame; a frame is then one affine transform of those points by the car's pose and one
``cv2.remap`` of the texture, so it costs a fraction of a millisecond. Pixels whose ray misses the
floor (above the horizon, or past the room's edge) show the wall colour.

Domain randomisation (for training data that transfers): the texture is repainted per episode
with a random floor pattern, road and line colours and distractor marks; each frame then gets
random lighting, colour cast, blur and sensor noise. All of it comes from a seeded generator.
"""

import math

import numpy as np

from ..errors import BackendMissing, TrackError
from .track import Track

__all__ = ["CameraModel", "TopDownTexture", "Renderer", "paint_track"]

_SKY_M = 1.0e5  # floor coordinate given to pixels that see no floor: far outside any texture


def _cv2():
    try:
        import cv2
    except ImportError:
        raise BackendMissing("the simulator renderer needs OpenCV: pip install opencv-python-headless "
                             "(or `pip install jetracer[sim]`)") from None
    return cv2


class CameraModel:
    """Intrinsics and mounting of the simulated camera.

    Pixel centres are at integer coordinates; the optical axis passes through ((W-1)/2, (H-1)/2).
    Camera axes: x right, y down, z forward. Car axes: x forward, y left, z up, origin on the floor
    under the lens. ``fov_deg`` is the diagonal field of view; the fisheye is equidistant (r = f*theta),
    like the wide-angle IMX219 modules JetRacers ship with.
    """

    def __init__(self, width=224, height=224, fov_deg=160.0, lens="fisheye", pitch_deg=20.0, mount_height_m=0.12):
        if lens not in ("fisheye", "pinhole"):
            raise TrackError("camera lens must be fisheye or pinhole, got %r" % lens)
        from ..profile import CAMERA_FOV_LIMITS_DEG

        low, high = CAMERA_FOV_LIMITS_DEG[lens]
        if not low <= fov_deg <= high:
            raise TrackError("camera fov_deg %.0f is out of range for a %s lens" % (fov_deg, lens))
        if mount_height_m <= 0:
            raise TrackError("camera mount_height_m must be above the floor, got %r" % mount_height_m)
        self.width, self.height = int(width), int(height)
        self.lens = lens
        self.fov_deg = float(fov_deg)
        self.pitch = math.radians(pitch_deg)
        self.mount_height = float(mount_height_m)
        self.cx, self.cy = (self.width - 1) / 2.0, (self.height - 1) / 2.0
        half_diag = math.hypot(self.width, self.height) / 2.0
        half_fov = math.radians(fov_deg) / 2.0
        self.focal = half_diag / half_fov if lens == "fisheye" else half_diag / math.tan(half_fov)
        cp, sp = math.cos(self.pitch), math.sin(self.pitch)
        # camera axes expressed in car axes (columns: right, down, forward)
        self.axes = np.array([[0.0, -sp, cp], [-1.0, 0.0, 0.0], [0.0, -cp, -sp]])

    @classmethod
    def from_profile(cls, camera):
        """From a profile's ``[camera]`` section (or any dict with those keys)."""
        return cls(width=camera.get("width", 224), height=camera.get("height", 224),
                   fov_deg=camera.get("fov_deg", 160.0), lens=camera.get("lens", "fisheye"),
                   pitch_deg=camera.get("pitch_deg", 20.0), mount_height_m=camera.get("mount_height_m", 0.12))

    def pixel_rays(self):
        """(H, W, 3) unit rays in car axes through every pixel centre."""
        u, v = np.meshgrid(np.arange(self.width, dtype=float) - self.cx,
                           np.arange(self.height, dtype=float) - self.cy)
        r = np.hypot(u, v)
        if self.lens == "fisheye":
            theta = r / self.focal
        else:
            theta = np.arctan(r / self.focal)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(r > 0, np.sin(theta) / np.where(r > 0, r, 1.0), 0.0)
        cam = np.stack([u * scale, v * scale, np.cos(theta)], axis=-1)
        return cam @ self.axes.T

    def floor_points(self, max_range_m=30.0):
        """(H, W, 2) float32 floor point (x forward, y left, metres) seen by each pixel;
        pixels that see no floor within ``max_range_m`` get a far-away sentinel."""
        rays = self.pixel_rays()
        down = -rays[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(down > 1e-9, self.mount_height / np.where(down > 1e-9, down, 1.0), np.inf)
        pts = rays[..., :2] * t[..., None]
        miss = ~np.isfinite(t) | (np.hypot(pts[..., 0], pts[..., 1]) > max_range_m)
        pts[miss] = _SKY_M
        return pts.astype(np.float32), ~miss

    def horizon_row(self):
        """Image row of the horizon on the centre column (may lie outside the image)."""
        if self.lens == "fisheye":
            return self.cy - self.focal * self.pitch
        return self.cy - self.focal * math.tan(self.pitch)

    def project_car_points(self, pts):
        """(N, 3) points in car axes (origin on the floor under the lens) -> (N, 2) pixels, NaN if unseen."""
        pts = np.asarray(pts, dtype=float).reshape(-1, 3) - np.array([0.0, 0.0, self.mount_height])
        cam = pts @ self.axes  # rows: (right, down, forward)
        x, y, z = cam[:, 0], cam[:, 1], cam[:, 2]
        rho = np.hypot(x, y)
        if self.lens == "fisheye":
            theta = np.arctan2(rho, z)
            with np.errstate(invalid="ignore", divide="ignore"):
                k = np.where(rho > 0, self.focal * theta / np.where(rho > 0, rho, 1.0), 0.0)
            ok = theta < math.radians(self.fov_deg) / 2 + 0.2
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                k = np.where(z > 1e-9, self.focal / np.where(z > 1e-9, z, 1.0), np.nan)
            ok = z > 1e-9
        uv = np.stack([self.cx + k * x, self.cy + k * y], axis=1)
        inside = ok & (uv[:, 0] >= -0.5) & (uv[:, 0] <= self.width - 0.5) & (uv[:, 1] >= -0.5) & (
            uv[:, 1] <= self.height - 0.5)
        uv[~inside] = np.nan
        return uv


class TopDownTexture:
    """A painted floor: ``image`` (BGR), with world (x, y) -> pixel (col, row) = ((x - x0) * ppm, (y1 - y) * ppm)."""

    def __init__(self, image, x0, y1, px_per_m):
        self.image, self.x0, self.y1, self.px_per_m = image, x0, y1, px_per_m

    def to_px(self, xy):
        xy = np.asarray(xy, dtype=float)
        return np.stack([(xy[..., 0] - self.x0) * self.px_per_m, (self.y1 - xy[..., 1]) * self.px_per_m], axis=-1)


def _jitter(rng, color, amount):
    return tuple(int(np.clip(c + rng.uniform(-amount, amount), 0, 255)) for c in color)


def _floor(cv2, rng, h, w, ppm):
    """A floor pattern: plain, smooth blotches, planks or tiles (randomised) in a random colour."""
    if rng is None:
        img = np.empty((h, w, 3), np.uint8)
        img[:] = (118, 128, 134)
        return img
    base = np.array([rng.uniform(60, 200), rng.uniform(60, 200), rng.uniform(60, 200)])
    kind = rng.integers(0, 4)
    if kind == 0:  # blotchy concrete / carpet
        small = rng.normal(0, 1, (max(2, h // 24), max(2, w // 24), 1))
        field = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[..., None] * rng.uniform(8, 25)
    elif kind == 1:  # planks, along x or y
        plank = max(4, int(rng.uniform(0.1, 0.3) * ppm))
        if rng.random() < 0.5:
            field = np.repeat(rng.normal(0, 1, h // plank + 1), plank)[:h][:, None, None] * np.ones((1, w, 1))
        else:
            field = np.repeat(rng.normal(0, 1, w // plank + 1), plank)[:w][None, :, None] * np.ones((h, 1, 1))
        field = field * rng.uniform(8, 20)
    elif kind == 2:  # tiles with grout lines
        tile = max(8, int(rng.uniform(0.3, 0.6) * ppm))
        field = np.zeros((h, w, 1))
        field[::tile] -= 40
        field[:, ::tile] -= 40
    else:
        field = np.zeros((h, w, 1))
    grain = rng.normal(0, rng.uniform(0, 6), ((h + 1) // 2, (w + 1) // 2, 1)).astype(np.float32)
    grain = np.repeat(np.repeat(grain, 2, axis=0), 2, axis=1)[:h, :w]
    return np.clip(base.astype(np.float32) + field.astype(np.float32) + grain, 0, 255).astype(np.uint8)


def paint_track(track, px_per_m=200.0, margin_m=3.0, rng=None):
    """Paint ``track`` top-down; ``rng`` (a numpy Generator) randomises colours, floor and marks."""
    cv2 = _cv2()
    xmin, ymin, xmax, ymax = track.bounds(margin_m)
    w, h = int(math.ceil((xmax - xmin) * px_per_m)), int(math.ceil((ymax - ymin) * px_per_m))
    tex = TopDownTexture(None, xmin, ymax, px_per_m)
    img = _floor(cv2, rng, h, w, px_per_m)
    style = {k: dict(v) for k, v in track.style.items()}
    if rng is not None:
        style["surface"]["color"] = _jitter(rng, style["surface"]["color"], 35)
        style["edge"]["color"] = _jitter(rng, style["edge"]["color"], 40)
        style["center"]["color"] = _jitter(rng, style["center"]["color"], 40)
        _distractors(cv2, rng, img, tex, track, on_road=False)
    shift = 3
    scale = float(1 << shift)

    def poly(xy):
        return np.round(tex.to_px(xy) * scale).astype(np.int32)

    road_px = max(1, int(round(track.width * px_per_m)))
    cv2.polylines(img, [poly(track.xy)], True, style["surface"]["color"], road_px, cv2.LINE_AA, shift)
    if rng is not None:
        _distractors(cv2, rng, img, tex, track, on_road=True)
    if style["edge"]["style"] != "none":
        ew = max(1, int(round(style["edge"]["width_m"] * px_per_m)))
        inset = style["edge"]["width_m"] / 2
        n = np.stack([-np.sin(track.heading), np.cos(track.heading)], axis=1)
        for side in (1, -1):
            edge = track.xy + side * n * (track.width / 2 - inset)
            if style["edge"]["style"] == "solid":
                cv2.polylines(img, [poly(edge)], True, style["edge"]["color"], ew, cv2.LINE_AA, shift)
            else:
                _dashes(cv2, img, poly, edge, track, style["edge"], ew)
    if style["center"]["style"] != "none":
        cw = max(1, int(round(style["center"]["width_m"] * px_per_m)))
        if style["center"]["style"] == "solid":
            cv2.polylines(img, [poly(track.xy)], True, style["center"]["color"], cw, cv2.LINE_AA, shift)
        else:
            _dashes(cv2, img, poly, track.xy, track, style["center"], cw)
    tex.image = img
    return tex


def _dashes(cv2, img, poly, line, track, style, thickness):
    dash, gap = style.get("dash_m", 0.3), style.get("gap_m", 0.3)
    period = dash + gap
    phase = np.mod(track.s, period) < dash
    starts = np.flatnonzero(phase & ~np.roll(phase, 1))
    pieces = []
    m = len(phase)
    for k in starts:
        n = 1
        while n < m and phase[(k + n) % m]:
            n += 1
        pieces.append(poly(line[(k + np.arange(n + 1)) % m]))
    cv2.polylines(img, pieces, False, style["color"], thickness, cv2.LINE_AA, 3)


def _distractors(cv2, rng, img, tex, track, on_road):
    """Tape scraps, scuffs and stains: things a model must learn to ignore."""
    count = int(rng.integers(0, 6 if on_road else 25))
    for _ in range(count):
        if on_road:
            s = rng.uniform(0, track.length)
            x, y = track.point_at(s)
            nx, ny = track.normal_at(s)
            off = rng.uniform(-0.35, 0.35) * track.width
            x, y = x + nx * off, y + ny * off
        else:
            x0, y0, x1, y1 = track.bounds(3.0)
            x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
        c = tuple(int(v) for v in rng.uniform(0, 255, 3))
        p = tex.to_px([x, y]).astype(int)
        size = int(rng.uniform(0.03, 0.25 if on_road else 0.5) * tex.px_per_m)
        if rng.random() < 0.5:
            ang = rng.uniform(0, math.pi)
            q = p + (np.array([math.cos(ang), math.sin(ang)]) * size).astype(int)
            cv2.line(img, tuple(int(v) for v in p), tuple(int(v) for v in q), c,
                     max(1, int(rng.uniform(0.01, 0.04) * tex.px_per_m)), cv2.LINE_AA)
        else:
            cv2.ellipse(img, tuple(int(v) for v in p), (size, max(1, size // 2)), rng.uniform(0, 180), 0, 360,
                        c if not on_road else tuple(int(v * 0.5) for v in c), -1, cv2.LINE_AA)


class Renderer:
    """Renders the camera view at a car pose; deterministic for a given seed.

    ``pose`` is (x, y, yaw) of the rear axle centre in metres/radians; the lens sits
    ``camera_forward_m`` ahead of it. ``randomize`` turns on domain randomisation.
    """

    def __init__(self, track, camera=None, camera_forward_m=0.2, randomize=False, seed=0, px_per_m=200.0,
                 margin_m=3.0, max_range_m=30.0):
        self.cv2 = _cv2()
        self.track = track if isinstance(track, Track) else Track.load(track)
        self.camera = camera if isinstance(camera, CameraModel) else CameraModel.from_profile(camera or {})
        self.camera_forward = float(camera_forward_m)
        self.randomize = bool(randomize)
        self.px_per_m, self.margin_m = float(px_per_m), float(margin_m)
        self.floor, self.sees_floor = self.camera.floor_points(max_range_m)
        self.reseed(seed)

    def reseed(self, seed):
        """New episode: fresh random texture, wall and per-frame effects (when randomising)."""
        self.rng = np.random.default_rng(seed)
        rng = self.rng if self.randomize else None
        self.texture = paint_track(self.track, self.px_per_m, self.margin_m, rng=rng)
        if rng is None:
            self.wall = (150, 160, 170)
            self._noise = None
            return
        self.wall = tuple(int(v) for v in rng.uniform(40, 230, 3))
        shape = (self.camera.height + 16, self.camera.width + 16, 3)
        self._noise = []
        for _ in range(4):
            n = rng.normal(0, rng.uniform(1, 7), shape)
            self._noise.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))

    def _affine(self, pose):
        x, y, yaw = pose
        c, s = math.cos(yaw), math.sin(yaw)
        cx, cy = x + self.camera_forward * c, y + self.camera_forward * s
        k, t = self.px_per_m, self.texture
        return np.array([[k * c, -k * s, (cx - t.x0) * k], [-k * s, -k * c, (t.y1 - cy) * k]], dtype=np.float32)

    def render(self, pose):
        """BGR uint8 frame (H, W, 3) seen from ``pose``."""
        cv2 = self.cv2
        maps = cv2.transform(self.floor, self._affine(pose))
        frame = cv2.remap(self.texture.image, maps, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=self.wall)
        if self.randomize:
            frame = self._augment(frame)
        return frame

    def _augment(self, frame):
        cv2, rng = self.cv2, self.rng
        gain = rng.uniform(0.6, 1.35) * rng.uniform(0.9, 1.1, 3)
        bias = rng.uniform(-25, 25, 3)
        gamma = rng.uniform(0.75, 1.3)
        ramp = np.linspace(0.0, 1.0, 256)[:, None] ** gamma * 255.0
        lut = np.clip(ramp * gain[None, :] + bias[None, :], 0, 255).astype(np.uint8).reshape(256, 1, 3)
        frame = cv2.LUT(frame, lut)
        if rng.random() < 0.35:
            k = 3 if rng.random() < 0.7 else 5
            frame = cv2.GaussianBlur(frame, (k, k), 0)
        plus, minus = self._noise[int(rng.integers(0, len(self._noise)))]
        oy, ox = (int(v) for v in rng.integers(0, 16, 2))
        h, w = frame.shape[:2]
        frame = cv2.add(frame, plus[oy:oy + h, ox:ox + w])
        return cv2.subtract(frame, minus[oy:oy + h, ox:ox + w])

    def project_to_image(self, pose, world_xy):
        """Pixel (u, v) where the floor point ``world_xy`` appears from ``pose``, or None if unseen."""
        uv = self.project_many(pose, [world_xy])[0]
        return None if np.isnan(uv[0]) else (float(uv[0]), float(uv[1]))

    def project_many(self, pose, world_xy):
        """(N, 2) pixels for (N, 2) floor points; NaN rows are out of view."""
        x, y, yaw = pose
        c, s = math.cos(yaw), math.sin(yaw)
        pts = np.asarray(world_xy, dtype=float).reshape(-1, 2) - [x + self.camera_forward * c,
                                                                   y + self.camera_forward * s]
        car = np.stack([c * pts[:, 0] + s * pts[:, 1], -s * pts[:, 0] + c * pts[:, 1], np.zeros(len(pts))], axis=1)
        return self.camera.project_car_points(car)
