"""OpenCV helpers the camera backends share: importing cv2, GStreamer detection, caps, flips.

Kept apart from ``base`` so the base class (and the simulator camera) never needs OpenCV.
"""

import fractions
import re

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
    match = re.search(r"^\s*GStreamer:\s*(\S+)", info, re.MULTILINE)
    return bool(match) and match.group(1).upper().startswith("YES")


def framerate(fps):
    """GStreamer caps fraction for a frame rate: 30 -> '30/1', 29.97 -> '2997/100'."""
    if fps <= 0:
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
