"""CSI/USB pipeline strings, flips, opening errors on a machine without a camera, the profile
factory, and the JetCam adapter."""

import threading
import time

import cv2
import numpy as np
import pytest
import traitlets

from jetracer.camera import CSICamera, JetCamCamera, USBCamera, _cv, make_camera
from jetracer.camera.csi import csi_pipeline
from jetracer.camera.usb import device_index, usb_pipeline
from jetracer.errors import CameraError, ProfileError
from jetracer.profile import Profile, load_profile

DROP = "appsink drop=true max-buffers=1 sync=false"


def test_csi_pipeline_carries_every_setting():
    p = csi_pipeline(sensor_id=1, sensor_mode=3, capture_width=1640, capture_height=1232, fps=29.97, flip=2,
                     width=320, height=240)
    assert p.startswith("nvarguscamerasrc sensor-id=1 sensor-mode=3 ! ")
    assert "width=(int)1640, height=(int)1232, format=(string)NV12, framerate=(fraction)2997/100" in p
    assert "nvvidconv flip-method=2 ! video/x-raw, width=(int)320, height=(int)240, format=(string)BGRx" in p
    assert p.index("flip-method") < p.index("width=(int)320")  # nvvidconv flips and scales in hardware
    assert p.endswith("format=(string)BGR ! " + DROP)


def test_csi_camera_from_profile_uses_the_profile_values(tmp_path):
    profile = Profile({"camera": {"type": "csi", "sensor_id": 1, "sensor_mode": 4, "capture_width": 1920,
                                  "capture_height": 1080, "fps": 60, "flip": 6, "width": 160, "height": 120}})
    cam = make_camera(profile)
    assert isinstance(cam, CSICamera) and (cam.width, cam.height) == (160, 120)
    assert cam.pipeline == csi_pipeline(1, 4, 1920, 1080, 60.0, 6, 160, 120)
    assert "framerate=(fraction)60/1" in cam.pipeline and "flip-method=6" in cam.pipeline
    assert isinstance(make_camera(load_profile("latrax_rally")), CSICamera)


def test_usb_pipelines_raw_and_mjpeg():
    raw = usb_pipeline("/dev/video1", "raw", 640, 480, 30, 0, 224, 224)
    assert raw.startswith("v4l2src device=/dev/video1 ! video/x-raw, width=(int)640, height=(int)480, "
                          "framerate=(fraction)30/1 ! ")
    assert "jpegdec" not in raw and "videoflip" not in raw
    assert "video/x-raw, format=(string)BGR, width=(int)224, height=(int)224 ! " + DROP in raw
    mjpeg = usb_pipeline("/dev/video0", "mjpeg", 1280, 720, 30, 2, 160, 120)
    assert "image/jpeg, width=(int)1280, height=(int)720, framerate=(fraction)30/1 ! jpegdec ! " in mjpeg
    assert "videoflip method=rotate-180 ! " in mjpeg and mjpeg.endswith(DROP)
    assert mjpeg.index("videoflip") < mjpeg.index("videoscale")  # flip first, then scale to the output size
    with pytest.raises(CameraError, match="raw, mjpeg"):
        usb_pipeline(stream_format="h264")


def test_flip_method_out_of_range_is_refused():
    with pytest.raises(CameraError, match="0-7"):
        csi_pipeline(flip=8)
    with pytest.raises(CameraError, match="0-7"):
        USBCamera(flip=-1)


def test_software_flips_match_nvvidconv_numbering():
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    expected = {
        0: image,
        1: cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE),
        2: cv2.rotate(image, cv2.ROTATE_180),
        3: cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE),
        4: cv2.flip(image, 1),
        5: cv2.rotate(cv2.transpose(image), cv2.ROTATE_180),
        6: cv2.flip(image, 0),
        7: cv2.transpose(image),
    }
    for method, want in expected.items():
        assert np.array_equal(_cv.apply_flip(image, method), want), method


def test_framerate_fractions():
    assert _cv.framerate(30) == "30/1"
    assert _cv.framerate(59.94) == "2997/50"
    assert _cv.framerate(7.5) == "15/2"
    with pytest.raises(ValueError):
        _cv.framerate(0)


class FakeBuild:
    def __init__(self, text):
        self.text = text

    def getBuildInformation(self):
        return self.text


def test_gstreamer_detection_reads_the_build_information():
    assert _cv.gstreamer_in_opencv(FakeBuild("  Video I/O:\n    GStreamer:                   YES (1.16.3)\n"))
    assert not _cv.gstreamer_in_opencv(FakeBuild("  Video I/O:\n    GStreamer:                   NO\n"))
    assert not _cv.gstreamer_in_opencv(FakeBuild("  Video I/O:\n    FFMPEG: YES\n"))


def test_opening_a_csi_camera_here_fails_in_one_line():
    cam = CSICamera(sensor_id=0)
    with pytest.raises(CameraError) as info:
        cam.start()
    message = str(info.value)
    assert "\n" not in message and "nvarguscamerasrc sensor-id=0" in message
    if _cv.gstreamer_in_opencv(cv2):  # an OpenCV with GStreamer but no Argus camera
        assert "nvargus-daemon" in message
    else:
        assert "without GStreamer" in message and "python3-opencv" in message
    assert not cam.running
    with pytest.raises(CameraError):
        cam.read()


def test_csi_open_failure_with_gstreamer_names_the_fixes(monkeypatch):
    """OpenCV with GStreamer but no camera (the usual Jetson failure): the fixes are in the message."""
    monkeypatch.setattr(_cv, "gstreamer_in_opencv", lambda cv2: True)
    monkeypatch.setattr(cv2, "VideoCapture", lambda *a, **k: ClosedCapture())
    with pytest.raises(CameraError) as info:
        CSICamera(sensor_id=1).start()
    message = str(info.value)
    assert "\n" not in message and "sensor-id=1" in message and DROP in message
    assert "sudo systemctl restart nvargus-daemon" in message and "only one process" in message


class ClosedCapture:
    def isOpened(self):
        return False

    def release(self):
        pass


def test_usb_camera_without_gstreamer_falls_back_to_v4l2_and_fails_in_one_line(monkeypatch):
    monkeypatch.setattr(_cv, "gstreamer_in_opencv", lambda cv2: False)
    cam = USBCamera(device="/dev/video63")
    with pytest.raises(CameraError) as info:
        cam.read()
    message = str(info.value)
    assert "\n" not in message and "V4L2" in message and "index 63" in message and "v4l2-ctl" in message
    with pytest.raises(CameraError, match="not /dev/videoN"):
        device_index("/dev/camera")
    assert device_index("/dev/video2") == 2 and device_index(3) == 3


def test_make_camera_types():
    usb = make_camera(Profile({"camera": {"type": "usb", "device": "/dev/video1", "format": "mjpeg", "flip": 4}}))
    assert isinstance(usb, USBCamera) and "jpegdec" in usb.pipeline and "horizontal-flip" in usb.pipeline

    class World:
        camera = object()

    world = World()
    assert make_camera(load_profile("sim", sim=True), world=world) is world.camera
    with pytest.raises(CameraError, match="--sim"):
        make_camera(Profile({"camera": {"type": "sim"}}))
    with pytest.raises(ProfileError):
        Profile({"camera": {"type": "webcam"}})


class FakeJetCam(traitlets.HasTraits):
    """Shaped like jetcam's Camera: ``value``, ``width``, ``height``, ``running`` and ``read()``."""

    value = traitlets.Any()
    width = traitlets.Integer(16)
    height = traitlets.Integer(12)
    running = traitlets.Bool(False)

    def __init__(self):
        super().__init__()
        self.n = 0

    def read(self):
        if self.running:
            raise RuntimeError("Cannot read directly while camera is running")
        return self.frame()

    def frame(self):
        self.n += 1
        return np.full((self.height, self.width, 3), self.n, np.uint8)


def test_jetcam_adapter_adds_seq_and_reports_a_dead_jetcam_thread():
    source = FakeJetCam()
    clock_t = [0.0]
    cam = JetCamCamera(source, clock=lambda: clock_t[0], stale_limit_s=0.2)
    assert (cam.width, cam.height) == (16, 12)
    first = cam.read_frame()  # source stopped: its read()
    assert first.seq == 1 and int(first.image[0, 0, 0]) == 1

    source.running = True  # JetCam's thread updates value; the adapter follows it
    source.value = source.frame()
    cam.start()
    got = cam.wait_frame(first.seq, timeout=5.0)
    assert got.seq == 2 and got.image is source.value
    source.value = source.frame()
    assert int(cam.wait_frame(got.seq, timeout=5.0).image[0, 0, 0]) == 3

    # JetCam's thread dies silently: value stops changing. We say so.
    stalled = threading.Event()
    cam.observe(lambda change: change["new"] and stalled.set(), "stalled")
    clock_t[0] += 0.5
    assert stalled.wait(5.0)
    assert "no new frame" in cam.error
    deadline = time.monotonic() + 5.0
    while cam.reopens == 0 and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(0.05)
    assert cam.reopens >= 1 and cam.stalled  # re-opening does not pass the old value off as new
    source.value = source.frame()
    assert cam.wait_frame(got.seq + 1, timeout=5.0).seq == 4
    while cam.stalled and time.monotonic() < deadline:
        time.sleep(0.002)
    assert not cam.stalled and cam.error == ""  # a genuinely new frame: recovered
    cam.close()
    with pytest.raises(CameraError, match="read"):
        JetCamCamera(object())
