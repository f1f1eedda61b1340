"""A model knows its input: JetRacer's plain state_dicts are read in JetRacer's convention (the BGR
camera frame, never swapped, ImageNet mean/std in RGB order), our checkpoints keep what they
record, every backend and the bench's reference honour it, and `jetracer export` hands our models
to JetRacer's notebooks."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from jetracer_reference import jetracer_load, jetracer_steer

from jetracer.cli import main
from jetracer.engine import load_engine
from jetracer.engine.backends import have
from jetracer.engine.benchmark import ReferencePipeline
from jetracer.engine.fold import convert_convention, normalise_frames, to_jetracer_convention
from jetracer.engine.frames import sim_frames
from jetracer.errors import ModelError
from jetracer.models import build_model, load_model, save_checkpoint
from jetracer.models.checkpoint import load_checkpoint
from jetracer.models.convention import IMAGENET_MEAN, IMAGENET_STD, JETRACER, describe, input_convention

SHIPPED = Path(__file__).resolve().parent.parent / "models" / "road_following_resnet18.pth"
BACKENDS = ["torch"] + (["onnxruntime"] if have("onnxruntime") and have("onnx") else [])
#: Our RGB file of a JetRacer network: the same statistics on the same colours, its first layer's input
#: channels permuted. It is the same function of the camera frame, exactly.
RGB_SAME_STATS = {"channel_order": "RGB", "mean": list(IMAGENET_MEAN[::-1]), "std": list(IMAGENET_STD[::-1])}


@pytest.fixture(scope="module")
def frames():
    return sim_frames(12, (224, 224), seed=5)


@pytest.fixture(scope="module")
def shipped():
    return load_model(SHIPPED)


@pytest.fixture(scope="module")
def jetracer_net(shipped):
    """A road-following network in JetRacer's convention (the shipped one, converted)."""
    model, meta, was = to_jetracer_convention(*shipped)
    assert was == "RGB"
    return model


def steer(engine, frames):
    return np.array([engine(f)[0] for f in frames])


def test_plain_state_dict_is_read_in_jetracers_convention(tmp_path, jetracer_net):
    path = tmp_path / "road_following_model.pth"
    torch.save(jetracer_net.state_dict(), str(path))
    _, meta = load_checkpoint(path)
    assert meta["channel_order"] == "BGR" and meta["mean"] == [0.485, 0.456, 0.406]
    assert "224x224 BGR (JetRacer's)" in describe(meta)


@pytest.mark.parametrize("backend", BACKENDS)
def test_one_network_in_both_conventions_steers_the_same(tmp_path, frames, jetracer_net, backend):
    plain = tmp_path / "road_following_model.pth"
    torch.save(jetracer_net.state_dict(), str(plain))  # as JetRacer's notebook saves it
    ours = tmp_path / "ours.pth"
    save_checkpoint(ours, convert_convention(jetracer_net, JETRACER, RGB_SAME_STATS),
                    dict(RGB_SAME_STATS, arch="resnet18"))
    a = steer(load_engine(plain, backend=backend), frames)
    b = steer(load_engine(ours, backend=backend), frames)
    assert np.abs(a - b).max() < 1e-3
    truth = jetracer_steer(jetracer_net, frames)  # JetRacer's own steps on the same frames
    assert np.abs(a - truth).max() < 1e-3
    with torch.no_grad():  # and the frames tell the conventions apart: red/blue swapped steers elsewhere
        swapped = jetracer_net(torch.from_numpy(normalise_frames(np.stack(frames), channel_order="RGB"))).numpy()
    assert np.abs(swapped[:, 0] - truth).max() > 0.05


def test_our_checkpoints_keep_the_convention_they_record(tmp_path):
    model = build_model("tiny")
    for order in ("BGR", "RGB"):
        save_checkpoint(tmp_path / "m.pth", model, {"arch": "tiny", "channel_order": order.lower()})
        assert load_model(tmp_path / "m.pth")[1]["channel_order"] == order
    with pytest.raises(ModelError, match="channel_order 'RGX'"):
        save_checkpoint(tmp_path / "bad.pth", model, {"arch": "tiny", "channel_order": "RGX"})
    for bad in ({"std": [0.2, 0.0, 0.2]}, {"mean": [float("nan")] * 3}, {"mean": "abc"}, {"input_size": [0, 5]}):
        with pytest.raises(ModelError):
            input_convention(bad)


def test_trained_checkpoints_say_rgb(shipped):
    assert shipped[1]["channel_order"] == "RGB"  # jetracer train's convention, recorded in the file


def test_bench_reference_is_jetracers_steps_exactly(frames, jetracer_net, shipped):
    ref = ReferencePipeline(jetracer_net, dict(JETRACER, input_size=[224, 224]))
    try:
        got = np.array([ref.step(f)[1] for f in frames])
    finally:
        ref.close()
    assert ref.converted_from is None
    assert np.abs(got - jetracer_steer(jetracer_net, frames)).max() < 1e-5
    # a model trained RGB runs there as JetRacer would be given it (converted), close to the model itself
    model, meta = shipped
    ref = ReferencePipeline(model, meta)
    try:
        converted = np.array([ref.step(f)[1] for f in frames])
    finally:
        ref.close()
    assert ref.converted_from == "RGB"
    own = steer(load_engine(SHIPPED, backend="torch"), frames)
    assert np.abs(converted - own).max() < 0.02


def test_export_jetracer_loads_in_jetracers_code_and_steers_like_ours(tmp_path, frames):
    out = tmp_path / "road_following_model.pth"
    assert main(["export", str(SHIPPED), "--format", "jetracer", "--out", str(out)]) == 0
    theirs = jetracer_steer(jetracer_load(out), frames)
    ours = steer(load_engine(SHIPPED, backend="torch"), frames)
    # exact but for the first layer's border ring (the padding is another pixel in each convention)
    assert np.abs(theirs - ours).max() < 0.02 and np.abs(theirs - ours).mean() < 0.005
    assert np.abs(steer(load_engine(out, backend="torch"), frames) - theirs).max() < 1e-3  # and we read it back


def test_export_of_a_jetracer_network_is_exact(tmp_path, frames, jetracer_net):
    ours = tmp_path / "ours.pth"
    save_checkpoint(ours, convert_convention(jetracer_net, JETRACER, RGB_SAME_STATS),
                    dict(RGB_SAME_STATS, arch="resnet18"))
    out = tmp_path / "road_following_model.pth"
    assert main(["export", str(ours), "--format", "jetracer", "--out", str(out)]) == 0
    assert np.abs(jetracer_steer(jetracer_load(out), frames) - jetracer_steer(jetracer_net, frames)).max() < 1e-3


def test_export_keeps_every_category_and_refuses_other_networks(tmp_path, capsys):
    two = tmp_path / "two.pth"
    save_checkpoint(two, build_model("resnet18", 2), {"arch": "resnet18", "categories": ["apex", "corner"],
                                                      "channel_order": "RGB"})
    out = tmp_path / "road_following_model.pth"
    assert main(["export", str(two), "--format", "jetracer", "--out", str(out)]) == 0
    assert "Linear(512, 4)" in capsys.readouterr().out
    jetracer_load(out, outputs=4)  # JetRacer's fc = Linear(512, 2 * len(CATEGORIES))
    tiny = tmp_path / "tiny.pth"
    save_checkpoint(tiny, build_model("tiny"), {"arch": "tiny"})
    assert main(["export", str(tiny), "--format", "jetracer", "--out", str(tmp_path / "t.pth")]) == 2
    err = capsys.readouterr().err
    assert "tiny" in err and "--format onnx" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "t.pth").exists()
    assert main(["export", str(tiny), "--format", "jetracer", "--out", str(tmp_path)]) == 2  # a folder
    assert "is a folder" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "missing.pth"), "--format", "onnx", "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.skipif("onnxruntime" not in BACKENDS, reason="needs onnx and onnxruntime")
def test_export_onnx_eats_raw_bgr_frames(tmp_path, frames):
    import onnx
    import onnxruntime

    out = tmp_path / "road_following.onnx"
    assert main(["export", str(SHIPPED), "--format", "onnx", "--out", str(out)]) == 0
    proto = onnx.load(str(out))
    props = {p.key: p.value for p in proto.metadata_props}
    assert props["jetracer.input_channel_order"] == "BGR" and props["jetracer.input_range"] == "0..255"
    assert json.loads(props["jetracer.categories"]) == ["apex"] and "raw pixel values" in proto.doc_string
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    batch = np.stack(frames[:3]).transpose(0, 3, 1, 2).astype(np.float32)  # the frames as they come, N at a time
    xy = session.run(["xy"], {"bgr": batch})[0]
    assert xy.shape == (3, 2)
    assert np.abs(xy[:, 0] - steer(load_engine(SHIPPED, backend="torch"), frames[:3])).max() < 1e-3


@pytest.mark.slow
def test_exported_jetracer_model_drives_the_laps_ours_does(tmp_path):
    exported = tmp_path / "road_following_model.pth"
    assert main(["export", str(SHIPPED), "--format", "jetracer", "--out", str(exported)]) == 0
    backend = ["--backend", "onnxruntime", "--precision", "fp32"] if "onnxruntime" in BACKENDS else ["--backend",
                                                                                                      "torch"]
    results = []
    for model in (SHIPPED, exported):  # the fastest fp32 backend here: about 350 frames each
        metrics = tmp_path / "metrics.json"
        assert main(["drive", "--sim", "--track", "oval", "--laps", "1", "--engine", str(model), "--metrics-json",
                     str(metrics), "--engine-cache", str(tmp_path / "cache")] + backend) == 0
        results.append(json.loads(metrics.read_text()))
    ours, theirs = results
    assert ours["laps_completed"] == theirs["laps_completed"] == 1
    assert theirs["off_track_events"] == 0
    assert abs(theirs["mean_abs_cte_m"] - ours["mean_abs_cte_m"]) <= 0.1 * ours["mean_abs_cte_m"]


def test_engines_cached_under_another_convention_rule_are_not_reused(tmp_path, monkeypatch):
    from jetracer.engine import optimize
    from jetracer.models import convention

    model = tmp_path / "road_following_model.pth"
    model.write_bytes(b"weights")
    before = optimize._cache_key(model, "onnxruntime", "int8")
    monkeypatch.setattr(convention, "RULES", "input-convention-1")
    assert optimize._cache_key(model, "onnxruntime", "int8") != before
