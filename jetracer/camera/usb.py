"""USB (UVC) camera through V4L2: a GStreamer pipeline when OpenCV has it, else OpenCV's V4L2.

Which mode is asked for, and why: a webcam streams only the modes it lists, and USB 2 carries raw
YUYV at 30 fps only up to about 640x480 (1280x720 raw is about 55 MB/s; webcams list it at 5-10
fps). So ``stream_format="auto"`` (the default) reads the device's modes
(:mod:`jetracer.camera.v4l2`) and takes the one nearest the wanted capture size that reaches the
wanted rate, raw when raw does (no decode), else MJPEG. Without a list (the device cannot be
queried), auto asks for raw 640x480, which every UVC camera streams at 30 fps. MJPEG is decoded
by the Jetson's hardware (``nvv4l2decoder mjpeg=1``, else ``nvjpegdec``) when GStreamer has the
element, else by ``jpegdec`` on the CPU.
"""

import logging
import re

from ..errors import CameraError
from . import _cv
from ._cv import APPSINK, FLIP_METHODS, BoundedReader, check_flip, fit, framerate, require_cv2
from .base import Camera
from .v4l2 import Mode, choose_mode, enumerate_modes, kind_of

__all__ = ["USBCamera", "usb_pipeline", "FORMATS", "FALLBACK_MODE"]

log = logging.getLogger(__name__)

USB_FIXES = ("check the device exists (`ls /dev/video*`, `v4l2-ctl --list-devices`), that no other process uses it, "
             "and that it supports this size, rate and format (`v4l2-ctl -d DEV --list-formats-ext`)")

FORMATS = ("auto", "raw", "mjpeg")
#: what auto asks for when the device's modes cannot be read: streams on every UVC camera over USB 2
FALLBACK_MODE = Mode("YUYV", 640, 480, 30.0)
#: MJPEG decoders, best first: the Jetson's NVJPG engine through V4L2, then through nvjpeg, then the CPU
MJPEG_DECODERS = (("nvv4l2decoder", "nvv4l2decoder mjpeg=1"), ("nvjpegdec", "nvjpegdec"), ("jpegdec", "jpegdec"))


def usb_pipeline(device="/dev/video0", stream_format="raw", capture_width=640, capture_height=480, fps=30.0, flip=0,
                 width=224, height=224, decoder="jpegdec"):
    """The GStreamer pipeline string for a V4L2 camera delivering BGR width x height.
    ``decoder``: the MJPEG decoder element (with options); a hardware one (``nv...``) hands
    its output to ``nvvidconv``, which scales and flips in hardware too."""
    check_flip(flip)
    if stream_format not in ("raw", "mjpeg"):
        raise CameraError("USB camera format %r is not one of raw, mjpeg" % (stream_format,))
    caps = "width=(int)%d, height=(int)%d, framerate=(fraction)%s" % (capture_width, capture_height, framerate(fps))
    out = "video/x-raw, format=(string)BGR, width=(int)%d, height=(int)%d ! %s" % (width, height, APPSINK)
    if stream_format == "mjpeg" and decoder.startswith("nv"):
        return ("v4l2src device=%s ! image/jpeg, %s ! %s ! nvvidconv flip-method=%d ! "
                "video/x-raw, width=(int)%d, height=(int)%d, format=(string)BGRx ! videoconvert ! "
                "video/x-raw, format=(string)BGR ! %s" % (device, caps, decoder, flip, width, height, APPSINK))
    source = ("image/jpeg, %s ! %s" % (caps, decoder)) if stream_format == "mjpeg" else "video/x-raw, %s" % caps
    flip_stage = "" if flip == 0 else "videoflip method=%s ! " % FLIP_METHODS[flip]
    return "v4l2src device=%s ! %s ! %svideoconvert ! videoscale ! %s" % (device, source, flip_stage, out)


def device_index(device):
    """/dev/video2 -> 2 (OpenCV's V4L2 backend takes an index); an int passes through."""
    if isinstance(device, int):
        return device
    match = re.match(r"^(?:/dev/video)?(\d+)$", str(device))
    if not match:
        raise CameraError("USB camera device %r is not /dev/videoN or an index" % (device,))
    return int(match.group(1))


def device_path(device):
    """1 -> /dev/video1; a path passes through."""
    if isinstance(device, int) or re.match(r"^\d+$", str(device)):
        return "/dev/video%d" % int(device)
    return str(device)


class USBCamera(Camera):
    """A USB camera, constructed as JetCam's is: ``USBCamera(width=224, height=224,
    capture_width=640, capture_height=480, capture_fps=30, capture_device=0)`` (JetCam's names
    and defaults; ``capture_device`` N is /dev/videoN), plus ``device`` (a path, instead of
    capture_device), ``stream_format`` ("auto", "raw" or "mjpeg": see the module docstring),
    ``flip``, ``backend`` ("auto", "gstreamer" or "v4l2": auto uses GStreamer when this OpenCV has
    it, else OpenCV's V4L2 capture with flip and resize in Python) and ``grab_timeout_s``.
    ``mode`` is the mode asked for, once opened; ``modes`` what the device listed."""

    def __init__(self, capture_device=0, stream_format="auto", capture_width=640, capture_height=480,
                 capture_fps=30.0, flip=0, backend="auto", fps=None, device=None, grab_timeout_s=None,
                 list_modes=None, element_exists=None, **kwargs):
        super().__init__(**kwargs)
        if backend not in ("auto", "gstreamer", "v4l2"):
            raise CameraError("USB camera backend %r is not one of auto, gstreamer, v4l2" % (backend,))
        if stream_format not in FORMATS:
            raise CameraError("USB camera format %r is not one of %s" % (stream_format, ", ".join(FORMATS)))
        self.device = device_path(device if device is not None else capture_device)
        device_index(self.device)  # a bad name fails here, in the caller
        self.stream_format = stream_format
        self.capture_width = int(capture_width)
        self.capture_height = int(capture_height)
        self.capture_fps = float(fps if fps is not None else capture_fps)
        self.flip = check_flip(int(flip))
        self.backend = backend
        self.grab_timeout_s = float(grab_timeout_s) if grab_timeout_s else max(1.0, 2.0 * self.stale_limit_s)
        self._list_modes = list_modes or enumerate_modes
        self._element_exists = element_exists or _cv.gst_element_exists
        #: the modes the device listed (None: not read yet, or it could not be queried)
        self.modes = None
        #: the mode asked for (chosen at open); None before
        self.mode = None
        #: the MJPEG decoder element in the pipeline (chosen at open)
        self.decoder = None
        self._reader = None
        self._in_python = False  # flip/resize done here (V4L2 fallback) rather than in the pipeline

    @property
    def capture_device(self):
        """JetCam's name: the N of /dev/videoN."""
        return device_index(self.device)

    def choose_mode(self):
        """The mode to ask for, from the device's list (see the module docstring), and why."""
        try:
            self.modes = list(self._list_modes(self.device))
        except (OSError, ValueError) as exc:
            self.modes = None
            log.debug("%s: cannot list modes: %s", self.device, exc)
        wanted = (self.capture_width, self.capture_height, self.capture_fps)
        if not self.modes:
            if self.stream_format == "auto":
                return FALLBACK_MODE, "the device lists no modes; raw 640x480 streams on every UVC camera"
            fourcc = "MJPG" if self.stream_format == "mjpeg" else "YUYV"
            return Mode(fourcc, *wanted), "as asked (the device lists no modes)"
        mode = choose_mode(self.modes, self.capture_width, self.capture_height, self.capture_fps, self.stream_format)
        if mode is None:
            raise CameraError("USB camera %s lists no %s mode (it has: %s): set camera.format to auto"
                              % (self.device, self.stream_format, _summary(self.modes)))
        if (mode.width, mode.height) == wanted[:2] and mode.fps >= self.capture_fps * 0.99:
            why = "listed as asked"
        else:
            why = "nearest listed mode to %dx%d at %g fps" % wanted
        raw = [m for m in self.modes if kind_of(m.fourcc) == "raw" and (m.width, m.height) == wanted[:2]]
        if kind_of(mode.fourcc) == "mjpeg" and raw:
            why += "; raw %dx%d reaches only %g fps" % (wanted[0], wanted[1], max(m.fps for m in raw))
        return mode, why

    @property
    def pipeline(self):
        mode = self.mode or Mode("MJPG" if self.stream_format == "mjpeg" else "YUYV", self.capture_width,
                                 self.capture_height, self.capture_fps)
        return usb_pipeline(self.device, kind_of(mode.fourcc) or "raw", mode.width, mode.height, mode.fps,
                            self.flip, self.width, self.height, decoder=self.decoder or "jpegdec")

    def _pick_decoder(self):
        for element, text in MJPEG_DECODERS[:-1]:
            if self._element_exists(element):
                return text
        return MJPEG_DECODERS[-1][1]

    def _open(self):
        cv2 = require_cv2("the USB camera")
        self._cv2 = cv2
        what = "USB camera %s" % (self.device,)
        self.mode, why = self.choose_mode()
        kind = kind_of(self.mode.fourcc) or "raw"
        use_gst = self.backend == "gstreamer" or (self.backend == "auto" and _cv.gstreamer_in_opencv(cv2))
        if use_gst:
            self.decoder = self._pick_decoder() if kind == "mjpeg" else None
            log.info("%s: %s %dx%d at %g fps (%s)%s", what, self.mode.fourcc, self.mode.width, self.mode.height,
                     self.mode.fps, why, ", decoded by " + self.decoder.split()[0] if self.decoder else "")
            cap = _cv.open_gstreamer(cv2, self.pipeline, what, USB_FIXES)
            self._in_python = False
        else:
            index = device_index(self.device)
            cap = cv2.VideoCapture(index, cv2.CAP_V4L2)
            if not cap.isOpened():
                cap.release()
                raise CameraError("cannot open %s with OpenCV V4L2 (index %d; OpenCV has no GStreamer here): %s"
                                  % (what, index, USB_FIXES))
            if kind == "mjpeg":
                cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.mode.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.mode.height)
            cap.set(cv2.CAP_PROP_FPS, self.mode.fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # newest frame, not a driver-side backlog
            log.info("%s: %s %dx%d at %g fps (%s), OpenCV V4L2", what, self.mode.fourcc, self.mode.width,
                     self.mode.height, self.mode.fps, why)
            self._in_python = True
        self._reader = BoundedReader(cap, "USBCamera-%s" % self.device)

    def _grab(self):
        result = self._reader.read(self.grab_timeout_s if self._frames_since_open else
                                   max(self.grab_timeout_s, self.first_frame_timeout_s),
                                   cancel=self._stop if self.running else None)
        if result is None:
            return None  # stopping
        ok, image = result
        if not ok or image is None:
            if not self._in_python:  # a GStreamer read that fails has reached EOS or an error
                raise CameraError("USB camera %s: the pipeline ended (EOS or a GStreamer error)" % self.device)
            return None  # OpenCV's V4L2 capture: nothing this time
        if self._in_python:
            image = _cv.apply_flip(image, self.flip)
        return fit(self._cv2, image, self.width, self.height)

    def _release(self):
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.release()


def _summary(modes):
    by_kind = {}
    for m in modes:
        by_kind.setdefault(m.fourcc, set()).add("%dx%d@%g" % (m.width, m.height, m.fps))
    return "; ".join("%s %s" % (k, ", ".join(sorted(v))) for k, v in sorted(by_kind.items()))
