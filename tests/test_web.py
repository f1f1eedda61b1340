"""The web app's rules without a browser: login token and gate, the dead-man and control rules on
the simulated car (pulse widths read back from the PCA9685 twin), request checks, dataset paths,
telemetry logs in any state, the frame stream, the systemd unit."""

import json
import math
import os
import stat
import time

import pytest

from jetracer.profile import Profile, ProfileError, load_profile
from jetracer.web.auth import LoginGate, load_or_create_token
from jetracer.web.dataset import DatasetFolder, DatasetRequestError
from jetracer.web.runs import load_run
from jetracer.web.session import CommandError, WebSession, assemble

NEUTRAL = 1500.0


# -- login -------------------------------------------------------------------------------------------
def test_token_is_made_once_private_and_announced_once(tmp_path):
    path = tmp_path / "cfg" / "web-token"
    told = []
    token, created = load_or_create_token(path, announce=lambda t, p: told.append(t))
    assert created and told == [token] and len(token) >= 12
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created = load_or_create_token(path, announce=lambda t, p: told.append(t))
    assert again == token and not created and told == [token]
    os.chmod(str(path), 0o644)  # someone loosened it: tightened again
    load_or_create_token(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_wrong_tokens_are_refused_counted_and_rate_limited():
    now = [0.0]
    gate = LoginGate("right-token-123", max_failures=3, window_s=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert gate.login("10.0.0.9", "guess") is None
    assert gate.failures == 3
    assert gate.login("10.0.0.9", "right-token-123") is None  # locked out: not even checked
    assert gate.refused == 1 and gate.locked_out("10.0.0.9") > 0
    session = gate.login("10.0.0.7", "right-token-123")  # another address is not locked out
    assert gate.valid(session) and not gate.valid("made-up") and not gate.valid("")
    now[0] = 61.0
    assert gate.valid(gate.login("10.0.0.9", "right-token-123"))
    gate.logout(session)
    assert not gate.valid(session)


def test_profile_web_section_checked():
    assert load_profile("sim").web["deadman_s"] == 0.5
    with pytest.raises(ProfileError, match="deadman_s"):
        Profile({"web": {"deadman_s": 0.0}})
    with pytest.raises(ProfileError, match="token"):
        Profile({"web": {"token": "short"}})


# -- driving rules on the simulated car --------------------------------------------------------------
class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


@pytest.fixture
def web():
    profile = load_profile("sim")
    parts = assemble(profile, sim=True)
    clock = Clock()
    session = WebSession(parts, deadman_s=0.5, max_throttle=0.5, throttle_cap=0.5, clock=clock)
    session.clock_ = clock
    assert parts.camera.wait_frame(0, timeout=5) is not None
    yield session
    session.close()


def throttle_us(session):
    return session.car.pulse_widths_us()["throttle"]


def test_claimed_page_drives_and_silence_past_the_deadman_stops_it(web):
    assert web.claim(1) and not web.claim(2)  # one controlling page; the other watches
    web.drive(1, 0.0, 0.0)
    web.drive(1, 0.0, 1.0)
    web.step()
    assert throttle_us(web) > NEUTRAL + 20
    web.clock_.t += 0.4
    web.step()
    assert throttle_us(web) > NEUTRAL + 20  # within the dead-man
    web.clock_.t += 0.2
    web.step()
    assert abs(throttle_us(web) - NEUTRAL) < 3 and web.controller_id is None
    with pytest.raises(CommandError, match="control"):
        web.drive(1, 0.0, 1.0)  # the page must claim again


def test_a_new_claim_never_drives_off_on_a_held_throttle(web):
    web.claim(1)
    web.drive(1, 0.0, 1.0)  # held when the page got control
    web.step()
    assert abs(throttle_us(web) - NEUTRAL) < 3
    web.drive(1, 0.0, 0.0)
    web.drive(1, 0.0, 1.0)
    web.step()
    assert throttle_us(web) > NEUTRAL + 20
    web.release(1, "page hidden")
    web.claim(1)
    web.drive(1, 0.0, 1.0)
    web.step()
    assert abs(throttle_us(web) - NEUTRAL) < 3


def test_estop_latches_until_the_controlling_page_releases_it(web):
    web.claim(1)
    web.drive(1, 0.0, 0.0)
    web.estop("watcher pressed STOP")  # any logged-in page may
    web.drive(1, 0.0, 1.0)
    web.step()
    assert abs(throttle_us(web) - NEUTRAL) < 3 and web.pilot.mode == "stopped"
    with pytest.raises(CommandError, match="release"):
        web.set_mode(1, "auto")
    with pytest.raises(CommandError):
        web.release_estop(2)
    with pytest.raises(CommandError, match="release the throttle"):
        web.release_estop(1)  # the throttle is still held
    web.drive(1, 0.0, 0.0)
    web.release_estop(1)
    web.drive(1, 0.0, 0.0)
    web.drive(1, 0.0, 1.0)
    web.step()
    assert web.pilot.mode == "manual" and throttle_us(web) > NEUTRAL + 20


def test_auto_mode_is_estopped_when_the_page_goes(web):
    web.claim(1)
    web.set_mode(1, "auto")
    web.release(1, "page closed")
    assert web.pilot.mode == "stopped"


@pytest.mark.parametrize("steering, throttle", [(float("nan"), 0.0), (0.0, float("inf")), (0.0, 1.5), ("1", 0.0),
                                                (True, 0.0), (None, 0.0), (0.0, 1e308)])
def test_bad_numbers_are_refused(web, steering, throttle):
    web.claim(1)
    with pytest.raises(CommandError):
        web.drive(1, steering, throttle)


def test_bad_mode_and_cap_are_refused(web):
    web.claim(1)
    for mode in ("turbo", "stopped", None, 3):
        with pytest.raises(CommandError):
            web.set_mode(1, mode)
    for cap in (0.6, -0.1, float("nan"), "0.3"):
        with pytest.raises(CommandError):
            web.set_cap(1, cap)
    web.set_cap(1, 0.2)
    assert web.teleop.throttle_scale == pytest.approx(0.2)


def test_a_stalled_camera_cuts_the_throttle(web):
    web.claim(1)
    web.drive(1, 0.0, 0.0)
    web.drive(1, 0.0, 1.0)
    web.step()
    assert throttle_us(web) > NEUTRAL + 20
    web.camera.freeze()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and throttle_us(web) > NEUTRAL + 3:
        web.clock_.t += 0.01  # the page keeps talking: only the camera is gone
        web.heard(1)
        web.step()
        time.sleep(0.02)
    assert abs(throttle_us(web) - NEUTRAL) < 3


# -- dataset paths -----------------------------------------------------------------------------------
def _image():
    import numpy as np

    return np.full((40, 50, 3), 128, np.uint8)


def test_dataset_delete_restore_relabel(tmp_path):
    data = DatasetFolder(tmp_path / "xy")
    rel = data.save(_image(), "apex", 10, 20)
    assert rel.startswith("apex/10_20_") and (tmp_path / "xy" / rel).is_file()
    new = data.relabel(rel, 30, 5)
    assert new.startswith("apex/30_5_") and new.split("_", 2)[2] == rel.split("_", 2)[2]  # same uuid
    data.delete(new)
    assert not (tmp_path / "xy" / new).exists() and (tmp_path / "xy" / ".trash" / new).is_file()
    assert data.scan()["counts"] == {"apex": 0}
    data.restore(new)
    assert data.scan()["counts"] == {"apex": 1}


@pytest.mark.parametrize("rel", ["../x/1_2_a.jpg", "apex/../../1_2_a.jpg", "/etc/1_2_a.jpg", "apex/passwd",
                                 "apex/1_2_a.jpg/x", "..", "", "apex\\1_2_a.jpg", ".trash/1_2_a.jpg", None, 5])
def test_dataset_paths_outside_are_refused(tmp_path, rel):
    data = DatasetFolder(tmp_path / "xy")
    with pytest.raises(DatasetRequestError):
        data.delete(rel)


def test_dataset_symlinks_leading_out_are_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "1_2_abc.jpg").write_bytes(b"\xff\xd8")
    data = DatasetFolder(tmp_path / "xy")
    os.symlink(str(outside), str(tmp_path / "xy" / "apex"))
    with pytest.raises(DatasetRequestError, match="link"):
        data.delete("apex/1_2_abc.jpg")
    with pytest.raises(DatasetRequestError):
        data.image_bytes("apex/1_2_abc.jpg")
    assert (outside / "1_2_abc.jpg").exists() and data.scan()["samples"] == []


def test_dataset_scan_warns_about_stray_names(tmp_path):
    data = DatasetFolder(tmp_path / "xy")
    data.save(_image(), "apex", 1, 2)
    (tmp_path / "xy" / "apex" / "holiday.jpg").write_bytes(b"x")
    (tmp_path / "xy" / "road following").mkdir()
    listing = data.scan()
    assert listing["counts"] == {"apex": 1} and any("holiday.jpg" in w for w in listing["warnings"])
    assert any("road following" in w for w in listing["warnings"])


# -- telemetry logs ----------------------------------------------------------------------------------
def test_runs_skip_garbage_and_find_the_stop_reason(tmp_path):
    lines = [json.dumps({"t": 0.1 * i, "steering": 0.1, "throttle": 0.2, "latency_ms": 12.0}) for i in range(20)]
    lines += ["{torn", "\xff\xfe not utf-8", json.dumps({"t": float("nan")}), "[1, 2]",
              json.dumps({"event": "fault", "reason": "stale_frame", "detail": "no frame"})]
    (tmp_path / "drive.jsonl").write_bytes("\n".join(lines).encode("latin-1"))
    run = load_run([tmp_path], "drive.jsonl")
    assert run["frames"] == 20 and run["bad_lines"] == 4 and run["stop_reason"] == "stale_frame"
    assert math.isclose(run["fps"][-1], 10.0, rel_tol=0.01)
    with pytest.raises(ValueError):
        load_run([tmp_path], "../drive.jsonl")


# -- frames ------------------------------------------------------------------------------------------
def test_each_frame_is_encoded_once_for_every_watcher():
    from jetracer.sim.world import SimWorld
    from jetracer.web.frames import HEADER, FrameStream

    world = SimWorld("sim")
    camera = world.camera.start()
    stream = FrameStream(camera)
    got = [[], [], []]
    for box in got:
        stream.subscribe(box.append)
    stream.start()
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and len(got[0]) < 5:
            time.sleep(0.02)
    finally:
        stream.stop()
        world.close()
    n = min(len(box) for box in got)
    assert n >= 5 and stream.encoded <= len(got[0]) + 1
    assert got[0][0] is got[1][0] is got[2][0]  # the same bytes for every page
    seq, captured, sent = HEADER.unpack(got[0][0][:HEADER.size])
    assert got[0][0][HEADER.size:HEADER.size + 2] == b"\xff\xd8" and sent >= captured
    assert stream.frame(seq) is not None


# -- service -----------------------------------------------------------------------------------------
def test_web_unit_conflicts_with_the_drive_loop_has_a_watchdog_and_stops_the_car():
    from jetracer.services import ON_DEMAND_UNITS, render_units

    unit = render_units("jetson", "latrax_rally", "/home/jetson/jetracer", groups=[])["jetracer-web.service"]
    assert " web --profile latrax_rally --port 8887" in unit
    assert "Conflicts=jetracer-drive.service" in unit and "ExecStopPost=" in unit and " stop --profile" in unit
    assert "jetracer-web.service" in ON_DEMAND_UNITS
    for line in ("Type=notify", "NotifyAccess=main", "WatchdogSec=2", "RuntimeDirectory=jetracer"):
        assert "\n%s\n" % line in unit  # a frozen server is killed, then ExecStopPost writes neutral


def test_the_oled_shows_how_to_log_in(tmp_path, monkeypatch):
    from jetracer.cli import main
    from jetracer.commands.display import _web_login
    from jetracer.status.display import StatusDisplay

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    profile = load_profile("sim")
    assert _web_login(profile) is None  # the display never makes a token
    token, _ = load_or_create_token(tmp_path / "jetracer" / "web-token")
    assert _web_login(profile) == (8887, token)
    display = StatusDisplay(sysinfo=type("S", (), {"snapshot": lambda self: {}})(), height=64)
    display.web_login = (8887, token)
    rows, _ = display.compose(info={})
    assert ("KEY %s" % token, False) in rows
    assert main(["display", "--sim", "--snapshot", str(tmp_path / "oled.png")]) == 0


def test_web_command_bad_inputs_are_one_line(tmp_path, monkeypatch, capsys):
    from jetracer.cli import main

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.chdir(tmp_path)
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    assert main(["web", "--sim", "--data", str(not_a_folder / "xy")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: dataset folder") and "\n" not in err
    assert main(["web", "--sim", "--runs", str(not_a_folder / "runs")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: telemetry folder") and "\n" not in err
    with pytest.raises(SystemExit) as exit_info:
        main(["web", "--sim", "--port", "0"])
    assert exit_info.value.code == 2
