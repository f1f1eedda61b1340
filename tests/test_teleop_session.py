"""The teleop loop with a real NvidiaRacecar on the emulated PCA9685: a stalled camera, recording
faults, the camera opened mid-drive, the battery."""

import io
import threading

import numpy as np
import pytest
from teleop_helpers import XBOX_NAME, XPAD_ONE_AXES, FakeClock, Stream, assert_throttle_neutral, connect, make_car

from jetracer.camera.base import Frame
from jetracer.drive.pilot import Pilot
from jetracer.profile import load_profile
from jetracer.teleop.events import decode_bytes
from jetracer.teleop.recorder import read_commands
from jetracer.teleop.session import TeleopSession

IMAGE = np.zeros((48, 64, 3), np.uint8)


class ScriptedReader:
    """A pad reader on a fake clock: ``script`` is [(time, Stream)], each delivered once it is due."""

    def __init__(self, clock, script=()):
        self.clock = clock
        self.script = [(t, decode_bytes(stream.kernel_bytes())) for t, stream in script]

    def open(self):
        return connect(XBOX_NAME, XPAD_ONE_AXES)

    def poll(self, timeout):
        self.clock.advance(max(timeout, 0.001))
        due = [events for t, events in self.script if t <= self.clock()]
        self.script = [(t, events) for t, events in self.script if t > self.clock()]
        return [ev for events in due for ev in events]

    def close(self):
        pass


class Camera:
    """Real-time camera stand-in: a new frame per ``latest()`` on the fake clock, until ``stall_at``;
    then the last frame forever (a CSI pipeline that hung). ``seen`` logs the ESC pulse at each call."""

    def __init__(self, clock, stall_at=None, car=None, twin=None):
        self.clock, self.stall_at, self.car, self.twin = clock, stall_at, car, twin
        self.frame = None
        self.seen = []
        self.closed = False

    def latest(self):
        if self.twin is not None:
            self.seen.append((self.clock(), self.twin.pulse_us(self.car.throttle_channel)))
        if self.frame is None or self.stall_at is None or self.clock() < self.stall_at:
            seq = self.frame.seq + 1 if self.frame is not None else 0
            self.frame = Frame(IMAGE, self.clock(), seq)
        return self.frame

    def close(self):
        self.closed = True


@pytest.fixture
def profile():
    return load_profile("sim")


def session_for(profile, car, clock, script=(), **kwargs):
    session = TeleopSession(profile, car, ScriptedReader(clock, script), clock=clock, sleep=clock.advance,
                            out=io.StringIO(), **kwargs)
    session.start()
    return session


def test_a_stalled_camera_in_auto_puts_the_car_at_neutral(profile):
    car, twin = make_car()
    clock = FakeClock()
    camera = Camera(clock, stall_at=clock() + 0.5, car=car, twin=twin)
    pilot = Pilot(car, camera, policy=lambda frame: (0.1, 0.4), clock=clock, mode="manual")
    session = session_for(profile, car, clock, pilot=pilot, camera=camera)
    try:
        pilot.mode = "auto"
        session.run(duration=1.5)
        assert pilot.mode == "stopped"  # e-stopped by the stale frame, latched
        driving = [pulse for t, pulse in camera.seen if t < camera.stall_at]
        assert driving[-1] > 1600  # the pilot drove while frames came
        after = [pulse for t, pulse in camera.seen if t > camera.stall_at + pilot.stale_frame_s + 0.1]
        assert after and all(abs(pulse - 1500) <= twin.tick_us for pulse in after)
    finally:
        session.close()
    assert_throttle_neutral(car, twin)


def test_opening_the_camera_for_recording_waits_at_neutral(profile, tmp_path):
    car, twin = make_car()
    clock = FakeClock()
    t0 = clock()
    opened = []

    def open_camera():  # a CSI camera takes seconds to open: the car must not keep going meanwhile
        opened.append(twin.pulse_us(car.throttle_channel))
        clock.advance(2.0)
        return Camera(clock)

    script = [(t0 + 0.05, Stream().report(("ABS_RZ", 1023))),  # full trigger, then held still
              (t0 + 0.3, Stream().report(("BTN_NORTH", 1)).report(("BTN_NORTH", 0))),  # record
              (t0 + 2.5, Stream().report(("ABS_RZ", 1000)))]  # the person drives on
    session = session_for(profile, car, clock, script, camera_factory=open_camera, record_root=tmp_path / "rec")
    try:
        summary = session.run(duration=3.0)
    finally:
        session.close()
    assert len(opened) == 1 and abs(opened[0] - 1500) <= twin.tick_us
    assert summary["recorded"] > 0
    assert len(read_commands(tmp_path / "rec" / "commands.jsonl")) == summary["recorded"]


def test_a_recording_that_cannot_write_stops_recording_not_the_drive(profile, tmp_path):
    car, twin = make_car()
    clock = FakeClock()
    root = tmp_path / "rec"
    root.mkdir()
    (root / "apex").write_text("a file where the image folder should be")  # every image write fails
    script = [(clock() + 0.05, Stream().report(("ABS_RZ", 1023)))]
    session = session_for(profile, car, clock, script, camera=Camera(clock), record_root=root)
    session.teleop.recording = True
    try:
        session.run(duration=0.5)
        assert not session.teleop.recording
        assert session.teleop.message.startswith("recording stopped: ") and "apex" in session.teleop.message
    finally:
        session.close()
    assert_throttle_neutral(car, twin)


def test_a_critical_battery_latches_the_estop(profile):
    from jetracer.i2c.ina219 import INA219Twin
    from jetracer.sim.pack import SimBattery
    from jetracer.status.battery import BatteryMonitor

    car, twin = make_car()
    ina = car.i2c.attach(INA219Twin(0x41, shunt_ohms=0.01, cells=2))
    SimBattery(ina, cells=2, percent=3.0)
    battery = BatteryMonitor.from_profile(profile, i2c=car.i2c, period_s=30.0)
    clock = FakeClock()
    script = [(clock() + 0.05, Stream().report(("ABS_RZ", 1023)))]
    session = session_for(profile, car, clock, script, battery=battery)
    try:
        session.run(duration=0.5)
        assert session.teleop.estopped and "battery critical" in session.teleop.message
        assert session.teleop.throttle == 0.0
    finally:
        session.close()
    assert_throttle_neutral(car, twin)
    assert not any(t.name == "battery-monitor" for t in threading.enumerate())  # stopped with the session

