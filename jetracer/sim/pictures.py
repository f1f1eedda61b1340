"""README pictures: ``python -m jetracer.sim.pictures docs/images``.

Writes ``tracks.png`` (every built-in track from above, start line and direction marked),
``sim_frame.png`` (the camera's view: a plain frame and two domain-randomised ones) and
``appearances.jpg`` (a row of randomised training rooms above the held-out rooms, same pose).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from ..util.atomic import atomic_write_bytes
from .renderer import paint_track
from .track import Track

__all__ = ["track_plot", "tracks_picture", "frames_picture", "appearances_picture", "main"]


def track_plot(track, size=360):
    """A square top-down picture of ``track`` with a 1 m scale bar, start line and direction arrow."""
    import cv2

    tex = paint_track(track, px_per_m=60.0, margin_m=0.6)
    img = tex.image
    scale = size / max(img.shape[:2])
    img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.full((size + 40, size, 3), 255, np.uint8)
    y0, x0 = 40 + (size - img.shape[0]) // 2, (size - img.shape[1]) // 2
    canvas[y0:y0 + img.shape[0], x0:x0 + img.shape[1]] = img

    def px(xy):
        p = tex.to_px(xy) * scale + [x0, y0]
        return int(round(p[0])), int(round(p[1]))

    nx, ny = track.normal_at(0.0)
    half = track.width / 2
    x, y = track.point_at(0.0)
    cv2.line(canvas, px((x + nx * half, y + ny * half)), px((x - nx * half, y - ny * half)), (0, 0, 220), 3)
    a, b = track.point_at(0.4), track.point_at(1.4)
    cv2.arrowedLine(canvas, px(a), px(b), (0, 0, 220), 2, cv2.LINE_AA, tipLength=0.35)
    bar = int(round(60.0 * scale))
    cv2.line(canvas, (10, size + 30), (10 + bar, size + 30), (0, 0, 0), 2)
    cv2.putText(canvas, "1 m", (14 + bar, size + 35), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    radius = 1.0 / max(float(np.max(np.abs(track.curvature))), 1e-9)
    label = "%s  %.1f m, min R %.1f m" % (track.name, track.length, radius)
    cv2.putText(canvas, label, (8, 26), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def tracks_picture(names=None, columns=2):
    """Every built-in track in a grid."""
    tiles = [track_plot(Track.load(n)) for n in (names or Track.builtin_names())]
    blank = np.full_like(tiles[0], 255)
    while len(tiles) % columns:
        tiles.append(blank)
    gap = np.full((tiles[0].shape[0], 12, 3), 255, np.uint8)
    rows = []
    for i in range(0, len(tiles), columns):
        row = [tiles[i]]
        for tile in tiles[i + 1:i + columns]:
            row += [gap, tile]
        rows.append(np.hstack(row))
    return np.vstack(rows)


def frames_picture(track="technical", s=None, seeds=(1, 2)):
    """The camera view from one pose: plain, then randomised with each seed; 2x enlarged."""
    import cv2

    from .world import SimWorld

    world = SimWorld(track=track)
    t = world.track
    if s is None:  # a spot a little before the tightest corner
        s = float(t.s[int(np.argmax(np.abs(t.curvature)))]) - 1.2
    x, y = t.point_at(s)
    pose = (x, y, t.heading_at(s))
    frames = [world.renderer.render(pose)]
    for seed in seeds:
        rnd = SimWorld(track=t, randomize=True, seed=seed)
        frames.append(rnd.renderer.render(pose))
    big = [cv2.resize(f, None, fx=2, fy=2, interpolation=cv2.INTER_LINEAR) for f in frames]
    gap = np.full((big[0].shape[0], 8, 3), 255, np.uint8)
    row = [big[0]]
    for f in big[1:]:
        row += [gap, f]
    return np.hstack(row)


def _pose_before_tightest_corner(track, back_m=1.2):
    s = float(track.s[int(np.argmax(np.abs(track.curvature)))]) - back_m
    x, y = track.point_at(s)
    return (x, y, track.heading_at(s))


def appearances_picture(track="technical", seeds=(1, 2, 3, 4, 5)):
    """Top row: training rooms (domain randomisation, one per seed); bottom row: the held-out rooms,
    each labelled. Same pose everywhere, so only the room changes."""
    import cv2

    from .appearance import held_out, held_out_names
    from .renderer import Renderer
    from .world import SimWorld

    world = SimWorld(track=track)
    pose = _pose_before_tightest_corner(world.track)
    camera, forward = world.profile.camera, world.sim["camera_forward_m"]
    top = [Renderer(world.track, camera, forward, randomize=True, seed=seed).render(pose) for seed in seeds]
    bottom = []
    for name in held_out_names():
        frame = Renderer(world.track, camera, forward, appearance=held_out(name), seed=0).render(pose).copy()
        cv2.rectangle(frame, (0, 0), (frame.shape[1], 16), (255, 255, 255), -1)
        cv2.putText(frame, name, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (0, 0, 0), 1, cv2.LINE_AA)
        bottom.append(frame)
    columns = max(len(top), len(bottom))
    blank = np.full_like(top[0], 255)
    rows = []
    for row in (top, bottom):
        row = row + [blank] * (columns - len(row))
        gap = np.full((row[0].shape[0], 6, 3), 255, np.uint8)
        parts = [row[0]]
        for f in row[1:]:
            parts += [gap, f]
        rows.append(np.hstack(parts))
    return np.vstack([rows[0], np.full((6, rows[0].shape[1], 3), 255, np.uint8), rows[1]])


def _save_png(path, image):
    import cv2

    ok, data = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError("PNG encoding failed for %s" % path)
    atomic_write_bytes(path, data.tobytes())


def _save_jpeg(path, image, quality=85):
    import cv2

    ok, data = cv2.imencode(".jpg", image, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed for %s" % path)
    atomic_write_bytes(path, data.tobytes())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m jetracer.sim.pictures", description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="docs/images", help="folder for tracks.png and sim_frame.png")
    args = parser.parse_args(argv)
    out = Path(args.out)
    _save_png(out / "tracks.png", tracks_picture())
    _save_png(out / "sim_frame.png", frames_picture())
    _save_jpeg(out / "appearances.jpg", appearances_picture())  # sensor noise makes a PNG of it ~1 MB
    print("wrote %s, %s and %s" % (out / "tracks.png", out / "sim_frame.png", out / "appearances.jpg"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
