"""Profiles validate strictly and build the car they describe; `jetracer stop` leaves neutral."""

import sys

import pytest
from helpers import run_captured

from jetracer.cli import main
from jetracer.errors import ProfileError
from jetracer.profile import Profile, load_profile, make_car, save_profile_values
from jetracer.sim.devices import make_sim_bus

SHIPPED = ["latrax_rally", "tamiya_tt02", "waveshare_ai_kit", "sim"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profiles_validate(name):
    profile = load_profile(name)
    assert profile.car["type"] in ("nvidia", "waveshare")
    assert profile.pilot["mode"] in ("stopped", "steer") or name == "sim"  # only the simulator starts in auto


def test_unknown_key_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[car]\nsteering_gian = -0.6\n')
    with pytest.raises(ProfileError, match="unknown key 'steering_gian' in \\[car\\]"):
        load_profile(str(path))


def test_unknown_section_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[cars]\ntype = "nvidia"\n')
    with pytest.raises(ProfileError, match="unknown section \\[cars\\]"):
        load_profile(str(path))


def test_wrong_type_named(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[car]\nsteering_gain = "fast"\n')
    with pytest.raises(ProfileError, match="\\[car\\] steering_gain must be a number"):
        load_profile(str(path))


def test_bad_choice_and_address():
    with pytest.raises(ProfileError, match="mode must be one of"):
        Profile({"pilot": {"mode": "warp"}})
    with pytest.raises(ProfileError, match="not a 7-bit I2C address"):
        Profile({"car": {"i2c_address": 0x90}})


def test_invalid_toml_is_one_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[car\n")
    with pytest.raises(ProfileError, match="not valid TOML"):
        load_profile(str(path))


def test_make_car_applies_profile_gains():
    profile = Profile({"car": {"steering_gain": 0.5, "steering_offset": 0.1}}, name="t")
    bus = make_sim_bus(profile, persistent=False)
    car = make_car(profile, i2c=bus)
    car.steering = 1.0
    chip = bus.device(0x40)
    assert abs(chip.pulse_us(0) - (750 + (0.6 + 1) / 2 * 1500)) <= chip.tick_us / 2 + 1e-9


def test_save_profile_values_is_validated_and_atomic(tmp_path):
    path = tmp_path / "car.toml"
    path.write_text('[car]\nsteering_offset = 0.0\n')
    save_profile_values(path, {"car": {"steering_offset": 0.12}})
    assert load_profile(str(path)).car["steering_offset"] == 0.12
    with pytest.raises(ProfileError):
        save_profile_values(path, {"car": {"bogus": 1}})
    assert load_profile(str(path)).car["steering_offset"] == 0.12  # unchanged after the refused save
    assert [p.name for p in tmp_path.iterdir()] == ["car.toml"]  # no temp files left behind


def test_stop_command_writes_neutral_on_the_simulated_chip():
    profile = load_profile("sim")
    bus = make_sim_bus(profile)  # persistent registers, as a driving process would leave them
    car = make_car(profile, i2c=bus)
    car.steering, car.throttle = -0.7, 0.6
    chip = bus.device(0x40)
    assert chip.pulse_us(1) > 1600
    del car  # the driving process "dies" without cleaning up; registers keep the last pulse
    assert main(["stop", "--sim"]) == 0
    assert abs(chip.pulse_us(0) - 1500) <= chip.tick_us / 2 + 1e-9
    assert abs(chip.pulse_us(1) - 1500) <= chip.tick_us / 2 + 1e-9


def test_cli_bad_arguments_exit_2_with_one_line():
    result = run_captured([sys.executable, "-m", "jetracer", "stop", "--bogus"])
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_cli_unknown_profile_exit_2_no_traceback():
    result = run_captured([sys.executable, "-m", "jetracer", "stop", "--profile", "nope"])
    assert result.returncode == 2
    assert result.stderr.startswith("error: no profile named 'nope'") and "Traceback" not in result.stderr


@pytest.mark.parametrize("section,key,value,rule", [
    ("car", "throttle_max_pulse_us", 25000.0, "pulses must satisfy"),
    ("car", "steering_channel", 16, "channels 0-15"),
    ("car", "throttle_channel", 0, "must differ from steering_channel"),
    ("car", "pwm_frequency", 5000.0, "24-1743 Hz"),
    ("pilot", "throttle", 1.5, "in \\[0, 1\\]"),
    ("pilot", "stale_frame_s", 0.0, "> 0"),
    ("pilot", "model_throttle_scale", 5.0, "allowed 0 to 3"),
    ("battery", "critical_percent", 30.0, "below low_percent"),
    ("display", "height", 48, "32 or 64"),
])
def test_values_that_would_crash_or_be_unsafe_are_refused(section, key, value, rule):
    with pytest.raises(ProfileError, match="\\[%s\\] %s = .*%s" % (section, key, rule)):
        Profile({section: {key: value}})


def test_save_profile_values_keeps_comments_and_hex(tmp_path):
    path = tmp_path / "car.toml"
    path.write_text("# my car\n[car]\ni2c_address = 0x40  # the PCA9685\nsteering_offset = 0.0  # trim\n\n"
                    "[pilot]\nthrottle = 0.2\n")
    save_profile_values(path, {"car": {"steering_offset": -0.03, "steering_gain": 0.6}})
    text = path.read_text()
    assert "# my car" in text and "i2c_address = 0x40  # the PCA9685" in text
    assert "steering_offset = -0.03  # trim" in text
    profile = load_profile(str(path))
    assert profile.car["steering_gain"] == 0.6 and profile.pilot["throttle"] == 0.2


def test_files_named_in_a_profile_are_found_beside_it_or_in_its_checkout(tmp_path, monkeypatch):
    checkout = tmp_path / "jetracer"
    (checkout / "hardware" / "profiles").mkdir(parents=True)
    (checkout / "models").mkdir()
    (checkout / "models" / "road.pth").write_bytes(b"x")
    (checkout / "hardware" / "profiles" / "lap.mp4").write_bytes(b"x")
    path = checkout / "hardware" / "profiles" / "car.toml"
    path.write_text('[engine]\npath = "models/road.pth"\n')
    monkeypatch.chdir(tmp_path)  # somewhere else: relative names don't resolve from here
    profile = load_profile(str(path))
    assert profile.resolve_path("models/road.pth") == checkout / "models" / "road.pth"
    assert profile.resolve_path("lap.mp4") == checkout / "hardware" / "profiles" / "lap.mp4"
    assert str(profile.resolve_path("missing.pth")) == "missing.pth"  # unchanged: the caller's error names it
