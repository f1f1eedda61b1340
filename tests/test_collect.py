"""`jetracer collect --sim`: expert labels a careful person would click, recovery included."""

import json
import math

import numpy as np
import pytest
from PIL import Image

from jetracer.cli import main
from jetracer.data.sim_collect import aim_point
from jetracer.data.xy import list_samples
from jetracer.profile import load_profile, make_car
from jetracer.sim.run import drive_lockstep
from jetracer.sim.world import SimWorld


def _straight_pose(world, offset_m=0.0, heading_deg=0.0):
    track = world.track
    s = next(s for s in np.arange(0.0, track.length, 0.1) if all(
        abs(track.curvature_at(s + d)) < 0.02 for d in np.arange(-0.5, 2.0, 0.1)))
    x, y = track.point_at(s)
    nx, ny = track.normal_at(s)
    return (x + nx * offset_m, y + ny * offset_m, track.heading_at(s) + math.radians(heading_deg))


def test_aim_point_is_where_the_road_leads():
    world = SimWorld("sim", track="oval", seed=0, randomize=False)
    world.reset(_straight_pose(world))
    u, v = aim_point(world)
    assert abs(u - 111.5) < 4 and v < 112  # dead ahead, up the picture
    world.reset(_straight_pose(world, offset_m=0.3))  # car left of the centreline: aim right
    assert aim_point(world)[0] > u + 15
    world.reset(_straight_pose(world, offset_m=-0.3))  # right of it: aim left
    assert aim_point(world)[0] < u - 15
    world.reset(_straight_pose(world, heading_deg=20))  # nose turned left: aim right
    assert aim_point(world)[0] > u + 15


def test_labels_steer_the_car_round_the_track():
    """The labels are a controller: steering = x * gain (the pilot's law) drives clean laps."""
    profile = load_profile("sim", sim=True)
    world = SimWorld(profile, track="oval", seed=0, randomize=False)
    car = make_car(profile, i2c=world.bus)
    gain = profile.pilot["steering_gain"]

    def label_pilot(frame):
        u, _ = aim_point(world, s_hint=world.metrics.s)
        return max(-1.0, min(1.0, gain * 2.0 * (u / 224.0 - 0.5))), profile.pilot["throttle"]

    summary = drive_lockstep(world, car, label_pilot, laps=2, render=False)
    assert summary["stop_reason"] == "laps" and summary["laps_completed"] == 2
    assert summary["off_track_events"] == 0 and summary["max_abs_cte_m"] < 0.2


def test_collect_writes_a_jetracer_dataset_with_recovery(tmp_path, capsys):
    out = tmp_path / "data"
    assert main(["collect", "--sim", "--track", "oval", "--frames", "120", "--out", str(out), "--seed", "3"]) == 0
    assert "wrote 120 samples" in capsys.readouterr().err
    samples, categories, skipped = list_samples([out])
    assert categories == ["apex"] and len(samples) == 120 and skipped == []
    assert Image.open(samples[0].path).size == (224, 224)
    xs = np.array([s.x for s in samples]) / 112.0 - 1.0
    assert ((xs > -1) & (xs < 1)).all()
    info = json.loads((out / "collect-oval-seed3.json").read_text())
    assert info["frames"] == 120 and info["episodes"] > 3 and info["randomize"] is True
    # Recovery: a good share of frames see the car off the line, and their labels aim back both ways.
    assert info["recovery_frames"] > 0.3 * 120
    assert (xs < -0.3).sum() > 3 and xs.max() > 0.1


def test_collect_is_deterministic_per_seed(tmp_path):
    labels = []
    for name in ("a", "b"):
        assert main(["collect", "--sim", "--frames", "30", "--out", str(tmp_path / name), "--seed", "5"]) == 0
        labels.append(sorted((s.x, s.y) for s in list_samples([tmp_path / name])[0]))
    assert labels[0] == labels[1]


def test_tape_share_without_randomisation_is_one_usage_line(tmp_path, capsys):
    out = tmp_path / "never"
    assert main(["collect", "--sim", "--frames", "5", "--out", str(out), "--tape-share", "0.5", "--no-randomize"]) == 2
    err = capsys.readouterr().err
    assert "--no-randomize" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_collect_tape_share_changes_the_pictures_and_records_the_share(tmp_path):
    pictures = {}
    for share in ("0", "1"):
        out = tmp_path / share
        assert main(["collect", "--sim", "--frames", "12", "--out", str(out), "--seed", "5",
                     "--tape-share", share]) == 0
        assert json.loads((out / "collect-oval-seed5.json").read_text())["tape_share"] == float(share)
        samples = sorted(list_samples([out])[0], key=lambda s: (s.x, s.y))
        pictures[share] = [np.asarray(Image.open(s.path), dtype=float) for s in samples]
    # same seed, same episodes: what differs is the room, so the pictures are new
    assert np.mean([np.abs(a - b).mean() for a, b in zip(pictures["0"], pictures["1"])]) > 10


@pytest.mark.parametrize("argv", [["--frames", "10", "--out", "x"], ["--sim", "--frames", "0", "--out", "x"],
                                  ["--sim", "--frames", "10"], ["--sim", "--frames", "10", "--out", "x",
                                                                "--tape-share", "1.5"]])
def test_bad_collect_arguments_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        main(["collect"] + argv)
    assert exc.value.code == 2


#: what `collect(..., 24, track="oval", seed=11)` wrote before it drove through the Pilot (its own loop)
SEED_11_XY = [(50, 82), (51, 82), (52, 82), (53, 82), (53, 82), (57, 81), (69, 80), (73, 102), (78, 101), (83, 101),
              (88, 101), (90, 78), (93, 100), (97, 100), (104, 100), (112, 99), (119, 99), (123, 99), (123, 99),
              (124, 99), (124, 99), (127, 99), (128, 99), (128, 99)]
SEED_11_SPEEDS = [3.201, 3.202, 3.203, 3.203, 3.203, 3.204, 3.204, 3.205, 3.205, 3.205, 3.205, 3.205, 3.206, 3.206,
                  3.207, 3.207, 3.656, 3.737, 3.811, 3.876, 3.932, 3.977, 4.012, 4.026]


def test_collect_through_the_pilot_writes_the_labels_it_always_wrote(tmp_path):
    from jetracer.data.sim_collect import collect

    collect(tmp_path, 24, track="oval", seed=11)
    assert sorted((s.x, s.y) for s in list_samples([tmp_path])[0]) == SEED_11_XY
    sidecar = json.loads((tmp_path / "apex" / "labels.json").read_text())["labels"]
    assert sorted(v["speed_mps"] for v in sidecar.values()) == SEED_11_SPEEDS


def test_a_failure_while_collecting_is_raised_not_swallowed_by_the_pilot(tmp_path, monkeypatch):
    """The pilot turns a policy's exception into a stop; collect still reports the cause itself."""
    import jetracer.data.sim_collect as collect_module

    calls = []
    real = collect_module.save_sample

    def disk_fills_up(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(collect_module, "save_sample", disk_fills_up)
    with pytest.raises(OSError, match="No space left"):
        collect_module.collect(tmp_path, 50, track="oval", seed=1)
    assert len(list_samples([tmp_path])[0]) == 4  # what was written before stays


def test_ctrl_c_while_collecting_ends_the_collection(tmp_path, monkeypatch):
    import jetracer.data.sim_collect as collect_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(collect_module, "save_sample", interrupted)
    with pytest.raises(KeyboardInterrupt):
        collect_module.collect(tmp_path, 50, track="oval", seed=1)
