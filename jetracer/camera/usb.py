"""USB (UVC) camera through V4L2: a GStreamer pipeline when OpenCV has it, else OpenCV's V4L2.

Raw (YUYV) streams are cheap to decode but limited in size and rate by USB 2 bandwidth; MJPEG
gets 720p30 from most webcams at the cost of a JPEG decode (``jpegdec``).
"""

import re

from ..errors import CameraError
from . import _cv
from ._cv import APPSINK, FLIP_METHODS, check_flip, fit, framerate, require_cv2
from .base import Camera

__all__ = ["USBCamera", "usb_pipeline"]

USB_FIXES = ("check the device exists (`ls /dev/video*`, `v4l2-ctl --list-devices`), that no other process uses it, "
             "and that it supports this size, rate and format (`v4l2-ctl -d DEV --list-formats-ext`)")

FORMATS = ("raw", "mjpeg")


def usb_pipeline(device="/dev/video0", stream_format="raw", capture_width=640, capture_height=480, fps=30.0, flip=0,
                 width=224, height=224):
    """The GStreamer pipeline string for a V4L2 camera delivering BGR width x height."""
    check_flip(flip)
    if stream_format not in FORMATS:
        raise CameraError("USB camera format %r is not one of %s" % (stream_format, ", ".join(FORMATS)))
    caps = "width=(int)%d, height=(int)%d, framerate=(fraction)%s" % (capture_width, capture_height, framerate(fps))
    source = ("image/jpeg, %s ! jpegdec" if stream_format == "mjpeg" else "video/x-raw, %s") % caps
    flip_stage = "" if flip == 0 else "videoflip method=%s ! " % FLIP_METHODS[flip]
    return ("v4l2src device=%s ! %s ! %svideoconvert ! videoscale ! "
            "video/x-raw, format=(string)BGR, width=(int)%d, height=(int)%d ! %s"
            % (device, source, flip_stage, width, height, APPSINK))


def device_index(device):
    """/dev/video2 -> 2 (OpenCV's V4L2 backend takes an index); an int passes through."""
    if isinstance(device, int):
        return device
    match = re.match(r"^(?:/dev/video)?(\d+)$", str(device))
    if not match:
        raise CameraError("USB camera device %r is not /dev/videoN or an index" % (device,))
    return int(match.group(1))


class USBCamera(Camera):
    """A USB camera: ``USBCamera(device="/dev/video0", stream_format="raw"|"mjpeg", capture_width,
    capture_height, fps, flip, width, height, backend="auto"|"gstreamer"|"v4l2")``. ``auto`` uses
    GStreamer when this OpenCV has it, else OpenCV's V4L2 capture (flip and resize in Python)."""

    def __init__(self, device="/dev/video0", stream_format="raw", capture_width=640, capture_height=480,
                 capture_fps=30.0, flip=0, backend="auto", fps=None, **kwargs):
        super().__init__(**kwargs)
        if backend not in ("auto", "gstreamer", "v4l2"):
            raise CameraError("USB camera backend %r is not one of auto, gstreamer, v4l2" % (backend,))
        if stream_format not in FORMATS:
            raise CameraError("USB camera format %r is not one of %s" % (stream_format, ", ".join(FORMATS)))
        self.device = device
        self.stream_format = stream_format
        self.capture_width = int(capture_width)
        self.capture_height = int(capture_height)
        self.capture_fps = float(fps if fps is not None else capture_fps)
        self.flip = check_flip(int(flip))
        self.backend = backend
        self._cap = None
        self._in_python = False  # flip/resize done here (V4L2 fallback) rather than in the pipeline

    @property
    def pipeline(self):
        return usb_pipeline(self.device, self.stream_format, self.capture_width, self.capture_height,
                            self.capture_fps, self.flip, self.width, self.height)

    def _open(self):
        cv2 = require_cv2("the USB camera")
        self._cv2 = cv2
        what = "USB camera %s" % (self.device,)
        use_gst = self.backend == "gstreamer" or (self.backend == "auto" and _cv.gstreamer_in_opencv(cv2))
        if use_gst:
            self._cap = _cv.open_gstreamer(cv2, self.pipeline, what, USB_FIXES)
            self._in_python = False
            return
        index = device_index(self.device)
        cap = cv2.VideoCapture(index, cv2.CAP_V4L2)
        if not cap.isOpened():
            cap.release()
            raise CameraError("cannot open %s with OpenCV V4L2 (index %d; OpenCV has no GStreamer here): %s"
                              % (what, index, USB_FIXES))
        if self.stream_format == "mjpeg":
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.capture_width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.capture_height)
        cap.set(cv2.CAP_PROP_FPS, self.capture_fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a driver-side backlog
        self._cap = cap
        self._in_python = True

    def _grab(self):
        ok, image = self._cap.read()
        if not ok or image is None:
            return None
        if self._in_python:
            image = _cv.apply_flip(image, self.flip)
        return fit(self._cv2, image, self.width, self.height)

    def _release(self):
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
