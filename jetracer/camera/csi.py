"""CSI camera (Raspberry Pi v2 / IMX219 modules on a Jetson) through Argus and GStreamer.

The pipeline scales and flips in ``nvvidconv`` (hardware) and ends in an appsink that keeps one
buffer and drops the rest, so a slow reader gets the newest frame rather than a backlog.
"""

from ._cv import APPSINK, check_flip, fit, framerate, open_gstreamer, require_cv2
from .base import Camera

__all__ = ["CSICamera", "csi_pipeline"]

CSI_FIXES = ("run `sudo systemctl restart nvargus-daemon`; only one process may own a CSI camera (stop other "
             "notebooks, `jetracer` services or nvgstcapture using it); check the ribbon cable and the sensor-id")


def csi_pipeline(sensor_id=0, sensor_mode=-1, capture_width=1280, capture_height=720, fps=30.0, flip=0,
                 width=224, height=224):
    """The GStreamer pipeline string for an Argus CSI camera delivering BGR width x height."""
    check_flip(flip)
    return ("nvarguscamerasrc sensor-id=%d sensor-mode=%d ! "
            "video/x-raw(memory:NVMM), width=(int)%d, height=(int)%d, format=(string)NV12, framerate=(fraction)%s ! "
            "nvvidconv flip-method=%d ! video/x-raw, width=(int)%d, height=(int)%d, format=(string)BGRx ! "
            "videoconvert ! video/x-raw, format=(string)BGR ! %s"
            % (sensor_id, sensor_mode, capture_width, capture_height, framerate(fps), flip, width, height, APPSINK))


class CSICamera(Camera):
    """A CSI camera: ``CSICamera(width=224, height=224, capture_width=1280, capture_height=720,
    fps=30, flip=0, sensor_id=0, sensor_mode=-1)``. Construction touches nothing; ``start()`` or
    ``read()`` opens it (raising a one-line CameraError with the fix if it cannot)."""

    def __init__(self, sensor_id=0, sensor_mode=-1, capture_width=1280, capture_height=720, capture_fps=30.0,
                 flip=0, fps=None, **kwargs):
        super().__init__(**kwargs)
        self.sensor_id = int(sensor_id)
        self.sensor_mode = int(sensor_mode)
        self.capture_width = int(capture_width)
        self.capture_height = int(capture_height)
        self.capture_fps = float(fps if fps is not None else capture_fps)  # fps= as JetCam spells it
        self.flip = check_flip(int(flip))
        self._cap = None

    @property
    def pipeline(self):
        return csi_pipeline(self.sensor_id, self.sensor_mode, self.capture_width, self.capture_height,
                            self.capture_fps, self.flip, self.width, self.height)

    def _open(self):
        cv2 = require_cv2("the CSI camera")
        self._cv2 = cv2
        self._cap = open_gstreamer(cv2, self.pipeline, "CSI camera %d" % self.sensor_id, CSI_FIXES)

    def _grab(self):
        ok, image = self._cap.read()
        return fit(self._cv2, image, self.width, self.height) if ok and image is not None else None

    def _release(self):
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()
