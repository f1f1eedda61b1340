"""What the car's camera sees: the floor plane through a fisheye (or pinhole) lens.

The track is painted once into a top-down texture (floor, road, edge lines, dashed centre line).
The ray through every pixel is traced to the floor once, giving each pixel a fixed floor point in
the car's frame; a frame is then one affine transform of those points by the car's pose and one
``cv2.remap`` of the texture, so it costs a fraction of a millisecond. Pixels whose ray misses the
floor (above the horizon, or past the room's edge) show the wall colour.

Domain randomisation (for training data that transfers): per episode the renderer paints a new
room (:mod:`jetracer.sim.appearance`: floor kind and colour, road surface or bare floor, edge tape and
centre line styles and colours, shadows, distractors and objects beside the track, camera height,
pitch and field of view); each frame then gets the room's light with a little flicker, glare,
motion or focus blur and sensor noise. All of it comes from a seeded generator. Held-out rooms are
rendered by passing ``appearance=`` instead.
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


def _floor(cv2, rng, h, w, ppm, floor):
    """The floor of a room: its kind's texture in its colour (``rng`` draws the texture's noise)."""
    img = np.empty((h, w, 3), np.float32)
    img[:] = floor["color"]
    kind = floor["kind"]
    if kind == "plain":
        return img.astype(np.uint8)
    contrast, grain = floor.get("contrast", 1.0), floor.get("grain", 3.0)

    def smooth(cell_px, amount):
        small = rng.normal(0, 1, (max(2, int(h // cell_px) + 2), max(2, int(w // cell_px) + 2))).astype(np.float32)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)[..., None] * amount

    if kind == "wood":
        plank = max(4, int(floor["plank_m"] * ppm))
        along = floor.get("along_x", True)
        n = (h if along else w) // plank + 1
        tone = np.repeat(rng.normal(0, 14 * contrast, n), plank)[:h if along else w].astype(np.float32)
        # grain: noise stretched along the planks
        streak_shape = (max(2, h // 2), max(2, w // 40)) if along else (max(2, h // 40), max(2, w // 2))
        streaks = cv2.resize(rng.normal(0, 7 * contrast, streak_shape).astype(np.float32), (w, h),
                             interpolation=cv2.INTER_LINEAR)
        if along:
            img += tone[:, None, None] + streaks[..., None]
            img[::plank] *= 0.7  # seams
        else:
            img += tone[None, :, None] + streaks[..., None]
            img[:, ::plank] *= 0.7
    elif kind == "carpet":
        img += smooth(ppm * 0.4, 10 * contrast)
        grain = max(grain, 4.0)
    elif kind == "concrete":
        img += smooth(ppm * 0.8, 14 * contrast) + smooth(ppm * 0.15, 6 * contrast)
    elif kind == "tiles":
        tile = max(8, int(floor["tile_m"] * ppm))
        tone = rng.normal(0, 6 * contrast, (h // tile + 1, w // tile + 1)).astype(np.float32)
        img += np.repeat(np.repeat(tone, tile, axis=0), tile, axis=1)[:h, :w, None]
        grout = 35.0 if np.mean(floor["color"]) > 128 else -35.0
        width = max(1, tile // 25)
        for k in range(width):
            img[k::tile] -= grout
            img[:, k::tile] -= grout
    else:  # vinyl: nearly plain
        img += smooth(ppm * 1.5, 5 * contrast)
    if grain > 0:
        noise = rng.normal(0, grain, ((h + 1) // 2, (w + 1) // 2, 1)).astype(np.float32)
        img += np.repeat(np.repeat(noise, 2, axis=0), 2, axis=1)[:h, :w]
    return np.clip(img, 0, 255).astype(np.uint8)


def paint_track(track, px_per_m=200.0, margin_m=3.0, rng=None, appearance=None, tape_share=0.0):
    """Paint ``track`` top-down in ``appearance`` (an :class:`~jetracer.sim.appearance.Appearance`).

    Without one: ``rng`` (a numpy Generator) draws a training room (domain randomisation; ``tape_share`` as
    :func:`~jetracer.sim.appearance.sample_training` takes it), and with neither the track file's own colours
    are painted on a plain floor."""
    from .appearance import plain, sample_training

    cv2 = _cv2()
    if appearance is None:
        appearance = sample_training(rng, tape_share) if rng is not None else plain(track)
    tex_rng = np.random.default_rng(appearance.seed)
    fx = appearance.effects
    xmin, ymin, xmax, ymax = track.bounds(margin_m)
    w, h = int(math.ceil((xmax - xmin) * px_per_m)), int(math.ceil((ymax - ymin) * px_per_m))
    tex = TopDownTexture(None, xmin, ymax, px_per_m)
    img = _floor(cv2, tex_rng, h, w, px_per_m, appearance.floor)
    if fx:
        _distractors(cv2, tex_rng, img, tex, track, fx["distractors"], on_road=False)
        _objects(cv2, tex_rng, img, tex, track, fx["objects"])
    shift = 3
    scale = float(1 << shift)

    def poly(xy):
        return np.round(tex.to_px(xy) * scale).astype(np.int32)

    if appearance.road["color"] is not None:
        road_px = max(1, int(round(track.width * px_per_m)))
        cv2.polylines(img, [poly(track.xy)], True, tuple(appearance.road["color"]), road_px, cv2.LINE_AA, shift)
    if fx:
        _distractors(cv2, tex_rng, img, tex, track, fx["road_distractors"], on_road=True)
    edge, center = appearance.edge, appearance.center
    if edge["style"] != "none":
        ew = max(1, int(round(edge["width_m"] * px_per_m)))
        inset = edge["width_m"] / 2
        n = np.stack([-np.sin(track.heading), np.cos(track.heading)], axis=1)
        for side in (1, -1):
            line = track.xy + side * n * (track.width / 2 - inset)
            if edge["style"] == "solid":
                cv2.polylines(img, [poly(line)], True, tuple(edge["color"]), ew, cv2.LINE_AA, shift)
            else:
                _dashes(cv2, img, poly, line, track, edge, ew)
    if center["style"] != "none":
        cw = max(1, int(round(center["width_m"] * px_per_m)))
        if center["style"] == "solid":
            cv2.polylines(img, [poly(track.xy)], True, tuple(center["color"]), cw, cv2.LINE_AA, shift)
        else:
            _dashes(cv2, img, poly, track.xy, track, center, cw)
    if fx and fx["shadows"]:
        _shadows(cv2, tex_rng, img, fx["shadows"], fx["shadow_depth"])
    tex.image = img
    tex.appearance = appearance
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
    if pieces:
        cv2.polylines(img, pieces, False, tuple(style["color"]), thickness, cv2.LINE_AA, 3)


def _distractors(cv2, rng, img, tex, track, count, on_road):
    """Tape scraps, scuffs and stains: things a model must learn to ignore."""
    for _ in range(int(count)):
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


def _objects(cv2, rng, img, tex, track, count):
    """Things standing beside the track, seen from above: boxes, bags, furniture feet."""
    for _ in range(int(count)):
        s = rng.uniform(0, track.length)
        x, y = track.point_at(s)
        nx, ny = track.normal_at(s)
        off = (track.width / 2 + rng.uniform(0.2, 1.2)) * (1 if rng.random() < 0.5 else -1)
        p = tex.to_px([x + nx * off, y + ny * off])
        c = tuple(int(v) for v in rng.uniform(10, 240, 3))
        k = tex.px_per_m
        if rng.random() < 0.6:  # a box
            size = (rng.uniform(0.1, 0.45) * k, rng.uniform(0.1, 0.45) * k)
            box = cv2.boxPoints(((float(p[0]), float(p[1])), size, float(rng.uniform(0, 90))))
            cv2.fillConvexPoly(img, np.round(box).astype(np.int32), c, cv2.LINE_AA)
            cv2.polylines(img, [np.round(box).astype(np.int32)], True, tuple(int(v * 0.5) for v in c), 2)
        else:  # four feet of a chair or table
            half = rng.uniform(0.15, 0.35) * k
            r = max(2, int(rng.uniform(0.015, 0.04) * k))
            for dx, dy in ((-1, -1), (-1, 1), (1, -1), (1, 1)):
                cv2.circle(img, (int(p[0] + dx * half), int(p[1] + dy * half)), r, c, -1, cv2.LINE_AA)


def _shadows(cv2, rng, img, count, depth):
    """Soft-edged shadows across the floor (furniture, a person, a window frame)."""
    h, w = img.shape[:2]
    small = np.ones((max(2, h // 8), max(2, w // 8)), np.float32)
    sh, sw = small.shape
    for _ in range(int(count)):
        centre = rng.uniform(0, 1, 2) * (sw, sh)
        size = rng.uniform(0.05, 0.3, 2) * (sw, sh)
        box = cv2.boxPoints(((float(centre[0]), float(centre[1])), (float(size[0]), float(size[1])),
                             float(rng.uniform(0, 180))))
        cv2.fillConvexPoly(small, np.round(box).astype(np.int32), float(depth))
    small = cv2.GaussianBlur(small, (0, 0), 2.0)
    mask = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    np.multiply(img, mask[..., None], out=img, casting="unsafe")


class Renderer:
    """Renders the camera view at a car pose; deterministic for a given seed.

    ``pose`` is (x, y, yaw) of the rear axle centre in metres/radians; the lens sits
    ``camera_forward_m`` ahead of it. ``randomize`` turns on domain randomisation: every
    :meth:`reseed` draws a new training room (:func:`~jetracer.sim.appearance.sample_training`).
    ``appearance`` fixes the room instead (a held-out one, say); its per-frame effects (light
    flicker, blur, noise) still follow the seed. ``tape_share``: more training rooms of bare tape on a pale
    floor (:func:`~jetracer.sim.appearance.sample_training`). ``self.camera`` is the camera as mounted in the
    current room (height, pitch and field of view jittered), so labels projected through
    :meth:`project_many` match the frames.
    """

    def __init__(self, track, camera=None, camera_forward_m=0.2, randomize=False, seed=0, px_per_m=200.0,
                 margin_m=3.0, max_range_m=30.0, appearance=None, tape_share=0.0):
        self.cv2 = _cv2()
        self.track = track if isinstance(track, Track) else Track.load(track)
        self.base_camera = camera if isinstance(camera, CameraModel) else CameraModel.from_profile(camera or {})
        self.camera = self.base_camera
        self.camera_forward = float(camera_forward_m)
        self.randomize = bool(randomize) or appearance is not None
        self.fixed_appearance = appearance
        self.tape_share = float(tape_share)
        self.px_per_m, self.margin_m = float(px_per_m), float(margin_m)
        self.max_range_m = float(max_range_m)
        self.floor, self.sees_floor = self.camera.floor_points(max_range_m)
        self._camera_kw = None
        self.reseed(seed)

    @property
    def appearance(self):
        """The room being rendered now."""
        return self.texture.appearance

    def reseed(self, seed):
        """New episode: a fresh room (when randomising), wall and per-frame effects."""
        self.rng = np.random.default_rng(seed)
        if not self.randomize:
            self.texture = paint_track(self.track, self.px_per_m, self.margin_m)
            self.wall = (150, 160, 170)
            self._set_camera(None)
            self._noise = self._glare = None
            return
        rng = self.rng
        self.texture = paint_track(self.track, self.px_per_m, self.margin_m, rng=rng,
                                   appearance=self.fixed_appearance, tape_share=self.tape_share)
        app = self.texture.appearance
        self.wall = tuple(int(v) for v in app.wall)
        self._set_camera(app)
        fx = app.effects
        shape = (self.camera.height + 16, self.camera.width + 16, 3)
        self._noise = []
        for _ in range(3):
            n = rng.normal(0, fx["noise_sd"] * rng.uniform(0.7, 1.3), shape)
            self._noise.append((np.clip(n, 0, 255).astype(np.uint8), np.clip(-n, 0, 255).astype(np.uint8)))
        self._glare = _glare_image(self.camera, fx) if fx["glare"] > 0 else None
        light = app.light
        self._light = (float(light["gain"]), np.asarray(light["wb"], dtype=float), float(light["gamma"]),
                       float(light["bias"]))

    def _set_camera(self, app):
        """Mount the camera as this room has it (re-tracing the pixel rays only when it moved)."""
        base = self.base_camera
        kw = {"width": base.width, "height": base.height, "fov_deg": base.fov_deg, "lens": base.lens,
              "pitch_deg": math.degrees(base.pitch), "mount_height_m": base.mount_height}
        if app is not None and app.camera:
            kw = app.camera_kwargs(kw)
            limit = 200.0 if kw["lens"] == "fisheye" else 170.0
            kw["fov_deg"] = min(limit, max(10.0, kw["fov_deg"]))
        if kw == self._camera_kw:
            return
        self._camera_kw = kw
        self.camera = base if app is None or not app.camera else CameraModel(**kw)
        self.floor, self.sees_floor = self.camera.floor_points(self.max_range_m)

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
        """Per-frame effects: the room's light (with a little flicker), glare, blur, sensor noise."""
        cv2, rng = self.cv2, self.rng
        fx = self.texture.appearance.effects
        gain, wb, gamma, bias = self._light
        gain = gain * rng.uniform(0.93, 1.07) * wb * rng.uniform(0.97, 1.03, 3)
        ramp = np.linspace(0.0, 1.0, 256)[:, None] ** (gamma * rng.uniform(0.95, 1.05)) * 255.0
        lut = np.clip(ramp * gain[None, :] + bias + rng.uniform(-6, 6, 3)[None, :], 0, 255)
        frame = cv2.LUT(frame, lut.astype(np.uint8).reshape(256, 1, 3))
        if self._glare is not None:
            frame = cv2.add(frame, self._glare)
        if rng.random() < fx["motion_blur_p"]:
            frame = cv2.filter2D(frame, -1, _motion_kernel(rng))
        elif rng.random() < fx["blur_p"]:
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


def _motion_kernel(rng):
    """A short line kernel: the smear of a camera moving (or shaking) during the exposure."""
    length = int(rng.integers(3, 8))
    kernel = np.zeros((length, length), np.float32)
    angle = rng.uniform(0, math.pi)
    c = (length - 1) / 2.0
    for t in np.linspace(-c, c, 2 * length):
        kernel[int(round(c + t * math.sin(angle))), int(round(c + t * math.cos(angle)))] = 1.0
    return kernel / kernel.sum()


def _glare_image(camera, fx):
    """A soft bright blob where a ceiling light reflects off a shiny floor (fixed in the image)."""
    h, w = camera.height, camera.width
    gx, gy = fx["glare_xy"]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    sigma = fx["glare_size"] * max(h, w)
    blob = np.exp(-(((xx - gx * w) ** 2) + ((yy - gy * h) ** 2) * 2.0) / (2 * sigma * sigma)) * fx["glare"]
    return np.repeat(np.clip(blob, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
