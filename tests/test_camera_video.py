"""Replay from a real video file and an image folder, written here with OpenCV: frames in order,
increasing seq and timestamps, the end of a video reported as a stall, looping, pacing, errors."""

import threading

import cv2
import numpy as np
import pytest
from helpers import wait_until

from jetracer.camera import VideoCamera, make_camera
from jetracer.errors import CameraError, ProfileError
from jetracer.profile import Profile

N_FRAMES = 12


class TickClock:
    """A fake clock that moves 1/30 s every time it is read: deterministic, strictly increasing."""

    def __init__(self):
        self.t = 0.0
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            self.t += 1.0 / 30.0
            return self.t


def level(i):
    return 20 * i  # frame i is a flat grey of this level (survives MJPEG compression to +-3)


def frame_index(image):
    return int(round(float(image.mean()) / 20.0))


@pytest.fixture
def video_file(tmp_path):
    path = tmp_path / "drive.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (64, 48))
    assert writer.isOpened()
    for i in range(N_FRAMES):
        writer.write(np.full((48, 64, 3), level(i), np.uint8))
    writer.release()
    return path


@pytest.fixture
def image_folder(tmp_path):
    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(N_FRAMES):
        suffix = ".png" if i % 2 else ".jpg"
        cv2.imwrite(str(folder / ("frame_%04d%s" % (i, suffix))), np.full((48, 64, 3), level(i), np.uint8))
    (folder / "labels.txt").write_text("not an image")
    return folder


@pytest.mark.parametrize("source", ["video_file", "image_folder"])
def test_replay_delivers_every_frame_in_order(source, request):
    path = request.getfixturevalue(source)
    with VideoCamera(path, loop=False, width=32, height=24, clock=TickClock()) as cam:
        frames = [cam.read_frame() for _ in range(N_FRAMES)]
        assert [f.seq for f in frames] == list(range(1, N_FRAMES + 1))
        stamps = [f.timestamp for f in frames]
        assert all(b > a for a, b in zip(stamps, stamps[1:]))
        assert [frame_index(f.image) for f in frames] == list(range(N_FRAMES))
        assert all(f.image.shape == (24, 32, 3) and f.image.dtype == np.uint8 for f in frames)
        with pytest.raises(CameraError, match="end of video"):
            cam.read()
        assert cam.stalled and "end of video" in cam.error


@pytest.mark.parametrize("source", ["video_file", "image_folder"])
def test_end_of_video_while_running_is_a_stall(source, request):
    path = request.getfixturevalue(source)
    with VideoCamera(path, loop=False, width=32, height=24) as cam:
        seen = []
        cam.start()
        frame = cam.wait_frame(0, timeout=5.0)
        while frame is not None:
            seen.append(frame)
            frame = cam.wait_frame(frame.seq, timeout=0.5)
        wait_until(lambda: cam.stalled)
        assert cam.error.startswith("end of video")
        assert cam.latest().seq == N_FRAMES and frame_index(cam.latest().image) == N_FRAMES - 1
        assert [f.seq for f in seen] == sorted(set(f.seq for f in seen))  # never goes backwards
        assert cam.running  # the camera stays on, visibly stalled, until stopped


def test_loop_replays_from_the_start(video_file):
    with VideoCamera(video_file, loop=True, width=32, height=24) as cam:
        images = [cam.read() for _ in range(N_FRAMES + 3)]
    assert [frame_index(im) for im in images] == list(range(N_FRAMES)) + [0, 1, 2]


def test_paced_replay_runs_in_the_thread(image_folder):
    with VideoCamera(image_folder, fps=200.0, loop=True, width=32, height=24) as cam:
        cam.start()
        frame = cam.wait_frame(0, timeout=5.0)
        later = cam.wait_frame(frame.seq + 5, timeout=5.0)
        assert later is not None and later.timestamp > frame.timestamp


def test_a_paced_source_slower_than_the_limit_is_stalled_then_recovers(image_folder):
    class Clock:
        t = 0.0

        def __call__(self):
            return self.t

    clock = Clock()
    # 4 frames/s: 0.25 s between frames, longer than the 0.1 s limit on the fake clock
    with VideoCamera(image_folder, fps=4.0, width=32, height=24, clock=clock, stale_limit_s=0.1) as cam:
        cam.start()
        first = cam.wait_frame(0, timeout=5.0)
        clock.t += 0.15
        wait_until(lambda: cam.stalled)
        assert "no new frame" in cam.error
        wait_until(lambda: not cam.stalled)  # the next frame arrives
        assert cam.latest().seq > first.seq


def test_flip_applies_to_replay(tmp_path):
    folder = tmp_path / "one"
    folder.mkdir()
    image = np.zeros((24, 32, 3), np.uint8)
    image[:12] = 200  # top half bright
    cv2.imwrite(str(folder / "a.png"), image)
    with VideoCamera(folder, flip=6, width=32, height=24) as cam:  # flip-method 6: upside down
        out = cam.read()
    assert out[:12].mean() < 5 and out[12:].mean() > 195


def test_missing_or_empty_sources_raise_one_line(tmp_path):
    with pytest.raises(CameraError, match="not found") as info:
        VideoCamera(tmp_path / "nope.mp4").start()
    assert "\n" not in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CameraError, match="holds no"):
        VideoCamera(tmp_path / "empty").read()
    (tmp_path / "junk.avi").write_bytes(b"not a video at all")
    with pytest.raises(CameraError, match="cannot decode"):
        VideoCamera(tmp_path / "junk.avi").read()


def test_make_camera_builds_a_video_camera_from_a_profile(tmp_path, image_folder):
    profile_path = tmp_path / "replay.toml"
    profile = Profile({"camera": {"type": "video", "path": "frames", "loop": False, "width": 40, "height": 30,
                                  "fps": 30.0, "stale_limit_s": 0.25}}, path=profile_path)
    cam = make_camera(profile)  # "frames" is found beside the profile file
    with cam:
        assert isinstance(cam, VideoCamera) and cam.stale_limit_s == 0.25 and not cam.loop
        assert cam.read().shape == (30, 40, 3)
    with pytest.raises(ProfileError, match="camera.path"):
        make_camera(Profile({"camera": {"type": "video"}}))
