"""systemd units are valid and stop the car; calibration moves the outputs and saves the profile."""

import configparser
import io
import re
import shutil
import sys

import pytest
from helpers import run_captured

from jetracer.cli import main
from jetracer.commands.calibrate import Wizard
from jetracer.i2c import PCA9685Twin, VirtualI2C
from jetracer.profile import load_profile
from jetracer.racecar import NvidiaRacecar
from jetracer.services import UNIT_NAMES, existing_groups, render_units


def test_dry_run_prints_valid_units(tmp_path, capsys):
    args = ["install-services", "--dry-run", "--user", "root", "--profile", "sim", "--workdir", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    units = dict(re.findall(r"^# /etc/systemd/system/(\S+)\n(.*?)(?=^# )", out, flags=re.S | re.M))
    assert set(units) == set(UNIT_NAMES)
    drive = units["jetracer-drive.service"]
    assert re.search(r"^ExecStopPost=.*jetracer stop --profile sim$", drive, re.M)
    assert "Restart=on-failure" in drive and "LD_PRELOAD=" in drive
    # only groups that exist here: systemd refuses to start a unit naming a missing group
    assert "SupplementaryGroups=%s\n" % " ".join(existing_groups()) in drive
    assert "JUPYTER_TOKEN=<random>" in out and "password" not in units["jetracer-jupyter.service"].lower()
    for name, text in units.items():
        (tmp_path / name).write_text(text)
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.read_string(text)
        assert parser.has_section("Service") and parser.has_section("Install")
    if shutil.which("systemd-analyze"):  # also let systemd itself check them where it exists
        result = run_captured(["systemd-analyze", "verify"] + [str(tmp_path / n) for n in UNIT_NAMES],
                                )
        assert result.returncode == 0, result.stderr


def test_drive_unit_start_mode():
    units = render_units("jetson", "latrax_rally", "/home/jetson/jetracer", mode="auto", groups=["i2c", "video"])
    assert "ExecStart=" in units["jetracer-drive.service"]
    assert re.search(r"^ExecStart=.* drive --profile latrax_rally --mode auto$", units["jetracer-drive.service"], re.M)
    assert "SupplementaryGroups=i2c video\n" in units["jetracer-display.service"]
    default = render_units("jetson", "latrax_rally", "/home/jetson/jetracer", groups=[])
    assert re.search(r"^ExecStart=.* drive --profile latrax_rally$", default["jetracer-drive.service"], re.M)


def test_install_without_root_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert main(["install-services", "--unit-dir", str(tmp_path)]) == 2
    assert "sudo" in capsys.readouterr().err


def test_calibration_wizard_moves_outputs_and_returns_values():
    bus = VirtualI2C()
    chip = bus.attach(PCA9685Twin(0x40))
    car = NvidiaRacecar(i2c=bus)
    pulses = []

    def ask(prompt):
        pulses.append(chip.pulse_us(0))
        return answers.pop(0)

    # centre: two nudges right then accept; direction: wheels went left (n); travel: accept;
    # throttle neutral: one nudge down, accept; direction: forward (y)
    answers = ["+", "+", "", "n", "", "-", "", "y"]
    values = Wizard(car, ask=ask, say=lambda *a: None).run()
    assert values["car"]["steering_offset"] == pytest.approx(0.02)
    assert values["car"]["steering_gain"] == pytest.approx(0.65)  # direction flipped
    assert values["car"]["throttle_offset"] == pytest.approx(-0.01)
    assert pulses[1] > pulses[0]  # the nudge really moved the servo
    assert abs(chip.pulse_us(1) - (1500 - 0.01 * 750)) <= chip.tick_us  # throttle back at (trimmed) neutral


def test_calibrate_command_saves_profile(tmp_path, monkeypatch):
    src = load_profile("sim").path.read_text()
    path = tmp_path / "mycar.toml"
    path.write_text(src)
    monkeypatch.setattr(sys, "stdin", io.StringIO("+\n\ny\n\n\ny\n"))
    assert main(["calibrate", "--sim", "--profile", str(path)]) == 0
    profile = load_profile(str(path))
    assert profile.car["steering_offset"] == pytest.approx(0.01)
    assert profile.car["steering_gain"] == pytest.approx(-0.65)


def test_calibrate_quit_leaves_profile_unchanged(tmp_path, monkeypatch):
    path = tmp_path / "mycar.toml"
    path.write_text(load_profile("sim").path.read_text())
    before = path.read_bytes()
    monkeypatch.setattr(sys, "stdin", io.StringIO("+\nq\n"))
    assert main(["calibrate", "--sim", "--profile", str(path)]) == 1
    assert path.read_bytes() == before
