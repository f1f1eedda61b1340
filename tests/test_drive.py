"""`jetracer drive` in the simulator: the metrics contract, and every fault ends at neutral throttle
on the emulated PCA9685 -- including SIGTERM to a real process and `jetracer stop` after SIGKILL."""

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from jetracer.cli import main
from jetracer.drive.pilot import Pilot
from jetracer.i2c import PCA9685Twin
from jetracer.profile import load_profile, make_car
from jetracer.sim.devices import sim_state_dir
from jetracer.sim.expert import ExpertDriver
from jetracer.sim.world import SimWorld

NEUTRAL = 1500.0
TICK = 1e6 / (25e6 / (4096 * 122)) / 4096  # one 12-bit step at 50 Hz


def is_neutral(pulse_us):
    return abs(pulse_us - NEUTRAL) <= TICK


CONTRACT_KEYS = {"laps_completed", "lap_times_s", "distance_m", "mean_abs_cte_m", "max_abs_cte_m",
                 "off_track_events", "frames", "control_latency_ms", "track", "pilot", "stop_reason", "final_pwm_us"}


def test_expert_drive_writes_the_metrics_contract(tmp_path, capsys):
    out = tmp_path / "m.json"
    assert main(["drive", "--sim", "--pilot", "expert", "--track", "oval", "--laps", "1",
                 "--metrics-json", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert CONTRACT_KEYS <= set(metrics)
    assert metrics["laps_completed"] == 1 and metrics["stop_reason"] == "laps" and metrics["off_track_events"] == 0
    assert set(metrics["control_latency_ms"]) >= {"p50", "p99"}
    assert is_neutral(metrics["final_pwm_us"]["throttle"]) and is_neutral(metrics["final_pwm_us"]["steering"])
    assert "laps 1" in capsys.readouterr().out


def test_video_is_written(tmp_path):
    video = tmp_path / "run.gif"
    assert main(["drive", "--sim", "--pilot", "expert", "--duration", "1", "--video", str(video)]) == 0
    assert video.stat().st_size > 1000


def _sim_pilot(world, engine=None, policy=None):
    profile = world.profile
    car = make_car(profile, i2c=world.bus)
    pilot = Pilot.from_profile(profile, car, world.camera, engine=engine, policy=policy, clock=world.clock, mode="auto")
    return pilot, world.bus.device(profile.car["i2c_address"])


def test_camera_that_stops_lockstep_neutral_within_stale_limit():
    world = SimWorld("sim", track="oval")
    pilot, chip = _sim_pilot(world, policy=lambda frame: ExpertDriver(world).command())
    last_frame = []

    def advance():
        world.step(world.frame_period)
        if pilot.frames == 60:
            assert chip.pulse_us(1) > NEUTRAL + 20  # driving when the camera dies
            last_frame.append(world.time)
            world.camera.freeze()

    assert pilot.run(before_frame=advance) == "stale_frame"
    assert is_neutral(chip.pulse_us(1))
    assert world.time - last_frame[0] <= pilot.stale_frame_s


def test_camera_that_stops_realtime_neutral_within_stale_limit():
    world = SimWorld("sim", track="oval")
    expert = ExpertDriver(world)
    pilot, chip = _sim_pilot(world, policy=lambda frame: expert.command())
    result = {}

    def kill_camera_then_watch():
        while pilot.frames < 20:
            time.sleep(0.01)
        assert chip.pulse_us(1) > NEUTRAL + 20
        t0 = time.monotonic()
        world.camera.freeze()
        while not is_neutral(chip.pulse_us(1)) and time.monotonic() - t0 < 5:
            time.sleep(0.002)
        result["neutral_after_s"] = time.monotonic() - t0

    watcher = threading.Thread(target=kill_camera_then_watch)
    with world.realtime():
        watcher.start()
        reason = pilot.run(should_stop=lambda: "duration" if world.time > 20 else None)
    watcher.join()
    assert reason == "stale_frame"
    # the stale limit, plus the frame period and scheduling slack of a loaded 2-core machine
    assert result["neutral_after_s"] <= pilot.stale_frame_s + 0.3


class FlakyEngine:
    """A network that returns NaN (or raises) after some frames, as a broken engine build does."""

    def __init__(self, after, failure):
        self.after, self.failure, self.calls = after, failure, 0

    def __call__(self, image):
        self.calls += 1
        if self.calls > self.after:
            if isinstance(self.failure, Exception):
                raise self.failure
            return self.failure, 0.0
        return 0.0, 0.0


@pytest.mark.parametrize("failure", [math.nan, RuntimeError("TensorRT: engine execution failed")])
def test_engine_failure_in_sim_ends_at_neutral(failure):
    world = SimWorld("sim", track="oval")
    pilot, chip = _sim_pilot(world, engine=FlakyEngine(30, failure))
    seen_driving = []
    assert pilot.run(before_frame=lambda: (world.step(world.frame_period),
                                           seen_driving.append(chip.pulse_us(1) > NEUTRAL + 20))) == "engine_error"
    assert any(seen_driving) and is_neutral(chip.pulse_us(1))


def _start_drive(tmp_path, *extra):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    metrics = tmp_path / "metrics.json"
    cmd = [sys.executable, "-m", "jetracer", "drive", "--sim", "--pilot", "expert", "--realtime", "--duration", "60",
           "--metrics-json", str(metrics)] + list(extra)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), metrics


def _shared_chip():
    """The simulated PCA9685 the subprocess drives (its registers live in a shared file)."""
    return PCA9685Twin(0x40, backing_file=sim_state_dir() / "pca9685-0x40.regs")


def _wait_driving(chip, proc, limit=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if chip.pulse_us(1) > NEUTRAL + 20:
            return True
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read())
        time.sleep(0.05)
    return False


@pytest.mark.slow
def test_sigterm_to_a_running_drive_exits_0_at_neutral(tmp_path):
    proc, metrics_path = _start_drive(tmp_path)
    chip = _shared_chip()
    assert _wait_driving(chip, proc)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0
    metrics = json.loads(metrics_path.read_text())
    assert metrics["stop_reason"] == "signal"
    assert is_neutral(metrics["final_pwm_us"]["throttle"])
    assert is_neutral(chip.pulse_us(1))


@pytest.mark.slow
def test_stop_after_sigkill_writes_neutral(tmp_path):
    """The last line of defence when nothing else runs: with the guardian process switched off
    (tests/test_faults_hangs.py covers it), a SIGKILLed drive leaves its last pulse on the chip, as a
    real PCA9685 does, and `jetracer stop` (systemd's ExecStopPost) puts it at neutral."""
    profile = tmp_path / "no_guardian.toml"
    profile.write_text(load_profile("sim").path.read_text().replace("[pilot]", "[pilot]\nguardian = false", 1))
    proc, _ = _start_drive(tmp_path, "--profile", str(profile))
    chip = _shared_chip()
    assert _wait_driving(chip, proc)
    proc.kill()  # no handler runs and no guardian: the chip keeps its last pulse
    proc.wait(timeout=20)
    assert chip.pulse_us(1) > NEUTRAL + 20
    result = subprocess.run([sys.executable, "-m", "jetracer", "stop", "--sim"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert is_neutral(chip.pulse_us(1)) and is_neutral(chip.pulse_us(0))


def test_battery_critical_in_sim_stops_with_reason_battery():
    from jetracer.status.battery import BatteryMonitor

    profile = load_profile("sim")
    world = SimWorld(profile, track="oval")
    monitor = BatteryMonitor.from_profile(profile, i2c=world.bus, clock=world.clock)
    pack = world.battery
    pilot, chip = _sim_pilot(world, policy=lambda frame: ExpertDriver(world).command())
    pilot.battery = monitor
    states = []

    def advance():
        world.step(world.frame_period)
        monitor.update()
        states.append(monitor.state)
        if pilot.frames == 30:
            pack.percent = 15.0  # a tired pack: low ...
        if pilot.frames == 200:
            pack.percent = 3.0  # ... then nearly empty

    assert pilot.run(before_frame=advance) == "battery"
    assert "low" in states and states[-1] == "critical"
    assert states.index("low") < states.index("critical")
    assert is_neutral(chip.pulse_us(1))
