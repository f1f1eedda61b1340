"""Wrap an existing JetCam camera (or anything with ``read()``/``value``) as a jetracer Camera.

For notebooks that already build a ``jetcam.csi_camera.CSICamera``: the wrapper adds timestamps,
sequence numbers, fps, and a ``stalled`` flag when JetCam's thread dies (JetCam's own thread stops
silently and ``value`` simply stops changing).
"""

from ..errors import CameraError
from .base import Camera

__all__ = ["JetCamCamera"]


class JetCamCamera(Camera):
    """``JetCamCamera(source)``: frames from ``source.value`` while the source is running (a new
    frame is a new array object), else from ``source.read()``. Width and height default to the
    source's. ``close_source=True`` also stops the source on ``close()``."""

    def __init__(self, source, close_source=False, **kwargs):
        if not (hasattr(source, "read") or hasattr(source, "value")):
            raise CameraError("JetCamCamera needs a camera object with read() or value, got %s" % type(source).__name__)
        for key in ("width", "height"):
            if key not in kwargs and isinstance(getattr(source, key, None), int):
                kwargs[key] = getattr(source, key)
        super().__init__(**kwargs)
        self.source = source
        self.close_source = close_source
        # JetCam fills value with an uninitialised array before its first frame: not a frame
        self._last_obj = getattr(source, "value", None)

    @classmethod
    def from_jetcam(cls, kind="csi", **jetcam_kwargs):
        """Build JetCam's own ``CSICamera``/``USBCamera`` (kind "csi"/"usb") and wrap it."""
        try:
            if kind == "csi":
                from jetcam.csi_camera import CSICamera as source_cls
            elif kind == "usb":
                from jetcam.usb_camera import USBCamera as source_cls
            else:
                raise CameraError("jetcam camera kind %r is not csi or usb" % (kind,))
        except ImportError:
            raise CameraError("jetcam is not installed: `pip install git+https://github.com/NVIDIA-AI-IOT/jetcam`, "
                              "or use jetracer's own CSICamera/USBCamera") from None
        return cls(source_cls(**jetcam_kwargs), close_source=True)

    def _open(self):
        pass  # the wrapped camera owns the device; _last_obj survives re-opens so an old value never counts as new

    def _grab(self):
        source = self.source
        if getattr(source, "running", False) or not hasattr(source, "read"):
            image = getattr(source, "value", None)
            if image is None or image is self._last_obj:
                return None  # nothing new yet (or JetCam's thread has died: the watchdog will say so)
            self._last_obj = image
            return image
        return source.read()

    def _release(self):
        """Nothing: the watchdog releases and re-opens on every stall, and a released JetCam camera
        cannot be re-opened. The source is closed once, in :meth:`close`."""

    def close(self):
        super().close()
        if self.close_source:
            if getattr(self.source, "running", False):
                self.source.running = False
            release = getattr(getattr(self.source, "cap", None), "release", None)
            if release is not None:
                release()
