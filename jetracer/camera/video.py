"""Replay a video file or a folder of images as a camera: offline debugging and tests.

A recorded drive replayed through the same Camera interface exercises the pilot exactly as the
live camera would, minus the car. ``fps=0`` delivers frames as fast as they are read (for tests
and benchmarks); a positive ``fps`` paces the capture thread in real time.
"""

import os
import time

from ..errors import CameraError
from ._cv import apply_flip, check_flip, fit, require_cv2
from .base import Camera, SourceEnded

__all__ = ["VideoCamera", "IMAGE_SUFFIXES"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


class VideoCamera(Camera):
    """``VideoCamera(path, fps=0, loop=True, flip=0, width=224, height=224, ...)``: ``path`` is a video
    file OpenCV can decode or a folder of .jpg/.png images (sorted by name). Without ``loop`` the
    end of the source stalls the camera with the reason "end of video"."""

    def __init__(self, path, fps=0.0, loop=True, flip=0, **kwargs):
        super().__init__(**kwargs)
        self.path = os.fspath(path)
        self.replay_fps = float(fps)
        if self.replay_fps < 0:
            raise CameraError("video camera fps must be >= 0 (0: as fast as read), got %r" % (fps,))
        self.loop = bool(loop)
        self.flip = check_flip(int(flip))
        self._cap = None
        self._files = None
        self._index = 0
        self._due = None

    @property
    def is_folder(self):
        return os.path.isdir(self.path)

    def _open(self):
        cv2 = require_cv2("the video camera")
        self._cv2 = cv2
        self._due = None
        if self.is_folder:
            names = sorted(n for n in os.listdir(self.path) if n.lower().endswith(IMAGE_SUFFIXES))
            if not names:
                raise CameraError("image folder %s holds no %s files: point camera.path at a folder of frames"
                                  % (self.path, "/".join(IMAGE_SUFFIXES)))
            self._files = [os.path.join(self.path, n) for n in names]
            self._index = 0
            return
        if not os.path.isfile(self.path):
            raise CameraError("video file or image folder %s not found: set camera.path in the profile" % self.path)
        cap = cv2.VideoCapture(self.path)
        if not cap.isOpened():
            cap.release()
            raise CameraError("cannot decode video %s with OpenCV %s: convert it (e.g. `ffmpeg -i IN -c:v mjpeg "
                              "OUT.avi`) or extract frames to an image folder" % (self.path, cv2.__version__))
        self._cap = cap

    def _grab(self):
        self._pace()
        image = self._next_image()
        if image is None:
            if not self.loop:
                raise SourceEnded("end of video %s" % self.path)
            self._rewind()
            image = self._next_image()
            if image is None:
                raise CameraError("video %s yields no frames" % self.path)
        return fit(self._cv2, apply_flip(image, self.flip), self.width, self.height)

    def _next_image(self):
        if self._files is not None:
            if self._index >= len(self._files):
                return None
            path = self._files[self._index]
            self._index += 1
            image = self._cv2.imread(path, self._cv2.IMREAD_COLOR)
            if image is None:
                raise CameraError("cannot read image %s: not a readable jpg/png" % path)
            return image
        ok, image = self._cap.read()
        return image if ok else None

    def _rewind(self):
        if self._files is not None:
            self._index = 0
        else:  # re-open rather than seek: seeking is unreliable for some codecs
            self._cap.release()
            self._cap = self._cv2.VideoCapture(self.path)

    def _pace(self):
        """Hold frames to ``fps`` in real time while the capture thread runs (never for read())."""
        if self.replay_fps <= 0 or not self.running:
            return
        period = 1.0 / self.replay_fps
        now = time.monotonic()
        if self._due is None or now - self._due > period:  # first frame, or fell behind: restart the schedule
            self._due = now
        elif self._due > now:
            self._sleep(self._due - now)
        self._due += period

    def _release(self):
        cap, self._cap, self._files = self._cap, None, None
        if cap is not None:
            cap.release()
