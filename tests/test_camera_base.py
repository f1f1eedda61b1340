"""The capture thread: newest frame only, read() while running, slow observers, stalls and recovery.

``GatedCamera`` is a real subclass of the base: its ``_grab`` hands out a frame only when the test
releases one, so frame counts are exact; time that matters runs on a fake clock.
"""

import logging
import threading
import time

import numpy as np
import pytest
from helpers import FakeClock, wait_until

from jetracer.camera import Camera
from jetracer.errors import CameraError


class GatedCamera(Camera):
    """Frame n is an image filled with n (mod 256). ``mode``: "ok" (frames as released),
    "none" (nothing arrives), "raise" (the driver fails), "block" (_grab hangs until released)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("width", 8)
        kwargs.setdefault("height", 6)
        super().__init__(**kwargs)
        self.gate = threading.Semaphore(0)
        self.mode = "ok"
        self.produced = 0
        self.opens = 0
        self.open_failures = 0  # the next N opens fail
        self.backoffs_at_open = []
        self.released = 0

    def release_frames(self, n=1):
        for _ in range(n):
            self.gate.release()

    def _open(self):
        self.opens += 1
        self.backoffs_at_open.append(self.backoff_s)
        if self.open_failures:
            self.open_failures -= 1
            raise CameraError("sensor not answering")

    def _grab(self):
        if self.mode == "raise":
            raise OSError("VIDIOC_DQBUF: No such device")
        if self.mode == "none":
            return None
        timeout = 5.0 if self.mode == "block" else 0.005
        if not self.gate.acquire(timeout=timeout):
            return None
        self.produced += 1
        return np.full((self.height, self.width, 3), self.produced % 256, np.uint8)

    def _release(self):
        self.released += 1


def seq(cam):
    frame = cam.latest()
    return 0 if frame is None else frame.seq


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def cam(clock):
    camera = GatedCamera(clock=clock, stale_limit_s=0.5, first_frame_timeout_s=0.5,
                         reopen_backoff_s=0.001, max_backoff_s=0.008)
    yield camera
    camera.close()


def test_read_when_stopped_captures_synchronously(cam, clock):
    cam.release_frames(2)
    first = cam.read_frame()
    clock.advance(0.1)
    second = cam.read_frame()
    assert (first.seq, second.seq) == (1, 2)
    assert second.timestamp - first.timestamp == pytest.approx(0.1)
    assert second.image.shape == (6, 8, 3) and second.image.dtype == np.uint8
    assert cam.value is second.image and cam.latest() is second
    assert cam.fps == pytest.approx(10.0)


def test_read_while_running_returns_the_newest_frame(cam):
    cam.start()
    assert cam.running
    cam.release_frames(3)
    wait_until(lambda: seq(cam) == 3)
    frame = cam.read_frame()
    assert frame.seq == 3 and int(frame.image[0, 0, 0]) == 3
    assert int(cam.read()[0, 0, 0]) == 3  # JetCam raises here; we hand back the newest frame
    wait_until(lambda: cam.value is frame.image)  # published for widgets by the notifier thread


def test_only_the_newest_frame_is_kept(cam):
    cam.start()
    cam.release_frames(10)
    wait_until(lambda: seq(cam) == 10)
    frame = cam.wait_frame(0, timeout=1.0)
    assert frame.seq == 10 and int(frame.image[0, 0, 0]) == 10  # frames 1-9 were skipped, not queued
    assert cam.wait_frame(frame.seq, timeout=0.05) is None  # nothing newer yet
    cam.release_frames(1)
    assert cam.wait_frame(frame.seq, timeout=2.0).seq == 11


def test_a_slow_observer_does_not_stall_capture(cam):
    blocked = threading.Event()
    proceed = threading.Event()
    calls = []

    def slow_widget(change):
        calls.append(change["new"])
        blocked.set()
        proceed.wait(5.0)

    cam.observe(slow_widget, "value")
    cam.start()
    cam.release_frames(1)
    assert blocked.wait(5.0)  # the observer is now stuck inside its callback
    cam.release_frames(20)
    wait_until(lambda: seq(cam) == 21)  # capture carried on
    proceed.set()
    wait_until(lambda: cam.value is cam.latest().image)
    assert len(calls) < 21  # the notifier published the newest frame, skipping the rest


def test_running_trait_starts_and_stops_like_jetcam(cam):
    cam.running = True
    cam.release_frames(1)
    assert cam.wait_frame(0, timeout=2.0).seq == 1
    cam.running = False
    assert cam._capture_thread is None
    cam.release_frames(1)
    assert cam.read_frame().seq == 2  # stopped: read() captures in the caller again


def test_stalled_when_frames_stop_and_recovers_when_they_return(cam, clock, caplog):
    cam.start()
    cam.release_frames(2)
    wait_until(lambda: seq(cam) == 2)
    cam.mode = "none"
    clock.advance(0.4)  # within the limit: still healthy
    time.sleep(0.1)
    assert not cam.stalled
    with caplog.at_level(logging.WARNING, logger="jetracer.camera"):
        clock.advance(0.2)  # 0.6 s without a frame > 0.5 s limit
        wait_until(lambda: cam.stalled)
        assert "no new frame" in cam.error and cam.fps == 0.0
        for _ in range(3):  # the thread keeps re-opening, each time the limit passes again
            opens = cam.opens
            clock.advance(0.6)
            wait_until(lambda opens=opens: cam.opens > opens)
        assert cam.released >= 3
        cam.mode = "ok"
        cam.release_frames(1)
        wait_until(lambda: not cam.stalled)
    assert cam.error == "" and "no new frame" in cam.last_error
    assert cam.latest().seq == 3 and cam.reopens >= 3
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "stalled" in r.getMessage()]
    assert len(warnings) == 1  # logged once per stall, not once per retry


def test_grab_error_is_reported_and_the_device_reopened(cam):
    cam.start()
    cam.release_frames(1)
    wait_until(lambda: cam.latest() is not None)
    cam.mode = "raise"
    wait_until(lambda: cam.stalled)
    assert cam.error.startswith("grab failed: OSError: VIDIOC_DQBUF")
    opens = cam.opens
    wait_until(lambda opens=opens: cam.opens > opens)
    cam.mode = "ok"
    cam.release_frames(1)
    wait_until(lambda: not cam.stalled and seq(cam) == 2)


def test_reopen_backs_off_exponentially_and_resets(cam):
    cam.start()
    cam.release_frames(1)
    wait_until(lambda: cam.latest() is not None)
    cam.open_failures = 6
    cam.mode = "raise"
    wait_until(lambda: cam.open_failures == 0)
    cam.mode = "ok"
    cam.release_frames(1)
    wait_until(lambda: not cam.stalled)
    delays = cam.backoffs_at_open[1:8]  # each re-open attempt sees the delay that will follow it
    assert delays == [0.002, 0.004, 0.008, 0.008, 0.008, 0.008, 0.008]
    assert "re-open failed" in cam.last_error or "grab failed" in cam.last_error
    wait_until(lambda: cam.backoff_s == 0.001)  # frames flow again: back to the shortest delay


def test_watchdog_reports_a_grab_stuck_in_the_driver(cam, clock):
    cam.mode = "block"  # _grab hangs (as cv2.read does when Argus dies) until a frame is released
    cam.start()
    cam.release_frames(1)
    wait_until(lambda: cam.latest() is not None)
    clock.advance(0.6)
    wait_until(lambda: cam.stalled)  # reported while the capture thread is still blocked
    assert "no new frame" in cam.error
    cam.release_frames(1)
    wait_until(lambda: not cam.stalled and seq(cam) == 2)
    cam.mode = "ok"
    cam.release_frames(1)  # let the blocked grab return so close() can join the thread


def test_first_frame_gets_the_startup_timeout(clock):
    cam = GatedCamera(clock=clock, stale_limit_s=0.1, first_frame_timeout_s=2.0, reopen_backoff_s=0.001)
    with cam:
        cam.start()
        clock.advance(1.0)  # past the stale limit, but the sensor is still starting
        time.sleep(0.1)
        assert not cam.stalled
        clock.advance(1.5)
        wait_until(lambda: cam.stalled)


def test_start_raises_in_the_caller_when_the_device_will_not_open(cam):
    cam.open_failures = 1
    with pytest.raises(CameraError, match="sensor not answering"):
        cam.start()
    assert not cam.running and cam._capture_thread is None


def test_read_without_frames_raises_one_line(cam):
    with pytest.raises(CameraError) as info:
        cam.read()  # nothing released: the fake source never delivers
    assert "no frame within" in str(info.value) and "\n" not in str(info.value)
    assert cam.stalled


def test_context_manager_stops_and_releases(clock):
    with GatedCamera(clock=clock) as cam:
        cam.start()
        cam.release_frames(1)
        assert cam.wait_frame(0, timeout=2.0) is not None
    assert not cam.running and cam.released == 1
    cam.close()  # twice is fine
    assert cam.released == 1


def test_wait_frame_when_stopped_captures_one(cam):
    cam.release_frames(1)
    assert cam.wait_frame(0, timeout=1.0).seq == 1


def test_base_class_is_light():
    import subprocess
    import sys

    code = "import sys, jetracer.camera; assert 'cv2' not in sys.modules, 'cv2 imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_other_sizes_are_fitted(clock):
    class BigCamera(GatedCamera):
        def _grab(self):
            return np.zeros((48, 64, 3), np.uint8)

    with BigCamera(clock=clock, width=16, height=12) as cam:
        assert cam.read().shape == (12, 16, 3)


def test_bad_stale_limit_is_refused():
    with pytest.raises(ValueError):
        Camera(stale_limit_s=0)
    assert isinstance(Camera(), Camera)


def test_restart_refused_while_a_grab_is_stuck_in_the_driver():
    import threading

    import numpy as np

    from jetracer.camera.base import Camera
    from jetracer.errors import CameraError

    release = threading.Event()

    class Stuck(Camera):
        def _open(self):
            pass

        def _grab(self):
            release.wait(10)  # e.g. cv2.read() after the Argus daemon died
            return np.zeros((224, 224, 3), np.uint8)

    camera = Stuck(stale_limit_s=0.2, first_frame_timeout_s=0.5)
    camera.start()
    try:
        camera.stop()  # the capture thread can't stop: it is inside the driver
        with pytest.raises(CameraError, match="still blocked inside the camera driver"):
            camera.start()  # two capture loops on one device would be worse than an error
    finally:
        release.set()
        camera.close()
