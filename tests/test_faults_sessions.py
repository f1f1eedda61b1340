"""Sessions that drive outside `jetracer drive` start the guardian too: a notebook kernel that dies,
a teleop loop whose guardian is gone, a session whose guardian trips and is replaced."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from teleop_helpers import XBOX_NAME, XPAD_ONE_AXES, connect

from jetracer.drive.guardian import BeatThread, neutral_plan
from jetracer.i2c import PCA9685Twin
from jetracer.profile import load_profile, make_car
from jetracer.sim.devices import make_sim_bus, sim_state_dir
from jetracer.teleop.session import TeleopSession

ROOT = Path(__file__).resolve().parent.parent
NEUTRAL = 1500.0

KERNEL = """
import sys, time
from jetracer.notebook.session import Session
s = Session(sim=True, live=False, heartbeat=False)
s.car.throttle = 0.5
print("GUARDIAN", s.guardian is not None, flush=True)
time.sleep(60)
"""


def chip():
    return PCA9685Twin(0x40, backing_file=sim_state_dir() / "pca9685-0x40.regs")


def test_a_notebook_kernel_killed_while_driving_ends_at_neutral():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", KERNEL], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        while line and not line.startswith(b"GUARDIAN"):  # the session describes itself first
            line = proc.stdout.readline()
        assert line.split() == [b"GUARDIAN", b"True"], "the kernel died before driving"
        pca = chip()
        assert pca.pulse_us(1) > NEUTRAL + 100
        proc.send_signal(signal.SIGKILL)  # the kernel restarted from the menu, or the OOM killer
        t0 = time.monotonic()
        while abs(pca.pulse_us(1) - NEUTRAL) > pca.tick_us:
            assert time.monotonic() - t0 < 1.0, "throttle still %.0f us" % pca.pulse_us(1)
            time.sleep(0.002)
    finally:
        proc.kill()
        proc.communicate()


class IdleReader:
    def open(self):
        return connect(XBOX_NAME, XPAD_ONE_AXES)

    def poll(self, timeout):
        time.sleep(timeout)
        return []

    def close(self):
        pass


def test_teleop_stops_when_its_guardian_is_gone():
    profile = load_profile("sim")
    car = make_car(profile, i2c=make_sim_bus(profile))
    session = TeleopSession(profile, car, IdleReader())
    try:
        session._start_guardian()
        assert session.guardian is not None
        session.guardian.process.kill()
        session.guardian.process.wait(5)
        session.run(duration=5.0)
        assert session.stop_reason == "watchdog"
        assert abs(chip().pulse_us(1) - NEUTRAL) <= chip().tick_us
    finally:
        session.close()


def test_a_session_guardian_that_trips_stops_the_car_and_is_replaced():
    profile = load_profile("sim")
    car = make_car(profile, i2c=make_sim_bus(profile))
    stopped = []
    beat = BeatThread(neutral_plan(car), limit_s=0.2, on_trip=stopped.append).start()
    try:
        first = beat.guardian
        first.process.kill()
        deadline = time.monotonic() + 3
        while not stopped and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stopped and stopped[0].startswith("watchdog: the guardian process is gone")
        deadline = time.monotonic() + 3
        while (beat.guardian is first) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert beat.guardian is not first and beat.guardian.process.poll() is None
    finally:
        beat.close()
        car.close()
