"""OpenCV helpers the camera backends share: importing cv2, GStreamer detection, caps, flips.

Kept apart from ``base`` so the base class (and the simulator camera) never needs OpenCV.
"""

import fractions
import re
import threading
import time

from ..errors import CameraError

# nvvidconv ``flip-method`` numbering, used for ``flip`` by every camera type so a profile means
# the same thing whichever camera it names. Values: GStreamer ``videoflip`` method names.
FLIP_METHODS = {
    0: "none",
    1: "counterclockwise",  # rotate 90 degrees counter-clockwise
    2: "rotate-180",
    3: "clockwise",
    4: "horizontal-flip",  # mirror
    5: "upper-right-diagonal",
    6: "vertical-flip",  # upside down
    7: "upper-left-diagonal",
}

APPSINK = "appsink drop=true max-buffers=1 sync=false"  # the newest buffer only, never a backlog


def require_cv2(what):
    """Import cv2, or raise a one-line CameraError naming ``what`` needed it."""
    try:
        import cv2
    except ImportError:
        raise CameraError("%s needs OpenCV (cv2), which is not installed: on a Jetson `sudo apt install "
                          "python3-opencv` (JetPack's build has GStreamer), elsewhere `pip install "
                          "opencv-python-headless`" % what) from None
    return cv2


def gstreamer_in_opencv(cv2):
    """True if this OpenCV was built with GStreamer (pip wheels are not; JetPack's is)."""
    try:
        info = cv2.getBuildInformation()
    except Exception:  # noqa: BLE001 - an odd build; assume the worst and let opening tell
        return False
    return gstreamer_in_build_info(info)


def gstreamer_in_build_info(info):
    """Read ``cv2.getBuildInformation()``'s Video I/O section. OpenCV 4 writes one line
    (``GStreamer:  YES (1.14.5)``); OpenCV 3 (JetPack 4.2's 3.3.1) writes an empty ``GStreamer:``
    line followed by indented ``base:``, ``app:``... lines, each YES or NO. GStreamer capture
    needs at least ``base`` and ``app`` (appsink) there."""
    lines = info.splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)GStreamer:[ \t]*(.*)$", line)
        if not match:
            continue
        rest = match.group(2).strip()
        if rest:
            return rest.upper().startswith("YES")
        indent = len(match.group(1).expandtabs())
        parts = {}
        for sub in lines[i + 1:]:
            sub_match = re.match(r"^(\s*)([\w-]+):[ \t]*(.*)$", sub)
            if not sub_match or len(sub_match.group(1).expandtabs()) <= indent:
                break
            parts[sub_match.group(2).lower()] = sub_match.group(3).strip().upper().startswith("YES")
        return bool(parts) and parts.get("base", False) and parts.get("app", False)
    return False


class GrabTimeout(CameraError):
    """A read from a capture did not return in time (the driver or pipeline is hung)."""


class BoundedReader:
    """``cap.read()`` with a timeout. OpenCV 4.1's GStreamer backend blocks in
    ``gst_app_sink_pull_sample`` with no timeout when a pipeline stalls without EOS; calling it
    from the capture thread would hold the camera's lock forever, so nothing could re-open the
    device. Reads run in a helper thread instead; the caller waits ``timeout`` seconds and gets
    :class:`GrabTimeout`. A read still stuck when the next one is asked for is waited on, never
    doubled; :meth:`release` releases the capture without waiting for it."""

    def __init__(self, cap, name="camera"):
        self.cap = cap
        self.name = name
        self._lock = threading.Lock()
        self._request = threading.Event()
        self._done = threading.Event()
        self._result = None
        self._closed = False
        self._busy = False
        self._thread = None

    @property
    def stuck(self):
        """True while a read has been asked for and not returned."""
        return self._busy

    def read(self, timeout, cancel=None):
        """``(ok, image)`` from the capture, or GrabTimeout after ``timeout`` real seconds; None
        at once when the ``cancel`` event is set (the camera is stopping: not a failure)."""
        with self._lock:
            if self._closed:
                raise CameraError("%s: capture released" % self.name)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name + "-read", daemon=True)
                self._thread.start()
            if not self._busy:
                self._busy = True
                self._done.clear()
                self._request.set()
        deadline = time.monotonic() + timeout
        while not self._done.wait(max(0.0, min(0.05, deadline - time.monotonic()))):
            if cancel is not None and cancel.is_set():
                return None
            if time.monotonic() >= deadline:
                break
        if not self._done.is_set():
            raise GrabTimeout("%s: no frame from the pipeline within %.1f s (the read is stuck in the driver)"
                              % (self.name, timeout))
        with self._lock:
            result, self._result = self._result, None
        if isinstance(result, BaseException):
            raise result
        return result

    def _loop(self):
        while True:
            self._request.wait()
            self._request.clear()
            if self._closed:
                return
            try:
                result = self.cap.read()
            except Exception as exc:  # noqa: BLE001 - handed to the reader's caller
                result = exc
            with self._lock:
                self._result = result
                self._busy = False
                self._done.set()
            if self._closed:
                return

    def release(self):
        """Release the capture. If a read is stuck, release from a helper thread (setting the
        pipeline to NULL is what unblocks the stuck read) so the caller never hangs."""
        with self._lock:
            self._closed = True
            stuck = self._busy
            self._request.set()
        if not stuck:
            self.cap.release()
            return
        threading.Thread(target=_release_quietly, args=(self.cap,), name=self.name + "-release", daemon=True).start()


def _release_quietly(cap):
    try:
        cap.release()
    except Exception:  # noqa: BLE001 - a hung pipeline may fail to release; nothing more to do
        pass


def gst_element_exists(name):
    """Whether GStreamer element ``name`` is installed (``nvv4l2decoder``, ``nvjpegdec``...):
    through PyGObject when present, else ``gst-inspect-1.0``. False when neither can tell."""
    try:
        import gi

        gi.require_version("Gst", "1.0")
        from gi.repository import Gst

        if not Gst.is_initialized():
            Gst.init(None)
        return Gst.ElementFactory.find(name) is not None
    except Exception:  # noqa: BLE001 - no PyGObject (or no Gst typelib): ask the command line tool
        pass
    import subprocess

    try:
        return subprocess.call(["gst-inspect-1.0", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               timeout=10) == 0
    except (OSError, subprocess.SubprocessError):
        return False


def framerate(fps):
    """GStreamer caps fraction for a frame rate: 30 -> '30/1', 29.97 -> '2997/100'."""
    if not 0 < fps < 1e6:  # NaN and infinity too
        raise ValueError("fps must be > 0, got %r" % (fps,))
    frac = fractions.Fraction(float(fps)).limit_denominator(1001)
    return "%d/%d" % (frac.numerator, frac.denominator)


def check_flip(flip):
    if flip not in FLIP_METHODS:
        raise CameraError("flip %r is not a flip-method: use 0-7 (0 none, 2 rotate 180, 4 mirror, 6 upside down)"
                          % (flip,))
    return flip


def apply_flip(image, flip):
    """Flip/rotate an HxWx3 image as nvvidconv flip-method ``flip`` would (numpy views; no copy)."""
    if flip == 0:
        return image
    if flip == 1:
        return image.swapaxes(0, 1)[::-1]
    if flip == 2:
        return image[::-1, ::-1]
    if flip == 3:
        return image.swapaxes(0, 1)[:, ::-1]
    if flip == 4:
        return image[:, ::-1]
    if flip == 5:
        return image.swapaxes(0, 1)[::-1, ::-1]
    if flip == 6:
        return image[::-1]
    if flip == 7:
        return image.swapaxes(0, 1)
    raise ValueError("flip must be 0-7, got %r" % (flip,))


def fit(cv2, image, width, height):
    """A contiguous BGR uint8 image of exactly width x height."""
    if image.shape[0] != height or image.shape[1] != width:
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    if image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image if image.flags["C_CONTIGUOUS"] else image.copy()


def open_gstreamer(cv2, pipeline, what, fixes):
    """cv2.VideoCapture over ``pipeline``; a one-line CameraError with the pipeline and fixes."""
    if not gstreamer_in_opencv(cv2):
        raise CameraError("cannot open %s: this OpenCV (%s) is built without GStreamer (cv2.getBuildInformation() "
                          "says GStreamer: NO), so pipeline '%s' cannot run; use JetPack's OpenCV (`sudo apt install "
                          "python3-opencv`, and a venv made with --system-site-packages) instead of pip's "
                          "opencv-python" % (what, cv2.__version__, pipeline))
    cap = cv2.VideoCapture(pipeline, cv2.CAP_GSTREAMER)
    if not cap.isOpened():
        cap.release()
        raise CameraError("cannot open %s with GStreamer pipeline '%s': %s" % (what, pipeline, fixes))
    return cap
