"""Every bad input gets one line, and nothing trains silently wrong (issue 17).

Each case runs the command as a user would (in-process through ``jetracer.cli.main`` to stay fast, a
few as real processes) and checks what the user sees: exit 2 for a usage error, 3 for a fault, one
line on stderr and no traceback, and every file that was there before unchanged (hashed before and
after). Full-disk cases use a real 1 MB tmpfs (root only; skipped elsewhere).
"""

import errno
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from jetracer.cli import main
from jetracer.data.xy import XYDataset, find_categories, save_sample

NEUTRAL = 1500.0
TICK = 1e6 / (25e6 / (4096 * 122)) / 4096  # one 12-bit step at 50 Hz


# -- helpers ----------------------------------------------------------------------------------------
def run_cli(argv, capsys):
    """``(exit status, stderr)`` of ``jetracer ARGV`` run in this process."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse's own exit (usage errors)
        code = exc.code
    return code, capsys.readouterr().err


def assert_one_line(code, err, expected, *words):
    assert code == expected, (code, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def assert_one_error_line(code, err, expected, *words):
    """A failure after work began (progress lines came first): the last line is the only error."""
    assert code == expected, (code, err)
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0], err
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


def hashes(*roots):
    """``{path: sha256}`` of every file under ``roots`` (a file or a folder each)."""
    found = {}
    for root in roots:
        root = Path(root)
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in paths:
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def write_profile(tmp_path, text, name="car.toml"):
    path = tmp_path / name
    path.write_text('[car]\nname = "sim"\n' + text)
    return path


def dot_image(x, y, size=(224, 224)):
    img = np.full((size[1], size[0], 3), 30, np.uint8)
    img[max(0, y - 3):y + 4, max(0, x - 3):x + 4] = 250
    return img


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    import torch

    from jetracer.models import build_model, save_checkpoint

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "tiny.pth"
    save_checkpoint(path, build_model("tiny"), {"arch": "tiny", "input_size": [64, 64]})
    return path


@pytest.fixture(scope="module")
def tiny_engine(tiny_model, tmp_path_factory):
    from jetracer.engine.loader import build_engine, load_model_file

    model, meta = load_model_file(tiny_model)
    path = tmp_path_factory.mktemp("engine") / "tiny.engine"
    build_engine(model, meta, backend="torch", precision="fp32").save(path)
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("xy")
    for i in range(6):
        save_sample(root, "apex", dot_image(40 + 20 * i, 100), 40 + 20 * i, 100)
    return root


class Disk:
    def __init__(self, root):
        self.root = root

    def fill(self):
        """Take every free byte, so the next write fails with ENOSPC."""
        for name, size in (("filler", 4096), ("filler2", 1)):
            fd = os.open(str(self.root / name), os.O_WRONLY | os.O_CREAT)
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
            finally:
                os.close(fd)


@pytest.fixture
def full_disk(tmp_path):
    """A real 1 MB file system that a test fills up (tmpfs; needs root)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a tmpfs mount needs root")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield Disk(mnt)
    finally:
        subprocess.call(["umount", "-l", str(mnt)])


# -- 1. flags: every number finite and bounded; argparse says which (exit 2) -------------------------
EXPERT = ["drive", "--sim", "--pilot", "expert"]

FLAG_CASES = [
    ("drive negative seed", EXPERT + ["--seed", "-1", "--duration", "1"], "--seed"),
    ("drive seed past 32 bits", EXPERT + ["--seed", str(2 ** 40), "--duration", "1"], "--seed"),
    ("drive duration nan", EXPERT + ["--duration", "nan"], "--duration"),
    ("drive duration inf", EXPERT + ["--duration", "inf"], "--duration"),
    ("drive duration zero", EXPERT + ["--duration", "0"], "--duration"),
    ("drive duration negative", EXPERT + ["--duration", "-3"], "--duration"),
    ("drive laps zero", EXPERT + ["--laps", "0"], "--laps"),
    ("drive laps negative", EXPERT + ["--laps", "-2"], "--laps"),
    ("drive laps nan", EXPERT + ["--laps", "nan"], "--laps"),
    ("drive laps huge", EXPERT + ["--laps", "100000000"], "--laps"),
    ("drive max-seconds nan", EXPERT + ["--laps", "1", "--max-seconds", "nan"], "--max-seconds"),
    ("drive throttle nan", EXPERT + ["--duration", "1", "--throttle", "nan"], "--throttle"),
    ("drive model throttle scale negative", EXPERT + ["--duration", "1", "--model-throttle-scale", "-1"],
     "--model-throttle-scale"),
    ("drive model throttle scale inf", EXPERT + ["--duration", "1", "--model-throttle-scale", "inf"],
     "--model-throttle-scale"),
    ("teleop duration nan", ["teleop", "--sim", "--duration", "nan"], "--duration"),
    ("collect negative seed", ["collect", "--sim", "--frames", "2", "--out", "d", "--seed", "-5"], "--seed"),
    ("collect zero frames", ["collect", "--sim", "--frames", "0", "--out", "d"], "--frames"),
    ("collect a billion frames", ["collect", "--sim", "--frames", "1000000000", "--out", "d"], "--frames"),
    ("collect lookahead nan", ["collect", "--sim", "--frames", "2", "--out", "d", "--lookahead", "nan"],
     "--lookahead"),
    ("train negative seed", ["train", "d", "--out", "m.pth", "--seed", "-1"], "--seed"),
    ("train zero epochs", ["train", "d", "--out", "m.pth", "--epochs", "0"], "--epochs"),
    ("train huge batch", ["train", "d", "--out", "m.pth", "--batch-size", "1000000"], "--batch-size"),
    ("train huge input", ["train", "d", "--out", "m.pth", "--input-size", "100000"], "--input-size"),
    ("train lr nan", ["train", "d", "--out", "m.pth", "--lr", "nan"], "--lr"),
    ("train lr inf", ["train", "d", "--out", "m.pth", "--lr", "inf"], "--lr"),
    ("train too many workers", ["train", "d", "--out", "m.pth", "--workers", "100000"], "--workers"),
    ("train val fraction nan", ["train", "d", "--out", "m.pth", "--val-fraction", "nan"], "--val-fraction"),
    ("optimize tolerance nan", ["optimize", "m.pth", "--out", "e", "--tolerance", "nan"], "--tolerance"),
    ("optimize negative frames", ["optimize", "m.pth", "--out", "e", "--frames", "-1"], "--frames"),
    ("optimize threads zero", ["optimize", "m.pth", "--out", "e", "--threads", "0"], "--threads"),
    ("bench negative warmup", ["bench", "--warmup", "-1"], "--warmup"),
    ("bench frames zero", ["bench", "--frames", "0"], "--frames"),
    ("battery interval zero", ["battery", "--interval", "0"], "--interval"),
    ("battery negative count", ["battery", "--count", "-1"], "--count"),
    ("display scale zero", ["display", "--scale", "0"], "--scale"),
    ("display scale huge", ["display", "--scale", "100000"], "--scale"),
]


@pytest.mark.parametrize("argv,flag", [c[1:] for c in FLAG_CASES], ids=[c[0] for c in FLAG_CASES])
def test_bad_numbers_are_one_usage_line(argv, flag, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, err = run_cli(argv, capsys)
    line = assert_one_line(code, err, 2, flag)
    assert "error" in line
    assert list(tmp_path.iterdir()) == []  # nothing was written


# -- 2. output paths: a folder for a file, a file for a folder, checked before any work (exit 2) -----
def _out_cases(tmp_path, tiny_model, dataset):
    folder = tmp_path / "a_folder"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep")
    a_file = tmp_path / "a_file"
    a_file.write_text("precious")
    return [
        (EXPERT + ["--duration", "0.1", "--metrics-json", folder], "is a folder"),
        (EXPERT + ["--duration", "0.1", "--metrics-json", a_file / "m.json"], "is a file, not a folder"),
        (EXPERT + ["--duration", "0.1", "--video", folder], "is a folder"),
        (EXPERT + ["--duration", "0.1", "--video", a_file / "v.mp4"], "is a file, not a folder"),
        (EXPERT + ["--duration", "0.1", "--video", tmp_path / "v.txt"], ".mp4"),
        (["collect", "--sim", "--frames", "2", "--out", a_file], "is a file, not a folder"),
        (["collect", "--sim", "--frames", "2", "--out", a_file / "sub"], "is a file, not a folder"),
        (["collect", "--sim", "--frames", "2", "--out", tmp_path / "d", "--category", "../up"], "--category"),
        (["train", dataset, "--out", folder, "--arch", "tiny"], "is a folder"),
        (["train", dataset, "--out", a_file / "m.pth", "--arch", "tiny"], "is a file, not a folder"),
        (["optimize", tiny_model, "--backend", "torch", "--out", folder], "is a folder"),
        (["optimize", tiny_model, "--backend", "torch", "--out", a_file / "x.engine"], "is a file, not a folder"),
        (["bench", "--json", folder], "is a folder"),
        (["display", "--sim", "--profile", "sim", "--snapshot", folder], "is a folder"),
    ]


@pytest.mark.parametrize("index", range(14))
def test_wrong_output_paths_fail_before_work_and_touch_nothing(index, tmp_path, capsys, tiny_model, dataset):
    argv, words = _out_cases(tmp_path, tiny_model, dataset)[index]
    before = hashes(tmp_path, dataset, tiny_model)
    code, err = run_cli(argv, capsys)
    assert_one_line(code, err, 2, words)
    assert hashes(tmp_path, dataset, tiny_model) == before
    assert not (tmp_path / "d").exists()


# -- 3. profiles the devices or the simulator cannot take (exit 2, the file and key named) ----------
PROFILE_CASES = [
    ("9 cells", "[battery]\nenabled = true\ncells = 9\n", "[battery] cells"),
    ("frame rate 0", "[sim]\nframe_rate = 0\n", "[sim] frame_rate"),
    ("camera width 0", "[camera]\nwidth = 0\n", "[camera] width"),
    ("camera height huge", "[camera]\nheight = 100000\n", "[camera] height"),
    ("camera fps 0", "[camera]\nfps = 0\n", "[camera] fps"),
    ("camera fps nan", "[camera]\nfps = nan\n", "[camera] fps"),
    ("pinhole lens 180 degrees", '[camera]\nlens = "pinhole"\nfov_deg = 180.0\n', "[camera] fov_deg"),
    ("unknown lens", '[camera]\nlens = "zoom"\n', "[camera] lens"),
    ("battery on the PCA9685's address", "[battery]\nenabled = true\ni2c_address = 0x40\n", "two chips"),
    ("display on the battery's address", "[battery]\nenabled = true\ni2c_address = 0x41\n"
     "[display]\nenabled = true\ni2c_address = 0x41\n", "two chips"),
    ("display 2000 columns", "[display]\nwidth = 2000\n", "[display] width"),
    ("battery period 0", "[battery]\nperiod_s = 0\n", "[battery] period_s"),
    ("shunt 0 ohms", "[battery]\nshunt_ohms = 0.0\n", "[battery] shunt_ohms"),
    ("sim top speed 0", "[sim]\ntop_speed_mps = 0\n", "[sim] top_speed_mps"),
    ("loop 1 MHz", "[pilot]\nloop_hz = 1e6\n", "[pilot] loop_hz"),
]


@pytest.mark.parametrize("text,words", [c[1:] for c in PROFILE_CASES], ids=[c[0] for c in PROFILE_CASES])
def test_profile_values_out_of_bounds_are_one_line(text, words, tmp_path, capsys):
    profile = write_profile(tmp_path, text)
    before = hashes(tmp_path)
    code, err = run_cli(EXPERT + ["--profile", profile, "--duration", "0.1"], capsys)
    assert_one_line(code, err, 2, str(profile), words)
    assert hashes(tmp_path) == before


def test_the_battery_monitor_takes_every_cell_count_the_profile_allows():
    from jetracer.i2c.bus import VirtualI2C
    from jetracer.i2c.ina219 import INA219Twin
    from jetracer.profile import BATTERY_MAX_CELLS, Profile, ProfileError
    from jetracer.status.battery import BatteryMonitor

    for cells in range(1, BATTERY_MAX_CELLS + 1):
        bus = VirtualI2C()
        bus.attach(INA219Twin(0x41, cells=cells))
        profile = Profile({"battery": {"enabled": True, "cells": cells}})
        assert BatteryMonitor.from_profile(profile, i2c=bus).cells == cells
    with pytest.raises(ProfileError, match="cells"):
        Profile({"battery": {"cells": BATTERY_MAX_CELLS + 1}})


def test_shipped_profiles_stay_within_the_bounds():
    from jetracer.profile import load_profile

    shipped = sorted((Path(__file__).resolve().parent.parent / "hardware" / "profiles").glob("*.toml"))
    assert shipped
    for path in shipped:
        load_profile(path)


# -- 4. files in any state: profile, track, engine, model (exit 2, the file named) -------------------
def _file_cases(tmp_path, tiny_model, tiny_engine):
    from jetracer.engine.fileformat import encode_engine, read_engine_file

    not_utf8 = tmp_path / "latin1.toml"
    not_utf8.write_bytes(b'[car]\nname = "voiture \xe9t\xe9"\n')
    truncated = tmp_path / "cut.toml"
    truncated.write_bytes(b'[car]\nname = "sim"\n[camera\ntype = "si')
    folder_toml = tmp_path / "folder.toml"
    folder_toml.mkdir()
    track_latin1 = tmp_path / "latin1.json"
    track_latin1.write_bytes(b'{"name": "pist\xe9", "width_m": 1.0, "centerline": []}')
    track_cut = tmp_path / "cut.json"
    track_cut.write_text('{"name": "cut", "width_m": 1.0, "centerline": [[0, 0], [1, ')
    track_huge = tmp_path / "huge.json"
    import math

    ring = [[5000 * math.cos(2 * math.pi * i / 400), 5000 * math.sin(2 * math.pi * i / 400)] for i in range(400)]
    track_huge.write_text(json.dumps({"name": "huge", "width_m": 1.0, "centerline": ring}))
    track_folder = tmp_path / "folder.json"
    track_folder.mkdir()
    header, payload = read_engine_file(tiny_engine)
    edited = tmp_path / "edited.engine"
    edited.write_bytes(encode_engine(dict(header, input_size=[64, 6000000]), payload))
    zero_std = tmp_path / "zero_std.engine"
    zero_std.write_bytes(encode_engine(dict(header, std=[0, 0, 0]), payload))
    hand_edited = tmp_path / "hand_edited.engine"  # a text editor changed the header's length
    hand_edited.write_bytes(tiny_engine.read_bytes().replace(b'"precision": "fp32"', b'"precision": "fp32-fast"', 1))
    cut_engine = tmp_path / "cut.engine"
    cut_engine.write_bytes(tiny_engine.read_bytes()[:-100])
    text_engine = tmp_path / "notes.engine"
    text_engine.write_text("not an engine\n")
    cut_model = tmp_path / "cut.pth"
    cut_model.write_bytes(tiny_model.read_bytes()[:500])
    sim = ["--profile", "sim"]
    return [
        (EXPERT + ["--profile", not_utf8, "--duration", "0.1"], "not UTF-8"),
        (EXPERT + ["--profile", truncated, "--duration", "0.1"], "not valid TOML"),
        (EXPERT + ["--profile", folder_toml, "--duration", "0.1"], "is a folder"),
        (EXPERT + ["--track", track_latin1, "--duration", "0.1"], "not UTF-8"),
        (EXPERT + ["--track", track_cut, "--duration", "0.1"], "not valid JSON"),
        (EXPERT + ["--track", track_huge, "--duration", "0.1"], "at most 40 m"),
        (EXPERT + ["--track", track_folder, "--duration", "0.1"], "cannot read track file"),
        (["drive", "--sim"] + sim + ["--engine", edited, "--duration", "0.1"], "input_size"),
        (["drive", "--sim"] + sim + ["--engine", zero_std, "--duration", "0.1"], "std"),
        (["drive", "--sim"] + sim + ["--engine", hand_edited, "--duration", "0.1"], "rebuild"),
        (["drive", "--sim"] + sim + ["--engine", cut_engine, "--duration", "0.1"], "truncated"),
        (["drive", "--sim"] + sim + ["--engine", text_engine, "--duration", "0.1"], "neither"),
        (["drive", "--sim"] + sim + ["--engine", cut_model, "--duration", "0.1"], "cut.pth"),
        (["optimize", cut_model, "--backend", "torch", "--out", tmp_path / "x.engine"], "cut.pth"),
        (["collect", "--sim", "--frames", "2", "--track", track_latin1, "--out", tmp_path / "d"], "not UTF-8"),
        (["teleop", "--sim", "--profile", not_utf8, "--duration", "0.1"], "not UTF-8"),
        (["stop", "--profile", not_utf8], "not UTF-8"),
        (["battery", "--profile", not_utf8], "not UTF-8"),
    ]


@pytest.mark.parametrize("index", range(18))
def test_damaged_input_files_are_one_line_naming_the_file(index, tmp_path, capsys, tiny_model, tiny_engine,
                                                          monkeypatch):
    monkeypatch.setenv("JETRACER_SIM_STATE", str(tmp_path / "state"))
    argv, words = _file_cases(tmp_path, tiny_model, tiny_engine)[index]
    before = hashes(tmp_path, tiny_model, tiny_engine)
    code, err = run_cli(argv, capsys)
    assert_one_line(code, err, 2, words)
    after = hashes(tmp_path, tiny_model, tiny_engine)
    assert {k: v for k, v in after.items() if "/state/" not in k} == {
        k: v for k, v in before.items() if "/state/" not in k}
    assert not (tmp_path / "x.engine").exists() and not (tmp_path / "d").exists()


def test_unknown_device_is_one_usage_line(dataset, tmp_path, capsys):
    code, err = run_cli(["train", dataset, "--arch", "tiny", "--out", tmp_path / "m.pth", "--device", "gpu"], capsys)
    assert_one_line(code, err, 2, "--device 'gpu'", "cuda:N")
    assert not (tmp_path / "m.pth").exists()


def test_a_gpu_that_is_not_there_is_one_line(dataset, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        device, words = "cuda:%d" % torch.cuda.device_count(), "numbered from 0"
    else:
        device, words = "cuda:0", "sees none"
    code, err = run_cli(["train", dataset, "--arch", "tiny", "--out", tmp_path / "m.pth", "--device", device], capsys)
    assert_one_line(code, err, 2, words)


# -- 5. faults while driving: metrics still written, neutral on the chip, exit 3 ---------------------
def test_a_bus_that_raises_something_other_than_oserror_is_an_i2c_fault(tmp_path, capsys, monkeypatch):
    from jetracer.i2c.bus import VirtualI2C

    real_write = VirtualI2C.writeto
    calls = {"n": 0}

    def glitching_write(self, address, buffer, **kw):
        calls["n"] += address == 0x40
        if address == 0x40 and 60 <= calls["n"] < 62:  # a bus library's own exception type, twice, then ok
            raise RuntimeError("bus arbitration lost")
        return real_write(self, address, buffer, **kw)

    monkeypatch.setattr(VirtualI2C, "writeto", glitching_write)
    metrics_file = tmp_path / "m.json"
    code, err = run_cli(EXPERT + ["--duration", "5", "--metrics-json", metrics_file], capsys)
    assert code == 3 and "Traceback" not in err
    metrics = json.loads(metrics_file.read_text())
    assert metrics["stop_reason"] == "i2c_error"
    assert abs(metrics["final_pwm_us"]["throttle"] - NEUTRAL) <= TICK


def test_an_unexpected_exception_in_a_drive_still_writes_metrics_and_exits_3(tmp_path, capsys, monkeypatch):
    from jetracer.sim.world import SimWorld

    real_step = SimWorld.step
    steps = {"n": 0}

    def failing_step(self, dt):
        steps["n"] += 1
        if steps["n"] == 20:
            raise ZeroDivisionError("float division by zero")
        return real_step(self, dt)

    monkeypatch.setattr(SimWorld, "step", failing_step)
    metrics_file = tmp_path / "m.json"
    code, err = run_cli(EXPERT + ["--duration", "5", "--metrics-json", metrics_file], capsys)
    assert code == 3 and "Traceback" not in err
    metrics = json.loads(metrics_file.read_text())
    assert metrics["stop_reason"] == "error" and "ZeroDivisionError" in metrics["error"]
    assert abs(metrics["final_pwm_us"]["throttle"] - NEUTRAL) <= TICK
    assert 0 < metrics["frames"] < 20


def test_an_unexpected_exception_elsewhere_is_one_line_exit_3(capsys, monkeypatch):
    import jetracer.commands.stop as stop

    monkeypatch.setattr(stop, "run", lambda args: {}["boom"])
    code, err = run_cli(["stop", "--sim"], capsys)
    assert_one_line(code, err, 3, "unexpected KeyError", "-v")


def test_a_telemetry_log_in_a_file_path_is_one_line(tmp_path, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("precious")
    profile = write_profile(tmp_path, '[pilot]\nlog_path = "%s"\n' % (a_file / "t.jsonl"))
    before = hashes(tmp_path)
    code, err = run_cli(EXPERT + ["--profile", profile, "--duration", "0.1"], capsys)
    assert_one_line(code, err, 2, "telemetry log", "is a file, not a folder")
    assert hashes(tmp_path) == before


# -- 6. a full disk: one line, exit 3, the previous file whole --------------------------------------
def test_collect_on_a_full_disk(full_disk, capsys):
    old = full_disk.root / "data" / "apex"
    old.mkdir(parents=True)
    (old / "1_2_old.jpg").write_bytes(b"\xff\xd8 an earlier sample")
    full_disk.fill()
    before = hashes(full_disk.root / "data")
    code, err = run_cli(["collect", "--sim", "--frames", "3", "--out", full_disk.root / "data"], capsys)
    assert_one_error_line(code, err, 3, "disk full")
    assert hashes(full_disk.root / "data") == before
    assert not [p for p in old.iterdir() if p.name.startswith(".")]  # no temp file left


def test_train_on_a_full_disk_keeps_the_previous_model(full_disk, dataset, capsys):
    model = full_disk.root / "road.pth"
    model.write_bytes(b"the previous model")
    full_disk.fill()
    code, err = run_cli(["train", dataset, "--arch", "tiny", "--epochs", "1", "--batch-size", "4", "--workers", "0",
                         "--device", "cpu", "--out", model], capsys)
    assert_one_error_line(code, err, 3, "disk full", str(full_disk.root))
    assert model.read_bytes() == b"the previous model"
    assert not [p for p in full_disk.root.iterdir() if p.name.startswith(".")]


def test_optimize_on_a_full_disk_keeps_the_previous_engine(full_disk, tiny_model, capsys):
    engine = full_disk.root / "road.engine"
    engine.write_bytes(b"the previous engine")
    full_disk.fill()
    code, err = run_cli(["optimize", tiny_model, "--backend", "torch", "--precision", "fp32", "--frames", "2",
                         "--out", engine], capsys)
    assert_one_line(code, err, 3, "disk full", "road.engine")
    assert engine.read_bytes() == b"the previous engine"


def test_drive_metrics_on_a_full_disk_keep_the_previous_file(full_disk, capsys):
    metrics = full_disk.root / "m.json"
    metrics.write_text('{"old": true}')
    full_disk.fill()
    code, err = run_cli(EXPERT + ["--duration", "0.2", "--metrics-json", metrics], capsys)
    assert_one_line(code, err, 3, "disk full", "m.json")
    assert metrics.read_text() == '{"old": true}'


def test_a_gif_video_on_a_full_disk_is_reported_after_the_metrics(full_disk, tmp_path, capsys):
    video = full_disk.root / "v.gif"
    video.write_bytes(b"GIF89a the previous video")
    full_disk.fill()
    metrics = tmp_path / "m.json"
    code, err = run_cli(EXPERT + ["--duration", "0.3", "--video", video, "--metrics-json", metrics], capsys)
    assert_one_line(code, err, 3, "disk full", "v.gif")
    assert video.read_bytes() == b"GIF89a the previous video"
    assert json.loads(metrics.read_text())["stop_reason"] == "duration"


def test_a_telemetry_log_on_a_full_disk_is_reported_once(full_disk, caplog):
    from jetracer.drive.telemetry import Telemetry

    full_disk.fill()
    telemetry = Telemetry(log_path=str(full_disk.root / "t.jsonl"), status_period_s=0)
    with caplog.at_level(logging.ERROR):
        for i in range(200):
            telemetry.record({"seq": i, "latency_ms": 1.0, "note": "x" * 200})
        telemetry.close()
    stopped = [r for r in caplog.records if "telemetry log stopped" in r.getMessage()]
    assert len(stopped) == 1 and "disk full" in stopped[0].getMessage()


def test_atomic_writer_turns_enospc_into_one_line_without_root(tmp_path, monkeypatch):
    """Where no tmpfs can be mounted: the same path through a simulated ENOSPC on fsync."""
    from jetracer.errors import OutputError
    from jetracer.util.atomic import atomic_write_bytes

    target = tmp_path / "m.json"
    target.write_text("old")

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OutputError) as info:
        atomic_write_bytes(target, b"new")
    assert info.value.exit_code == 3 and "disk full writing %s" % target in str(info.value)
    assert "\n" not in str(info.value)
    monkeypatch.undo()
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]


# -- 7. data hygiene: nothing trains silently wrong ------------------------------------------------
def test_empty_category_folder_is_ignored_with_a_warning(tmp_path, caplog):
    save_sample(tmp_path, "road", dot_image(100, 100), 100, 100)
    (tmp_path / "aaa_empty").mkdir()  # sorts first: it would have become category 0
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not a sample")
    with caplog.at_level(logging.WARNING):
        assert find_categories([tmp_path]) == ["road"]
        ds = XYDataset([tmp_path], input_size=(64, 64))
    assert ds.categories == ["road"] and ds[0][1] == 0
    assert str(tmp_path / "aaa_empty") in caplog.text and str(tmp_path / "notes") in caplog.text


def test_bad_labels_small_images_and_duplicates_are_skipped_naming_each(tmp_path, caplog):
    good = [save_sample(tmp_path, "apex", dot_image(30 + 10 * i, 100), 30 + 10 * i, 100) for i in range(3)]
    outside = save_sample(tmp_path, "apex", dot_image(100, 100), 400, 100)     # x past the 224 px image
    negative = save_sample(tmp_path, "apex", dot_image(100, 100), 100, -5)
    tiny = save_sample(tmp_path, "apex", dot_image(0, 0, size=(1, 1)), 0, 0)    # a 1x1 image
    # Of byte-identical files the first by name is kept. The uuid1 part of a saved name follows the clock,
    # so the copy's name starts with "z" (after any hex digit) to be the later one on any day.
    copy = tmp_path / "apex" / ("%d_%d_zz-copy.jpg" % (40, 100))
    copy.write_bytes(good[1].read_bytes())
    with caplog.at_level(logging.WARNING):
        ds = XYDataset([tmp_path], input_size=(64, 64))
    assert sorted(s.path for s in ds.samples) == sorted(good)
    summary = ds.summary()
    assert summary["samples"] == 3
    assert summary["skipped"] == {"label_outside": 2, "too_small": 1, "duplicate": 1}
    assert summary["skipped_files"] == 4
    text = caplog.text
    for path in (outside, negative, tiny, copy):
        assert str(path) in text
    assert "outside the image" in text and "smaller than the network input" in text and "already in" in text
    assert "skipped 4 of 7 files" in text


def test_the_same_folder_twice_counts_once(tmp_path):
    for i in range(3):
        save_sample(tmp_path, "apex", dot_image(30 + 10 * i, 100), 30 + 10 * i, 100)
    ds = XYDataset([tmp_path, tmp_path], input_size=(64, 64))
    assert len(ds) == 3 and ds.summary()["skipped"] == {"duplicate": 3}


def test_training_on_only_thumbnails_is_one_line(tmp_path, capsys):
    for i in range(4):
        save_sample(tmp_path / "xy", "apex", dot_image(0, 0, size=(8, 8)), i, 4)
    before = hashes(tmp_path)
    code, err = run_cli(["train", tmp_path / "xy", "--arch", "tiny", "--out", tmp_path / "m.pth"], capsys)
    assert_one_line(code, err, 2, "no usable samples", "smaller than the network input")
    assert hashes(tmp_path) == before


# -- 8. a few real processes: what systemd and a shell see -------------------------------------------
def _run(argv, cwd, timeout=60):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen([sys.executable, "-m", "jetracer"] + [str(a) for a in argv], cwd=str(cwd), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


@pytest.mark.parametrize("argv,code,words", [
    (EXPERT + ["--duration", "nan"], 2, "--duration"),
    (EXPERT + ["--seed", "-1", "--duration", "1"], 2, "--seed"),
    (["drive", "--sim", "--profile", "latin1.toml", "--pilot", "expert", "--duration", "1"], 2, "not UTF-8"),
    (EXPERT + ["--duration", "0.1", "--metrics-json", "."], 2, "is a folder"),
], ids=["duration nan", "negative seed", "latin-1 profile", "metrics into a folder"])
def test_real_process_bad_inputs(argv, code, words, tmp_path):
    (tmp_path / "latin1.toml").write_bytes(b'[car]\nname = "voiture \xe9t\xe9"\n')
    before = hashes(tmp_path)
    got, err = _run(argv, tmp_path)
    assert_one_line(got, err, code, words)
    assert hashes(tmp_path) == before


@pytest.mark.parametrize("field,value", [("input_size", [64, 10 ** 7]), ("std", [0.2, 0.0, 0.2]),
                                         ("categories", "apex"), ("version", "2"), ("mean", [0.5])])
def test_an_edited_checkpoint_is_one_line_naming_the_field(field, value, tiny_model, tmp_path, capsys):
    import torch

    try:
        obj = torch.load(str(tiny_model), map_location="cpu", weights_only=True)
    except TypeError:  # torch < 1.13 (JetPack 4)
        obj = torch.load(str(tiny_model), map_location="cpu")
    obj[field] = value
    edited = tmp_path / "edited.pth"
    torch.save(obj, str(edited))
    before = hashes(tmp_path)
    code, err = run_cli(["optimize", edited, "--backend", "torch", "--out", tmp_path / "x.engine"], capsys)
    assert_one_line(code, err, 2, "edited.pth", field if field != "version" else "version")
    assert hashes(tmp_path) == before


def test_a_video_opencv_cannot_write_is_reported_after_the_drive(tmp_path, capsys, monkeypatch):
    """OpenCV without an mp4 encoder opens no writer and says nothing: the drive goes on, the run
    ends with one line and exit 3 (was: exit 0 and no file), and the previous video is whole."""
    import cv2

    class NoCodec:
        def __init__(self, *args):
            pass

        def isOpened(self):
            return False

        def release(self):
            pass

    monkeypatch.setattr(cv2, "VideoWriter", NoCodec)
    video = tmp_path / "run.mp4"
    video.write_bytes(b"the previous video")
    metrics = tmp_path / "m.json"
    code, err = run_cli(EXPERT + ["--duration", "0.3", "--video", video, "--metrics-json", metrics], capsys)
    assert_one_line(code, err, 3, "run.mp4", "cannot write")
    assert video.read_bytes() == b"the previous video"
    assert json.loads(metrics.read_text())["stop_reason"] == "duration"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "run.mp4"]  # no temp file left
