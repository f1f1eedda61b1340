"""Hangs and freezes of a real `jetracer drive --sim` process: each ends at neutral on the PCA9685
twin (its registers are shared through a file, as a real chip is shared through the bus) within the
watchdog limit, by whichever layer can still act: the pilot's deadline thread, the guardian process,
or `jetracer stop`. Time-to-neutral is measured from the moment the fault began."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jetracer.i2c import PCA9685Twin
from jetracer.sim.devices import sim_state_dir

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
NEUTRAL = 1500.0
TICK = 1e6 / (25e6 / (4096 * 122)) / 4096
WATCHDOG_S = 0.5  # the default pilot.watchdog_s
LOCKSTEP_WATCHDOG_S = 1.0  # shorter than the default 10 s, to keep the test short
#: the watchdog limit plus what a loaded 2-core machine may add to wake a thread or a process
LIMIT_S = WATCHDOG_S + 0.4
TIMES = {}  # kind -> measured seconds to neutral (printed at the end, quoted in the README)


def is_neutral(us):
    return abs(us - NEUTRAL) <= TICK


def start(kind, tmp_path, after=15, extra=("--realtime",)):
    """The sim car in real time with the car's watchdog limit (the sim profile allows a loaded laptop
    more); ``extra=()`` drives in lockstep, where the limit is ``sim.lockstep_watchdog_s``."""
    text = (ROOT / "hardware" / "profiles" / "sim.toml").read_text()
    text = re.sub(r"(?m)^watchdog_s = .*$", "watchdog_s = %g" % WATCHDOG_S, text)
    text = text.replace("[sim]\n", "[sim]\nlockstep_watchdog_s = %g\n" % LOCKSTEP_WATCHDOG_S)
    (tmp_path / "sim.toml").write_text(text)
    extra = ["--profile", str(tmp_path / "sim.toml")] + list(extra)
    marker = tmp_path / "fault.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE)]))
    proc = subprocess.Popen([sys.executable, str(HERE / "fault_drive.py"), kind, str(after), str(marker),
                             "--duration", "30", "--metrics-json", str(tmp_path / "m.json")] + list(extra),
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, marker


def chip():
    return PCA9685Twin(0x40, backing_file=sim_state_dir() / "pca9685-0x40.regs")


def wait_fault(proc, marker, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            out, err = proc.communicate(timeout=5)
            pytest.fail("the drive never reached the fault (rc %s): %s" % (proc.returncode, err.decode()[-2000:]))
        time.sleep(0.005)
    fault = json.loads(marker.read_text())
    assert fault["throttle_us"] > NEUTRAL + 20, "the car was not driving when the fault began"
    return fault


def time_to_neutral(fault, limit=LIMIT_S + 1.0):
    pca = chip()
    while time.monotonic() < fault["t"] + limit:
        if is_neutral(pca.pulse_us(1)):
            return time.monotonic() - fault["t"]
        time.sleep(0.002)
    pytest.fail("throttle still %.0f us %.1f s after the fault" % (pca.pulse_us(1), limit))


def finish(proc, timeout=15.0):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail("the drive did not end: %s" % err.decode()[-2000:])
    return proc.returncode, err.decode()


def jetracer_stop():
    """`jetracer stop --sim` in its own process (stdout/stderr decoded; Python 3.6-friendly)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "jetracer", "stop", "--sim"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def metrics(tmp_path):
    return json.loads((tmp_path / "m.json").read_text())


@pytest.mark.parametrize("kind", ["sleep", "gil", "i2c"])
def test_a_hang_in_the_loop_ends_at_neutral_within_the_watchdog_limit_and_stops_the_drive(kind, tmp_path):
    """A sleeping engine (the deadline thread acts), a C call holding the GIL (only the guardian
    process can act), an I2C write that hangs then lands late (the deadline thread writes over its own
    handle; the late write is undone). Afterwards the car does not drive on: exit 3, "watchdog"."""
    proc, marker = start(kind, tmp_path)
    fault = wait_fault(proc, marker)
    TIMES[kind] = elapsed = time_to_neutral(fault)
    assert elapsed <= LIMIT_S, "%s: neutral after %.3f s" % (kind, elapsed)
    rc, err = finish(proc)
    assert rc == 3, err[-2000:]
    m = metrics(tmp_path)
    assert m["stop_reason"] == "watchdog"
    assert is_neutral(m["final_pwm_us"]["throttle"]) and is_neutral(chip().pulse_us(1))


def test_a_sleeping_engine_in_lockstep_ends_at_neutral_within_the_lockstep_limit(tmp_path):
    """In lockstep virtual time stands still while the engine sleeps: only real time can tell."""
    proc, marker = start("sleep", tmp_path, extra=())
    fault = wait_fault(proc, marker)
    TIMES["sleep (lockstep)"] = elapsed = time_to_neutral(fault, limit=LOCKSTEP_WATCHDOG_S + 1.0)
    assert LOCKSTEP_WATCHDOG_S - 0.1 <= elapsed <= LOCKSTEP_WATCHDOG_S + 0.4
    rc, err = finish(proc)
    assert rc == 3 and metrics(tmp_path)["stop_reason"] == "watchdog"


def test_sigstop_then_sigcont_neutral_while_frozen_and_no_drive_after(tmp_path):
    proc, marker = start("sigstop", tmp_path)
    fault = wait_fault(proc, marker)
    TIMES["sigstop"] = elapsed = time_to_neutral(fault)  # the guardian: the whole process is frozen
    assert elapsed <= LIMIT_S
    time.sleep(0.3)
    assert is_neutral(chip().pulse_us(1))  # stays there
    proc.send_signal(signal.SIGCONT)
    rc, err = finish(proc)
    assert rc == 3 and metrics(tmp_path)["stop_reason"] == "watchdog", err[-2000:]
    assert is_neutral(chip().pulse_us(1))


def test_sigkill_of_the_drive_guardian_writes_neutral_without_jetracer_stop(tmp_path):
    proc, marker = start("none", tmp_path)
    fault = wait_fault(proc, marker)
    proc.kill()
    TIMES["sigkill"] = elapsed = time_to_neutral(fault)
    assert elapsed <= LIMIT_S  # the heartbeat pipe closed without a goodbye: no need to wait for a lapse
    finish(proc)


def test_the_guardian_killed_stops_the_drive_at_neutral(tmp_path):
    proc, marker = start("none", tmp_path)
    fault = wait_fault(proc, marker)
    guardians = subprocess.check_output(["pgrep", "-P", str(proc.pid), "-f", "jetracer.drive.guardian"]).split()
    assert len(guardians) == 1
    os.kill(int(guardians[0]), signal.SIGKILL)
    TIMES["guardian killed"] = time_to_neutral(fault)
    rc, err = finish(proc)
    assert rc == 3 and metrics(tmp_path)["stop_reason"] == "watchdog"
    assert "guardian" in err


def test_jetracer_stop_stops_a_frozen_drive_and_says_so(tmp_path):
    """SIGSTOP from outside (a debugger, a frozen process): `jetracer stop` finds it by its lock
    file, SIGTERM cannot reach it, so it is killed; neutral is written and read back."""
    proc, marker = start("none", tmp_path)
    wait_fault(proc, marker)
    proc.send_signal(signal.SIGSTOP)
    out = jetracer_stop()
    text = out.stdout.decode()
    assert out.returncode == 0, out.stderr.decode()
    assert "pid %d" % proc.pid in text and "SIGKILL" in text and "neutral written" in text
    assert is_neutral(chip().pulse_us(1))
    finish(proc)


def test_jetracer_stop_stops_a_running_drive_which_stays_stopped(tmp_path):
    proc, marker = start("none", tmp_path)
    wait_fault(proc, marker)
    out = jetracer_stop()
    assert out.returncode == 0, out.stderr.decode()
    assert "stopped the running drive (pid %d, SIGTERM)" % proc.pid in out.stdout.decode()
    rc, err = finish(proc)
    assert rc == 0 and metrics(tmp_path)["stop_reason"] == "signal"
    time.sleep(0.2)
    assert is_neutral(chip().pulse_us(1))  # nobody overwrites it any more


def teardown_module(module):
    if TIMES:
        sys.stderr.write("\ntime to neutral: %s\n" % ", ".join("%s %.3f s" % kv for kv in sorted(TIMES.items())))
