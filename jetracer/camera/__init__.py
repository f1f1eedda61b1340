"""Cameras: one interface (``Camera``) over CSI, USB, video/folder replay and the simulator.

The backends import OpenCV only when a camera opens, so ``import jetracer.camera`` needs neither
OpenCV nor a camera. (They are imported here eagerly, not through a module ``__getattr__``, which
Python 3.6, JetPack 4.6's, does not have.)
"""

from typing import TYPE_CHECKING, Any

from .base import Camera, Frame, SourceEnded
from .csi import CSICamera
from .jetcam import JetCamCamera
from .sim import SimCamera
from .usb import USBCamera
from .video import VideoCamera

if TYPE_CHECKING:
    from ..profile import Profile

__all__ = ["Camera", "Frame", "SourceEnded", "CSICamera", "USBCamera", "VideoCamera", "JetCamCamera",
           "SimCamera", "make_camera"]


def make_camera(profile: "Profile", world: Any = None, **overrides: Any) -> Camera:
    """The camera a profile describes (``[camera] type`` = csi, usb, video or sim).

    ``sim`` returns ``world.camera`` (the simulator's camera, on its clock). Nothing is opened
    here: ``start()`` or ``read()`` does that. ``overrides`` go to the constructor (tests pass a
    ``clock``).
    """
    from ..errors import CameraError, ProfileError

    cfg = profile.camera
    kind = cfg["type"]
    if kind == "sim":
        if world is None:
            raise CameraError("camera type 'sim' needs the simulator: run with --sim (or pass world= to make_camera)")
        return world.camera
    common = dict(width=cfg["width"], height=cfg["height"], stale_limit_s=cfg["stale_limit_s"])
    common.update(overrides)
    if kind == "csi":
        from .csi import CSICamera

        return CSICamera(sensor_id=cfg["sensor_id"], sensor_mode=cfg["sensor_mode"],
                         capture_width=cfg["capture_width"], capture_height=cfg["capture_height"],
                         capture_fps=cfg["fps"], flip=cfg["flip"], **common)
    if kind == "usb":
        from .usb import USBCamera

        return USBCamera(device=cfg["device"], stream_format=cfg["format"], capture_width=cfg["capture_width"],
                         capture_height=cfg["capture_height"], capture_fps=cfg["fps"], flip=cfg["flip"], **common)
    if kind == "video":
        from .video import VideoCamera

        return VideoCamera(_video_path(profile, cfg["path"]), fps=cfg["fps"], loop=cfg["loop"], flip=cfg["flip"],
                           **common)
    raise ProfileError("camera type %r is not one of csi, usb, video, sim" % (kind,))


def _video_path(profile: "Profile", path: str) -> str:
    """camera.path, found as :meth:`~jetracer.profile.Profile.resolve_path` finds profile files."""
    from ..errors import ProfileError

    if not path:
        raise ProfileError("camera type 'video' needs camera.path (a video file or an image folder)")
    return str(profile.resolve_path(path))
