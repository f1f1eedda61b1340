"""The safety envelope of profiles, limits on the final output, the guardian's own contract, systemd
keep-alives, the drive lock, and the blind battery monitor through `jetracer drive`."""

import json
import os
import re
import socket
import time
from pathlib import Path

import pytest
from helpers import FakeClock

from jetracer.cli import main
from jetracer.drive.guardian import Guardian, neutral_plan
from jetracer.drive.runlock import DriveLock, lock_path
from jetracer.drive.sdnotify import SystemdNotifier
from jetracer.errors import ProfileError
from jetracer.i2c import PCA9685Twin
from jetracer.profile import Profile, load_profile, make_car, profile_dirs
from jetracer.sim.devices import make_sim_bus, sim_state_dir

NEUTRAL = 1500.0


def refused(section, values):
    with pytest.raises(ProfileError) as err:
        Profile({section: values}, name="p")
    return str(err.value)


@pytest.mark.parametrize("section,values,words", [
    ("car", {"throttle_offset": 0.9}, ["throttle_offset", "allowed -0.5 to 0.5"]),  # neutral would be 2176 us
    ("car", {"throttle_offset": 0.3}, ["throttle_offset", "would send 1725 us", "neutral 1500 us"]),
    ("car", {"throttle_offset": 0.02}, ["throttle_offset", "allowed -0.0133 to 0.0133"]),  # 15 us: a creep
    ("car", {"throttle_min_pulse_us": 1000.0, "throttle_max_pulse_us": 2400.0}, ["throttle_offset", "1700"]),
    ("car", {"pwm_frequency": 500.0}, ["steering_max_pulse_us", "2250", "fit the PWM period", "500 Hz"]),
    ("car", {"throttle_gain": 5.0}, ["throttle_gain", "allowed -1 to 1"]),
    ("car", {"steering_gain": 3.0}, ["steering_gain", "allowed -1 to 1"]),
    ("car", {"steering_offset": 0.8}, ["steering_offset", "allowed -0.5 to 0.5"]),
    ("car", {"esc_neutral_us": 2500.0}, ["esc_neutral_us", "allowed 1000 to 2000"]),
    ("car", {"throttle_min_pulse_us": 1450.0, "throttle_max_pulse_us": 1550.0}, ["at least 200 us"]),
    ("pilot", {"stale_frame_s": 10.0}, ["stale_frame_s", "allowed 0.01 to 1"]),
    ("pilot", {"watchdog_s": 60.0}, ["watchdog_s", "allowed 0.05 to 2"]),
    ("pilot", {"watchdog_s": 0.2}, ["watchdog_s", "longer than stale_frame_s"]),
    ("pilot", {"steering_gain": 50.0}, ["steering_gain", "allowed -5 to 5"]),
    ("pilot", {"loop_hz": 1.0}, ["loop_hz", "above 2.00 Hz"]),
    ("battery", {"unreadable_stop_s": 0.0}, ["unreadable_stop_s", "allowed 1 to 600"]),
    ("teleop", {"deadman_s": 100.0}, ["deadman_s", "allowed 0.05 to 5"]),
    ("camera", {"stale_limit_s": 1e9}, ["stale_limit_s"]),
])
def test_unsafe_profiles_are_refused_naming_the_key_and_the_range(section, values, words):
    message = refused(section, values)
    for word in words:
        assert word in message, message


def test_a_trimmed_esc_neutral_is_allowed_when_stated():
    p = Profile({"car": {"esc_neutral_us": 1520.0, "throttle_offset": 0.0267}}, name="p")
    assert p.car["esc_neutral_us"] == 1520.0


def test_calibrating_the_esc_neutral_saves_a_profile_inside_the_envelope(tmp_path, monkeypatch):
    import io
    import sys

    path = tmp_path / "mycar.toml"
    path.write_text((Path(__file__).resolve().parent.parent / "hardware" / "profiles" / "sim.toml").read_text())
    # centre accepted, direction right, travel accepted, throttle neutral two nudges down, forward
    monkeypatch.setattr(sys, "stdin", io.StringIO("\ny\n\n-\n-\n\ny\n"))
    assert main(["calibrate", "--sim", "--profile", str(path)]) == 0
    profile = load_profile(str(path))
    assert profile.car["throttle_offset"] == pytest.approx(-0.02)
    assert profile.car["esc_neutral_us"] == pytest.approx(1485.0)


def test_every_shipped_profile_is_inside_the_envelope():
    shipped = sorted(p for d in profile_dirs() if d.is_dir() for p in d.glob("*.toml"))
    assert len(shipped) >= 4
    for path in shipped:
        load_profile(path)


def test_the_forward_limit_bounds_the_final_pulse_whatever_the_gain(bus, pca):
    from jetracer import NvidiaRacecar

    car = NvidiaRacecar(i2c=bus, throttle_gain=1.0, throttle_forward_limit=0.25, throttle_reverse_limit=0.1)
    car.throttle = 1.0
    assert abs(pca.pulse_us(1) - (NEUTRAL + 0.25 * 750)) <= pca.tick_us
    car.throttle = -1.0
    assert abs(pca.pulse_us(1) - (NEUTRAL - 0.1 * 750)) <= pca.tick_us
    car.throttle_gain = 0.5  # the gain scales inside the limit
    car.throttle = 0.3
    assert abs(pca.pulse_us(1) - (NEUTRAL + 0.15 * 750)) <= pca.tick_us


# -- the guardian's own contract -----------------------------------------------------------------------
def sim_car():
    profile = load_profile("sim")
    return make_car(profile, i2c=make_sim_bus(profile)), PCA9685Twin(
        0x40, backing_file=sim_state_dir() / "pca9685-0x40.regs")


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.002)
    return None


def test_guardian_heartbeat_pipe_closed_without_goodbye_writes_neutral():
    car, chip = sim_car()
    guardian = Guardian.start(neutral_plan(car), limit_s=5.0)  # a long limit: the closed pipe alone acts
    assert guardian.beat()
    car.throttle = 0.5
    os.close(guardian._beat_fd)  # what the kernel does when the parent dies
    t0 = time.monotonic()
    assert wait_for(lambda: abs(chip.pulse_us(1) - NEUTRAL) <= chip.tick_us, 2.0), chip.pulse_us(1)
    assert time.monotonic() - t0 < 1.0
    assert guardian.process.wait(5) == 1
    guardian._beat_fd = None
    os.close(guardian._status_fd)


def test_guardian_lapse_latches_and_can_switch_the_outputs_off():
    """Outputs off: the ESC sees no pulse at all and its own failsafe holds the car."""
    car, chip = sim_car()
    guardian = Guardian.start(neutral_plan(car), limit_s=0.2, outputs_off=True)
    try:
        assert guardian.beat()
        car.throttle = 0.5
        assert wait_for(lambda: chip.counters(1)[3], 1.5)  # LED1 full-off bit
        assert chip.pulse_us(1) == 0.0
        time.sleep(0.05)
        assert guardian.beat() is False and "heartbeat" in guardian.reason  # latched: the loop must stop
    finally:
        guardian.close()
    assert guardian.process.returncode == 0


def test_guardian_clean_close_leaves_the_outputs_alone():
    car, chip = sim_car()
    guardian = Guardian.start(neutral_plan(car), limit_s=0.2)
    guardian.beat()
    car.steering = 0.5  # whatever the owner left there (a clean exit writes its own neutral)
    steering = chip.pulse_us(0)
    guardian.close()
    assert guardian.process.returncode == 0 and chip.pulse_us(0) == steering


def test_no_guardian_plan_for_a_bus_only_this_process_can_reach(bus, pca):
    from jetracer import NvidiaRacecar

    assert neutral_plan(NvidiaRacecar(i2c=bus)) is None
    assert Guardian.start(None) is None


# -- systemd keep-alives -------------------------------------------------------------------------------
@pytest.mark.parametrize("abstract", [False, True])
def test_drive_tells_systemd_ready_watchdog_and_stopping(tmp_path, monkeypatch, abstract):
    name = "@jetracer-test-%d" % os.getpid() if abstract else str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:] if abstract else name)
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", name)
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    try:
        assert main(["drive", "--sim", "--pilot", "expert", "--duration", "1"]) == 0
        messages = []
        sock.settimeout(0.2)
        try:
            while True:
                messages.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
    finally:
        sock.close()
    assert messages[0].startswith("READY=1")
    assert "WATCHDOG=1" in messages and messages[-1] == "STOPPING=1"


def test_keepalives_are_rate_limited_and_come_only_when_the_loop_calls():
    sent = []
    clock = FakeClock(0.0)
    notifier = SystemdNotifier(env={"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "2000000"}, clock=clock)
    import jetracer.drive.sdnotify as sd

    real = sd.notify
    sd.notify = lambda message, env=None: sent.append(message)
    try:
        for _ in range(100):  # 100 frames in 1 s: two keep-alives (every WATCHDOG_USEC / 4)
            notifier.keepalive()
            clock.advance(0.01)
    finally:
        sd.notify = real
    assert sent == ["WATCHDOG=1", "WATCHDOG=1"]
    assert SystemdNotifier(env={"NOTIFY_SOCKET": "x", "WATCHDOG_USEC": "5", "WATCHDOG_PID": "1"}).watchdog_s is None


def test_drive_unit_is_notify_with_a_watchdog_and_neutral_after_stop():
    from jetracer.services import render_units

    drive = render_units("jetson", "latrax_rally", "/home/jetson/jetracer", groups=[])["jetracer-drive.service"]
    for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=2", "Restart=on-failure"):
        assert "\n%s\n" % line in drive
    assert "ExecStopPost=" in drive and "stop --profile latrax_rally" in drive


# -- one drive per car ---------------------------------------------------------------------------------
def test_a_second_drive_on_the_same_car_is_refused(capsys):
    lock = DriveLock(lock_path(load_profile("sim"), sim=True)).acquire(profile="sim")
    try:
        assert main(["drive", "--sim", "--pilot", "expert", "--duration", "1"]) == 2
    finally:
        lock.release()
    err = capsys.readouterr().err
    assert "already running" in err and "pid %d" % os.getpid() in err and "jetracer stop" in err


def test_jetracer_stop_finds_a_service_drive_from_a_login_shell(tmp_path, monkeypatch):
    """The unit has no XDG_RUNTIME_DIR, the shell has one: the lock is found either way."""
    import tempfile

    from jetracer.drive.runlock import find_running_drive, lock_paths

    profile = load_profile("latrax_rally")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    service = DriveLock(lock_paths(profile)[0]).acquire(profile="latrax_rally")
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run-user"))
        path, holder = find_running_drive(lock_paths(profile))
        assert holder["pid"] == os.getpid() and str(path).startswith(str(tmp_path / "tmp"))
        assert path.name == "drive-i2c1-0x40.lock"
    finally:
        service.release()
    assert find_running_drive(lock_paths(profile)) == (None, None) and not path.exists()


def test_stop_with_no_drive_running_writes_neutral_and_reads_it_back(capsys):
    car, chip = sim_car()
    car.throttle = 0.6
    assert main(["stop", "--sim"]) == 0
    out = capsys.readouterr().out
    assert "stopped the running drive" not in out and "neutral written" in out
    assert abs(float(re.search(r"throttle (\d+\.?\d*)", out).group(1)) - NEUTRAL) <= chip.tick_us
    assert abs(chip.pulse_us(1) - NEUTRAL) <= chip.tick_us


# -- a blind battery monitor through `jetracer drive` ---------------------------------------------------
@pytest.mark.parametrize("realtime", [False, True])
def test_drive_with_a_battery_monitor_that_cannot_read_stops_with_exit_3(tmp_path, monkeypatch, realtime):
    from jetracer.status.battery import BatteryMonitor

    text = (Path(__file__).resolve().parent.parent / "hardware" / "profiles" / "sim.toml").read_text()
    text = text.replace("[battery]\n", "[battery]\nunreadable_stop_s = 1.0\nperiod_s = 0.2\n")
    (tmp_path / "blind.toml").write_text(text)
    reads = [0]
    real = BatteryMonitor.read_raw

    def read_raw(self):
        reads[0] += 1
        if reads[0] > 3:
            raise OSError(121, "Remote I/O error")  # the INA219's wire came loose
        return real(self)

    monkeypatch.setattr(BatteryMonitor, "read_raw", read_raw)
    out = tmp_path / "m.json"
    args = ["drive", "--sim", "--profile", str(tmp_path / "blind.toml"), "--pilot", "expert", "--duration", "20",
            "--metrics-json", str(out)]
    assert main(args + (["--realtime"] if realtime else [])) == 3
    metrics = json.loads(out.read_text())
    assert metrics["stop_reason"] == "battery_unreadable"
    assert abs(metrics["final_pwm_us"]["throttle"] - NEUTRAL) <= 5
    assert metrics["sim_time_s"] < 4.0
