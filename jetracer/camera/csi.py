"""CSI camera (Raspberry Pi v2 / IMX219 modules on a Jetson) through Argus and GStreamer.

The pipeline scales and flips in ``nvvidconv`` (hardware) and ends in an appsink that keeps one
buffer and drops the rest, so a slow reader gets the newest frame rather than a backlog.

Opening reads the first frame (as JetCam does), with a timeout, because the two ways a CSI
camera fails on a Jetson only show there: when the Argus daemon is stuck ("Failed to create
CaptureSession") the pipeline opens and then ends at once (EOS), and a hung pipeline never
returns a frame. Both are one-line errors naming ``nvargus-daemon`` instead of a silent stall.
"""

from ..errors import CameraError
from ._cv import APPSINK, BoundedReader, GrabTimeout, check_flip, fit, framerate, open_gstreamer, require_cv2
from .base import Camera, SourceEnded

__all__ = ["CSICamera", "csi_pipeline", "ArgusEnded"]

CSI_FIXES = ("run `sudo systemctl restart nvargus-daemon`; only one process may own a CSI camera (stop other "
             "notebooks, `jetracer` services or nvgstcapture using it); check the ribbon cable and the sensor-id")


class ArgusEnded(CameraError, SourceEnded):
    """The pipeline opened and ended before its first frame: Argus could not start a capture
    session. Re-opening does not help until the daemon is restarted, so the camera stops trying."""


def csi_pipeline(sensor_id=0, sensor_mode=-1, capture_width=640, capture_height=480, fps=30.0, flip=0,
                 width=224, height=224):
    """The GStreamer pipeline string for an Argus CSI camera delivering BGR width x height."""
    check_flip(flip)
    return ("nvarguscamerasrc sensor-id=%d sensor-mode=%d ! "
            "video/x-raw(memory:NVMM), width=(int)%d, height=(int)%d, format=(string)NV12, framerate=(fraction)%s ! "
            "nvvidconv flip-method=%d ! video/x-raw, width=(int)%d, height=(int)%d, format=(string)BGRx ! "
            "videoconvert ! video/x-raw, format=(string)BGR ! %s"
            % (sensor_id, sensor_mode, capture_width, capture_height, framerate(fps), flip, width, height, APPSINK))


class CSICamera(Camera):
    """A CSI camera, constructed as JetCam's is: ``CSICamera(width=224, height=224,
    capture_width=640, capture_height=480, capture_fps=30, capture_device=0)`` (JetCam's names and
    defaults; ``capture_device`` is the sensor-id), plus ``flip`` (nvvidconv flip-method),
    ``sensor_mode`` (-1: Argus chooses) and ``grab_timeout_s``. ``sensor_id`` and ``fps`` are
    accepted as other spellings. Construction touches nothing; ``start()``, ``running = True`` or
    ``read()`` opens it (raising a one-line CameraError with the fix if it cannot)."""

    def __init__(self, capture_device=0, sensor_mode=-1, capture_width=640, capture_height=480, capture_fps=30.0,
                 flip=0, fps=None, sensor_id=None, grab_timeout_s=None, **kwargs):
        super().__init__(**kwargs)
        self.sensor_id = int(sensor_id if sensor_id is not None else capture_device)
        self.sensor_mode = int(sensor_mode)
        self.capture_width = int(capture_width)
        self.capture_height = int(capture_height)
        self.capture_fps = float(fps if fps is not None else capture_fps)  # fps= as older code spells it
        self.flip = check_flip(int(flip))
        #: longest wait for one frame once streaming (real seconds) before the pipeline counts as hung
        self.grab_timeout_s = float(grab_timeout_s) if grab_timeout_s else max(1.0, 2.0 * self.stale_limit_s)
        self._reader = None
        self._pending = None

    @property
    def capture_device(self):
        """JetCam's name for the sensor-id."""
        return self.sensor_id

    @property
    def pipeline(self):
        return csi_pipeline(self.sensor_id, self.sensor_mode, self.capture_width, self.capture_height,
                            self.capture_fps, self.flip, self.width, self.height)

    def _what(self):
        return "CSI camera %d" % self.sensor_id

    def _open(self):
        cv2 = require_cv2("the CSI camera")
        self._cv2 = cv2
        cap = open_gstreamer(cv2, self.pipeline, self._what(), CSI_FIXES)
        reader = BoundedReader(cap, "CSICamera-%d" % self.sensor_id)
        try:
            ok, image = reader.read(self.first_frame_timeout_s)
        except GrabTimeout:
            reader.release()
            raise CameraError("%s opened but delivered no frame within %.1f s (the pipeline hung): %s"
                              % (self._what(), self.first_frame_timeout_s, CSI_FIXES)) from None
        except Exception as exc:  # noqa: BLE001 - a cv2.error from the backend: one line, with the fixes
            reader.release()
            raise CameraError("%s: the first read failed (%s): %s" % (self._what(), _first_line(exc), CSI_FIXES)) \
                from None
        if not ok or image is None:
            reader.release()
            raise ArgusEnded("%s opened and ended at once (EOS before the first frame): the Argus daemon could "
                             "not start a capture session; run `sudo systemctl restart nvargus-daemon`, make sure "
                             "no other process uses sensor %d, and check the ribbon cable" % (self._what(),
                                                                                               self.sensor_id))
        self._reader = reader
        self._pending = image

    def _grab(self):
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            result = self._reader.read(self.grab_timeout_s, cancel=self._stop if self.running else None)
            if result is None:
                return None  # stopping
            ok, image = result
            if not ok or image is None:
                # a GStreamer read that fails has reached EOS or an error: not "nothing yet"
                raise CameraError("%s: the pipeline ended (EOS or a GStreamer error)" % self._what())
        return fit(self._cv2, image, self.width, self.height)

    def _release(self):
        reader, self._reader, self._pending = self._reader, None, None
        if reader is not None:
            reader.release()


def _first_line(exc):
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
