"""Recording what the car saw, with the prediction drawn on it: .mp4 (OpenCV) or .gif (Pillow)."""

import errno
import os
from pathlib import Path
from typing import Any, List, Optional, cast

import numpy as np

from ..protocols import PathLike

__all__ = ["VideoRecorder", "draw_prediction"]


def draw_prediction(image_bgr: np.ndarray, x: Optional[float], y: Optional[float], steering: Optional[float] = None,
                    throttle: Optional[float] = None) -> np.ndarray:
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
    """Appends annotated frames; writes the file on close (GIF) or as it goes (MP4, AVI).

    The path is checked when the recorder is made, so a wrong ``--video`` fails before the car
    moves. The video is written under a temp name and renamed into place on close: a failed or
    interrupted recording leaves the previous file at that path whole."""

    SUFFIXES = (".mp4", ".avi", ".gif")

    def __init__(self, path: PathLike, fps: float = 30.0, max_frames: int = 3000) -> None:
        from ..errors import OutputError
        from .atomic import check_output_file

        self.path = Path(path)
        check_output_file(self.path, "video")
        if self.path.suffix.lower() not in self.SUFFIXES:
            raise OutputError("video %s: the name must end in %s" % (path, ", ".join(self.SUFFIXES)), exit_code=2)
        self.fps = float(fps)
        self.max_frames = max_frames
        self.count = 0
        self._gif_frames: List[Any] = []  # PIL images
        self._writer: Any = None  # cv2.VideoWriter
        self._tmp: Optional[str] = None

    def add(self, image_bgr: np.ndarray, x: Optional[float] = None, y: Optional[float] = None,
            steering: Optional[float] = None, throttle: Optional[float] = None) -> None:
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
            self._open_writer(frame.shape[1], frame.shape[0])
        self._writer.write(np.ascontiguousarray(frame))

    def _open_writer(self, width: int, height: int) -> None:
        import tempfile

        import cv2

        from ..errors import OutputError
        from .atomic import output_error

        try:
            fd, tmp = tempfile.mkstemp(prefix="." + self.path.name + ".", suffix=".tmp" + self.path.suffix,
                                       dir=str(self.path.parent))
            os.close(fd)
        except OSError as exc:
            raise output_error(exc, self.path) from None
        self._tmp = tmp
        fourcc = cv2.VideoWriter_fourcc(*(  # type: ignore[attr-defined]  # the name on every OpenCV 4
            "MJPG" if self.path.suffix.lower() == ".avi" else "mp4v"))
        self._writer = cv2.VideoWriter(tmp, fourcc, self.fps, (int(width), int(height)))
        if not self._writer.isOpened():
            self._discard()
            raise OutputError("video %s: OpenCV cannot write this format here (try .gif)" % self.path)

    def _discard(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp is not None:
            try:
                os.unlink(self._tmp)
            except OSError:
                pass
            self._tmp = None

    def close(self) -> None:
        """Finish the file and move it into place; raises ``OutputError`` (one line) when it cannot."""
        from .atomic import output_error

        if self._writer is not None:
            self._writer.release()
            self._writer = None
            tmp, self._tmp = cast(str, self._tmp), None  # set whenever the writer is
            try:
                if os.path.getsize(tmp) == 0:  # OpenCV reports no write error, an empty file is one
                    raise OSError(errno.ENOSPC, "nothing was written", str(self.path))
                os.replace(tmp, str(self.path))
            except OSError as exc:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise output_error(exc, self.path) from None
        if self._gif_frames:
            from .atomic import atomic_path

            frames, self._gif_frames = self._gif_frames, []
            with atomic_path(self.path) as gif_tmp:
                frames[0].save(str(gif_tmp), format="GIF", save_all=True, append_images=frames[1:],
                               duration=int(2000 / self.fps), loop=0)
