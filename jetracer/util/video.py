"""Recording what the car saw, with the prediction drawn on it: .mp4 (OpenCV) or .gif (Pillow)."""

from pathlib import Path

import numpy as np

__all__ = ["VideoRecorder", "draw_prediction"]


def draw_prediction(image_bgr, x, y, steering=None, throttle=None):
    """A copy of the frame with the target point (normalised x, y) and a steering bar."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(np.ascontiguousarray(image_bgr[:, :, ::-1]))
    draw = ImageDraw.Draw(img)
    w, h = img.size
    if x is not None and y is not None:
        px, py = (x / 2.0 + 0.5) * w, (y / 2.0 + 0.5) * h
        draw.ellipse([px - 5, py - 5, px + 5, py + 5], outline=(0, 255, 0), width=2)
        draw.line([w / 2, h - 1, px, py], fill=(0, 255, 0), width=1)
    if steering is not None:
        x0, x1 = sorted((w / 2, w / 2 + steering * w / 2))
        draw.rectangle([x0, h - 6, x1, h - 1], fill=(255, 160, 0))
    if throttle is not None:
        y0, y1 = sorted((h - 1, h - 1 - abs(throttle) * h))
        draw.rectangle([0, y0, 4, y1], fill=(0, 120, 255) if throttle >= 0 else (255, 0, 0))
    return np.asarray(img)[:, :, ::-1]


class VideoRecorder:
    """Appends annotated frames; writes the file on close (GIF) or as it goes (MP4)."""

    def __init__(self, path, fps=30.0, max_frames=3000):
        self.path = Path(path)
        self.fps = float(fps)
        self.max_frames = max_frames
        self.count = 0
        self._gif_frames = []
        self._writer = None

    def add(self, image_bgr, x=None, y=None, steering=None, throttle=None):
        if self.count >= self.max_frames:
            return
        frame = draw_prediction(image_bgr, x, y, steering, throttle)
        self.count += 1
        if self.path.suffix.lower() == ".gif":
            if self.count % 2 == 1:  # half rate keeps GIFs small
                from PIL import Image

                self._gif_frames.append(Image.fromarray(np.ascontiguousarray(frame[:, :, ::-1])))
            return
        if self._writer is None:
            import cv2

            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = frame.shape[:2]
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
        self._writer.write(np.ascontiguousarray(frame))

    def close(self):
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._gif_frames:
            from .atomic import atomic_path

            with atomic_path(self.path) as tmp:
                self._gif_frames[0].save(str(tmp), format="GIF", save_all=True, append_images=self._gif_frames[1:],
                                         duration=int(2000 / self.fps), loop=0)
            self._gif_frames = []
