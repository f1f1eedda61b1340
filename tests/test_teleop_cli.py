"""Pad discovery, recording while driving, and `jetracer teleop` end to end in the simulator."""

import json

import numpy as np
import pytest
from teleop_helpers import Stream

from jetracer.cli import main
from jetracer.data.xy import list_samples
from jetracer.teleop.codes import ABS, KEYS
from jetracer.teleop.device import INPUT_PROP_ACCELEROMETER, InputDeviceInfo, PadNotFound, find_pad
from jetracer.teleop.recorder import TeleopRecorder, read_commands, steering_to_label

STICKS = [ABS[n] for n in ("ABS_X", "ABS_Y", "ABS_RX", "ABS_RY", "ABS_Z", "ABS_RZ")]
PAD_KEYS = [KEYS[n] for n in ("BTN_SOUTH", "BTN_EAST", "BTN_NORTH", "BTN_WEST", "BTN_TL", "BTN_TR")]


def _devices():
    return [
        InputDeviceInfo("/dev/input/event0", "AT Translated Set 2 keyboard", keys=[30, 31, 32]),
        InputDeviceInfo("/dev/input/event3", "Sony Interactive Entertainment Wireless Controller Motion Sensors",
                        phys="usb-1/input3", axes=STICKS, props=[INPUT_PROP_ACCELEROMETER]),
        InputDeviceInfo("/dev/input/event4", "Sony Interactive Entertainment Wireless Controller Touchpad",
                        phys="usb-1/input3", axes=[0x00, 0x01, 0x35, 0x36], keys=[0x110, 0x14A]),
        InputDeviceInfo("/dev/input/event5", "Sony Interactive Entertainment Wireless Controller",
                        phys="usb-1/input3", axes=STICKS + [0x10, 0x11], keys=PAD_KEYS),
        InputDeviceInfo("/dev/input/event9", error="no permission"),
    ]


def test_discovery_prefers_the_gamepad_node_over_its_siblings():
    assert find_pad("", _devices()).path == "/dev/input/event5"
    assert find_pad("wireless controller", _devices()).path == "/dev/input/event5"
    assert find_pad("keyboard", _devices()).path == "/dev/input/event0"  # asked for by name: honoured


def test_no_pad_is_one_line_listing_devices_and_the_fix():
    devices = [d for d in _devices() if "Controller" not in d.name]
    with pytest.raises(PadNotFound) as err:
        find_pad("", devices)
    message = str(err.value)
    assert "\n" not in message
    assert "AT Translated Set 2 keyboard (/dev/input/event0)" in message
    assert "pair" in message and "input group" in message
    with pytest.raises(PadNotFound, match="event42"):
        find_pad("/dev/input/event42", devices)


def test_steering_to_label_matches_the_pilot_control_law():
    # the pilot steers with steering = x_n * gain + bias; the label inverts that
    assert steering_to_label(0.0, 224, 224) == (112, 90)
    assert steering_to_label(0.75, 224, 224, gain=0.75) == (223, 90)  # clamped to the last column
    x, _ = steering_to_label(0.375, 224, 224, gain=0.75)
    assert 2 * (x / 224 - 0.5) == pytest.approx(0.5, abs=0.01)
    assert steering_to_label(-5.0, 224, 224)[0] == 0


def test_recorder_writes_an_xy_dataset_and_a_command_log(tmp_path):
    image = np.zeros((224, 224, 3), np.uint8)
    frames = [type("F", (), {"image": image, "seq": i, "timestamp": i / 30})() for i in range(4)]
    with TeleopRecorder(tmp_path, gain=0.75) as rec:
        assert rec.record(frames[0], 0.3, 0.0) is None  # standing still: not recorded
        rec.record(frames[1], 0.3, 0.4, mode="manual", scale=0.5)
        rec.record(frames[1], 0.3, 0.4)  # the same frame twice: once
        rec.record(frames[2], -0.75, 0.4)
    samples, categories, skipped = list_samples(tmp_path)
    assert categories == ["apex"] and len(samples) == 2 and not skipped
    xs = sorted(s.x for s in samples)
    assert xs[0] == 0 and xs[1] == steering_to_label(0.3, 224, 224)[0]
    log = read_commands(tmp_path / "commands.jsonl")
    assert [r["steering"] for r in log] == [0.3, -0.75]
    assert (tmp_path / log[0]["file"]).is_file()
    with open(tmp_path / "commands.jsonl", "a") as f:
        f.write('{"torn": ')  # power cut mid-line
    assert len(read_commands(tmp_path / "commands.jsonl")) == 2


def test_teleop_without_a_pad_says_what_and_how_to_fix(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("JETRACER_SIM_STATE", str(tmp_path))
    assert main(["teleop", "--sim", "--pilot", "none", "--device", "/dev/input/event42"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no readable input device at /dev/input/event42") and "\n" not in err


@pytest.mark.slow
def test_teleop_sim_drives_records_and_ends_neutral(tmp_path, monkeypatch, capsys):
    """A recorded pad session (kernel bytes) drives the simulated car; recording is on."""
    monkeypatch.setenv("JETRACER_SIM_STATE", str(tmp_path / "state"))
    stream = Stream()
    stream.report(("ABS_RZ", 1023), ("ABS_X", 1000), dt=0.05)  # right trigger: go
    for i in range(15):  # small steering corrections keep the dead-man fed
        stream.report(("ABS_X", 1000 + (i % 2) * 900), dt=0.1)
    recording = tmp_path / "drive.bin"
    recording.write_bytes(stream.kernel_bytes())
    out_dir = tmp_path / "laps"
    code = main(["teleop", "--sim", "--pilot", "none", "--device", str(recording), "--mapping", "xbox",
                 "--record", str(out_dir), "--duration", "2.5"])
    assert code == 0
    out = capsys.readouterr().out
    assert "steer" in out and "throttle" in out  # the status line
    summary = json.loads(out.strip().splitlines()[-1].split("teleop ended: ", 1)[1])
    assert summary["distance_m"] > 0.3  # the simulated car moved
    assert summary["recorded"] > 5
    assert abs(summary["final_pwm_us"]["throttle"] - 1500) < 2  # neutral at the end
    samples, _, _ = list_samples(out_dir)
    assert len(samples) == summary["recorded"]
    log = read_commands(out_dir / "commands.jsonl")
    assert all(r["throttle"] > 0 for r in log)
    assert "pad lost" in out  # the recording ended: that is a lost pad, and the car stopped


def test_recording_after_a_torn_line_keeps_every_new_line(tmp_path):
    log = tmp_path / "commands.jsonl"
    log.write_text('{"steering": 0.1}\n{"steering": 0.2, "thr')  # power cut mid-line last time
    frame = type("F", (), {"image": np.zeros((32, 32, 3), np.uint8), "seq": 1, "timestamp": 0.0})()
    with TeleopRecorder(tmp_path) as rec:
        rec.record(frame, 0.3, 0.4)
    assert [r["steering"] for r in read_commands(log)] == [0.1, 0.3]


@pytest.mark.parametrize("argv", [["teleop", "--duration", "-1"], ["teleop", "--duration", "nan"],
                                  ["battery", "--watch", "--interval", "-0.5"], ["battery", "--interval", "nan"]])
def test_negative_or_nan_times_are_refused_by_the_parser(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "expected a" in err and "got" in err and err.count("\n") == 1


def test_a_failed_build_closes_the_car_it_built(tmp_path, monkeypatch, capsys, closed_cars):
    monkeypatch.setenv("JETRACER_SIM_STATE", str(tmp_path / "state"))
    profile = tmp_path / "car.toml"
    profile.write_text('[car]\nname = "sim"\n[camera]\ntype = "sim"\n[engine]\npath = "%s"\n'
                       % (tmp_path / "no_such_model.pth"))
    recording = tmp_path / "drive.bin"
    recording.write_bytes(Stream().report(("ABS_X", 0)).kernel_bytes())
    assert main(["teleop", "--profile", str(profile), "--pilot", "model", "--device", str(recording)]) == 2
    assert "no_such_model" in capsys.readouterr().err
    assert len(closed_cars) == 1  # the car (and the world) built before the model failed to load
