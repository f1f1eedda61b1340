"""Cameras as a Jetson has them, on recorded/synthesised data: OpenCV build texts per JetPack,
USB mode lists, a pipeline that opens and then sends EOS (a stuck Argus daemon), one whose read
never returns, and JetCam's constructor and ``value`` behaviour."""

import errno
import struct
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import wait_until

from jetracer.camera import CSICamera, USBCamera, _cv
from jetracer.camera.usb import FALLBACK_MODE, usb_pipeline
from jetracer.camera.v4l2 import (
    VIDIOC_ENUM_FMT,
    VIDIOC_ENUM_FRAMEINTERVALS,
    VIDIOC_ENUM_FRAMESIZES,
    Mode,
    choose_mode,
    enumerate_modes,
    parse_list_formats_ext,
)
from jetracer.errors import CameraError

DATA = Path(__file__).parent / "data"


# ------------------------------------------------------------- OpenCV build information
@pytest.mark.parametrize("name, has_gstreamer", [
    ("jetpack42_opencv331.txt", True),   # 3.x: "GStreamer:" then indented base/app lines (the old regex read "base:")
    ("jetpack46_opencv411.txt", True),
    ("jetpack50_opencv450.txt", True),
    ("jetpack51_opencv454.txt", True),
    ("jetpack60_opencv480.txt", True),
    ("pip_opencv_headless.txt", False),
    ("opencv331_without_gstreamer.txt", False),
])
def test_gstreamer_detection_on_every_jetpacks_opencv(name, has_gstreamer):
    text = (DATA / "opencv_build_info" / name).read_text()
    assert _cv.gstreamer_in_build_info(text) is has_gstreamer

    class Build:
        __version__ = "x"

        @staticmethod
        def getBuildInformation():
            return text

    assert _cv.gstreamer_in_opencv(Build) is has_gstreamer


def test_opencv3_gstreamer_without_appsink_is_not_enough():
    text = (DATA / "opencv_build_info" / "jetpack42_opencv331.txt").read_text()
    no_app = text.replace("      app:                       YES (ver 1.14.1)", "      app:                       NO")
    assert _cv.gstreamer_in_build_info(no_app) is False


# ------------------------------------------------------------------ fake GStreamer captures
class FakePipeline:
    """What cv2.VideoCapture(pipeline, CAP_GSTREAMER) returns. ``script``: "frames" (a frame per
    read), "eos" (opens, then every read fails at once: EOS), "hang" (reads block until the test
    ends; release does not help), "frames-then-hang" / "frames-then-eos" after ``n`` frames."""

    unblock = threading.Event()

    def __init__(self, script, n=3, size=(48, 64)):
        self.script, self.n, self.size = script, n, size
        self.reads = 0
        self.released = False

    def isOpened(self):
        return True

    def read(self):
        self.reads += 1
        mode = self.script
        if mode.startswith("frames-then-"):
            mode = "frames" if self.reads <= self.n else mode[len("frames-then-"):]
        if mode == "eos":
            return False, None
        if mode == "hang":
            FakePipeline.unblock.wait()
            return False, None
        time.sleep(0.002)
        return True, np.full(self.size + (3,), self.reads % 256, np.uint8)

    def release(self):
        self.released = True


@pytest.fixture
def gst(monkeypatch):
    """OpenCV "with GStreamer" whose VideoCapture hands out the scripted pipelines in turn."""
    FakePipeline.unblock.clear()
    opened = []
    scripts = []

    def capture(pipeline, api=None):
        script = scripts.pop(0) if len(scripts) > 1 else scripts[0]
        cap = FakePipeline(*script) if isinstance(script, tuple) else FakePipeline(script)
        cap.pipeline = pipeline
        opened.append(cap)
        return cap

    monkeypatch.setattr(_cv, "gstreamer_in_opencv", lambda cv2: True)
    monkeypatch.setattr(cv2, "VideoCapture", capture)
    yield scripts, opened
    FakePipeline.unblock.set()  # let reader threads blocked in a "hung" pipeline finish


def _csi(**kw):
    kw.setdefault("first_frame_timeout_s", 0.5)
    kw.setdefault("stale_limit_s", 0.1)
    kw.setdefault("reopen_backoff_s", 0.01)
    kw.setdefault("max_backoff_s", 0.02)
    return CSICamera(**kw)


def test_stuck_argus_daemon_eos_at_open_is_one_line_naming_nvargus_daemon(gst):
    scripts, opened = gst
    scripts.append("eos")
    cam = _csi()
    t0 = time.monotonic()
    with pytest.raises(CameraError) as info:
        cam.start()
    assert time.monotonic() - t0 < 0.5  # told at once, not after the stall limit
    message = str(info.value)
    assert "\n" not in message and "EOS" in message and "sudo systemctl restart nvargus-daemon" in message
    assert not cam.running and opened[0].released
    with pytest.raises(CameraError, match="nvargus-daemon"):
        cam.read()


def test_argus_dying_while_running_stalls_once_with_the_fix_and_stops_retrying(gst, caplog):
    scripts, opened = gst
    scripts.extend([("frames-then-eos", 5), "eos"])
    cam = _csi()
    try:
        cam.start()
        wait_until(lambda: cam.stalled and "nvargus-daemon" in cam.error, timeout=5.0)
        opens = len(opened)
        time.sleep(0.3)  # many backoff periods: no further attempts, no new warnings
        assert len(opened) == opens == 2
        assert "nvargus-daemon" in cam.error and cam.stalled
        warnings = [r for r in caplog.records if r.levelname == "WARNING" and "nvargus" in r.getMessage()]
        assert len(warnings) == 1
    finally:
        cam.close()


def test_a_read_that_never_returns_is_abandoned_and_the_pipeline_reopened(gst):
    scripts, opened = gst
    scripts.extend([("frames-then-hang", 4), "frames"])
    cam = _csi(grab_timeout_s=0.2)
    try:
        cam.start()
        wait_until(lambda: len(opened) >= 2 and cam.latest() is not None and cam.latest().seq > 10,
                          timeout=5.0)
        assert "stuck" in cam.last_error and cam.reopens >= 1
        assert not cam.stalled
    finally:
        t0 = time.monotonic()
        cam.close()
        assert time.monotonic() - t0 < 1.0


def test_a_pipeline_hung_at_open_fails_start_in_the_caller(gst):
    scripts, opened = gst
    scripts.append("hang")
    cam = _csi(first_frame_timeout_s=0.2)
    t0 = time.monotonic()
    with pytest.raises(CameraError, match="no frame within 0.2 s") as info:
        cam.start()
    assert time.monotonic() - t0 < 1.5
    assert "nvargus-daemon" in str(info.value)
    cam.close()


# ----------------------------------------------------------------------- USB modes
def _modes(name):
    return parse_list_formats_ext((DATA / "v4l2" / name).read_text())


def test_v4l2_ctl_listings_of_both_layouts_parse():
    c270 = _modes("c270_v4l-utils-1.14.txt")
    assert Mode("YUYV", 1280, 720, 10.0) in c270 and Mode("MJPG", 1280, 720, 30.0) in c270
    assert Mode("YUYV", 1280, 960, 7.5) in c270 and not any(m.fourcc == "YUYV" and m.fps > 30 for m in c270)
    c920 = _modes("c920_v4l-utils-1.22.txt")
    assert {m.fourcc for m in c920} == {"YUYV", "H264", "MJPG"}
    assert Mode("MJPG", 1920, 1080, 30.0) in c920 and Mode("YUYV", 1920, 1080, 5.0) in c920


@pytest.mark.parametrize("listing, want, fmt, expected", [
    # 720p30 only exists as MJPEG (raw 1280x720 is 10 fps): the profile default gets MJPEG
    ("c270_v4l-utils-1.14.txt", (1280, 720, 30), "auto", Mode("MJPG", 1280, 720, 30.0)),
    ("c920_v4l-utils-1.22.txt", (1280, 720, 30), "auto", Mode("MJPG", 1280, 720, 30.0)),
    # JetCam's default 640x480 at 30: raw streams it, no decode needed
    ("c270_v4l-utils-1.14.txt", (640, 480, 30), "auto", Mode("YUYV", 640, 480, 30.0)),
    # raw asked for at 720p30: the nearest raw mode that keeps 30 fps
    ("c270_v4l-utils-1.14.txt", (1280, 720, 30), "raw", Mode("YUYV", 640, 480, 30.0)),
    # a size the camera does not list: the nearest that it does
    ("c920_v4l-utils-1.22.txt", (1024, 600, 30), "mjpeg", Mode("MJPG", 1280, 720, 30.0)),
    # a rate nothing reaches: the fastest
    ("c270_v4l-utils-1.14.txt", (640, 480, 60), "auto", Mode("YUYV", 640, 480, 30.0)),
])
def test_usb_mode_is_chosen_from_the_listed_modes(listing, want, fmt, expected):
    assert choose_mode(_modes(listing), *want, stream_format=fmt) == expected


class FakeV4L2:
    """A V4L2 driver behind ioctl(): answers the three enumeration calls from a mode list."""

    def __init__(self, modes):
        self.modes = modes

    def fourccs(self):
        return sorted({m.fourcc for m in self.modes})

    def __call__(self, fd, request, buf):
        code = lambda s: struct.unpack("<I", s.encode())[0]  # noqa: E731
        index = struct.unpack_from("=I", buf, 0)[0]
        if request == VIDIOC_ENUM_FMT:
            names = self.fourccs()
            if index >= len(names):
                raise OSError(errno.EINVAL, "Invalid argument")
            struct.pack_into("=I", buf, 44, code(names[index]))
        elif request == VIDIOC_ENUM_FRAMESIZES:
            fourcc = struct.pack("<I", struct.unpack_from("=I", buf, 4)[0]).decode()
            sizes = sorted({(m.width, m.height) for m in self.modes if m.fourcc == fourcc})
            if index >= len(sizes):
                raise OSError(errno.EINVAL, "Invalid argument")
            struct.pack_into("=III", buf, 8, 1, *sizes[index])
        elif request == VIDIOC_ENUM_FRAMEINTERVALS:
            pf, w, h = struct.unpack_from("=III", buf, 4)
            fourcc = struct.pack("<I", pf).decode()
            rates = sorted({m.fps for m in self.modes if (m.fourcc, m.width, m.height) == (fourcc, w, h)})
            if index >= len(rates):
                raise OSError(errno.EINVAL, "Invalid argument")
            num, den = (2, 15) if rates[index] == 7.5 else (1, int(rates[index]))
            struct.pack_into("=III", buf, 16, 1, num, den)
        else:
            raise OSError(errno.ENOTTY, "Inappropriate ioctl for device")


def test_modes_are_read_from_the_device_with_the_v4l2_ioctls(tmp_path):
    listed = _modes("c270_v4l-utils-1.14.txt")
    node = tmp_path / "video0"
    node.write_bytes(b"")
    got = enumerate_modes(str(node), ioctl=FakeV4L2(listed))
    assert sorted(got) == sorted(listed)


def _usb(modes, elements=(), **kw):
    return USBCamera(list_modes=lambda dev: modes, element_exists=lambda name: name in elements, **kw)


def test_usb_camera_streams_what_the_device_lists_and_decodes_mjpeg_in_hardware(gst):
    scripts, opened = gst
    scripts.append("frames")
    c270 = _modes("c270_v4l-utils-1.14.txt")
    cam = _usb(c270, elements=("nvv4l2decoder", "nvjpegdec"), capture_width=1280, capture_height=720)
    cam.read()
    assert cam.mode == Mode("MJPG", 1280, 720, 30.0)
    assert "image/jpeg, width=(int)1280, height=(int)720, framerate=(fraction)30/1 ! nvv4l2decoder mjpeg=1 ! " \
           "nvvidconv flip-method=0 ! " in opened[-1].pipeline
    cam.close()
    cam = _usb(c270, elements=("nvjpegdec",), capture_width=1280, capture_height=720)  # JetPack without the V4L2 one
    cam.read()
    assert "! nvjpegdec ! nvvidconv" in opened[-1].pipeline
    cam.close()
    cam = _usb(c270, capture_width=1280, capture_height=720, flip=2)  # not a Jetson: jpegdec on the CPU
    cam.read()
    assert "! jpegdec ! videoflip method=rotate-180 ! " in opened[-1].pipeline
    cam.close()
    cam = _usb(c270)  # JetCam's defaults: raw 640x480 at 30
    cam.read()
    assert cam.mode == Mode("YUYV", 640, 480, 30.0) and "video/x-raw, width=(int)640" in opened[-1].pipeline
    cam.close()


def test_usb_camera_that_cannot_be_queried_asks_for_raw_640x480(gst):
    scripts, opened = gst
    scripts.append("frames")

    def no_list(device):
        raise OSError(errno.ENOENT, "No such file or directory")

    cam = USBCamera(list_modes=no_list, element_exists=lambda n: False, capture_width=1280, capture_height=720)
    cam.read()
    assert cam.mode == FALLBACK_MODE
    assert "video/x-raw, width=(int)640, height=(int)480, framerate=(fraction)30/1" in opened[-1].pipeline
    cam.close()
    mjpeg_only = [Mode("MJPG", 1280, 720, 30.0)]
    with pytest.raises(CameraError, match="lists no raw mode.*MJPG 1280x720@30"):
        _usb(mjpeg_only, stream_format="raw").read()


def test_usb_pipeline_with_a_hardware_decoder_scales_in_nvvidconv():
    p = usb_pipeline("/dev/video0", "mjpeg", 1920, 1080, 30, 4, 224, 224, decoder="nvv4l2decoder mjpeg=1")
    assert "nvv4l2decoder mjpeg=1 ! nvvidconv flip-method=4 ! video/x-raw, width=(int)224, height=(int)224, " \
           "format=(string)BGRx ! videoconvert ! video/x-raw, format=(string)BGR ! appsink" in p
    assert "jpegdec" not in p.replace("nvv4l2decoder", "")


# --------------------------------------------------------------------------- JetCam
def test_jetcam_notebook_cameras_construct_with_jetcams_arguments_and_defaults():
    cam = CSICamera(width=224, height=224, capture_fps=65)  # JetRacer's road_following notebook
    assert "sensor-id=0 " in cam.pipeline and "framerate=(fraction)65/1" in cam.pipeline
    assert (cam.capture_width, cam.capture_height) == (640, 480)  # JetCam's default capture size
    assert "width=(int)640, height=(int)480, format=(string)NV12" in cam.pipeline
    assert CSICamera(capture_device=1).sensor_id == 1 and "sensor-id=1 " in CSICamera(capture_device=1).pipeline
    assert CSICamera().capture_device == 0 and CSICamera().capture_fps == 30
    usb = USBCamera(capture_device=1, width=224, height=224)
    assert usb.device == "/dev/video1" and usb.capture_device == 1
    assert "device=/dev/video1 " in usb.pipeline
    assert (usb.capture_width, usb.capture_height, usb.capture_fps) == (640, 480, 30)
    with pytest.raises(ValueError, match="bgr8"):
        CSICamera(format="rgb8")


def test_value_is_a_black_frame_of_the_configured_size_before_the_first(gst):
    cam = CSICamera(width=224, height=160, capture_fps=65)
    value = cam.value
    assert value.shape == (160, 224, 3) and value.dtype == np.uint8 and not value.any()
    cam.width = 96  # still no frame: the placeholder follows the size
    assert cam.value.shape == (160, 96, 3)
    # road_following's pattern: call the callback with camera.value before the camera runs
    seen = []
    cam.observe(lambda change: seen.append(change["new"].shape), names="value")
    scripts, opened = gst
    scripts.append("frames")
    cam.running = True
    try:
        wait_until(lambda: len(seen) >= 2, timeout=5.0)
        assert seen[-1] == (160, 96, 3) and cam.value.any()
    finally:
        cam.running = False
        cam.close()


def test_usb_capture_device_opens_that_node_in_the_v4l2_fallback(monkeypatch):
    monkeypatch.setattr(_cv, "gstreamer_in_opencv", lambda cv2: False)
    with pytest.raises(CameraError, match="index 7"):
        USBCamera(capture_device=7, list_modes=lambda d: [], element_exists=lambda n: False).read()


def test_a_backend_exception_in_the_first_read_is_one_line(gst, monkeypatch):
    scripts, opened = gst
    scripts.append("frames")

    def broken_read(self):
        raise cv2.error("OpenCV(4.1.1) /home/nvidia/opencv/modules/videoio/src/cap_gstreamer.cpp:933: error:\n"
                        "(-2:Unspecified error) GStreamer: unable to start pipeline")

    monkeypatch.setattr(FakePipeline, "read", broken_read)
    with pytest.raises(CameraError) as info:
        _csi().start()
    assert "\n" not in str(info.value) and "first read failed" in str(info.value)


def test_the_jetcam_adapter_ignores_jetcams_uninitialised_value():
    import traitlets

    from jetracer.camera import JetCamCamera

    class RunningJetCam(traitlets.HasTraits):
        value = traitlets.Any()
        width = traitlets.Integer(8)
        height = traitlets.Integer(6)
        running = traitlets.Bool(True)

    source = RunningJetCam()
    source.value = np.empty((6, 8, 3), np.uint8)  # JetCam's constructor does this before any frame
    cam = JetCamCamera(source, stale_limit_s=0.5, first_frame_timeout_s=0.2)
    cam.start()
    try:
        time.sleep(0.05)
        assert cam.latest() is None  # not a frame
        source.value = np.full((6, 8, 3), 7, np.uint8)
        assert int(cam.wait_frame(0, timeout=2.0).image[0, 0, 0]) == 7
    finally:
        cam.close()


def test_stopping_a_camera_waiting_on_a_hung_read_is_prompt(gst, caplog):
    scripts, opened = gst
    scripts.append("hang")
    cam = _usb([Mode("YUYV", 640, 480, 30.0)], first_frame_timeout_s=5.0)
    cam.start()  # a USB camera opens without reading; the capture thread waits on the hung read
    time.sleep(0.1)
    t0 = time.monotonic()
    cam.close()
    assert time.monotonic() - t0 < 1.0
    assert cam._stuck_threads == [] and not any("did not stop" in r.getMessage() for r in caplog.records)
