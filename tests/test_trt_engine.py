"""The TensorRT path run end to end with stand-ins for TensorRT 8.2 / 8.5 / 10 and torch2trt releases
(``trt_stand_in.py``): what is built and with which settings, what the engine file holds, how it is
run (API, tensor addresses, stream), and JetRacer's own torch2trt files. Only a Jetson proves the GPU."""

import collections
import pickle

import numpy as np
import pytest
import torch
import trt_stand_in

from jetracer.cli import main
from jetracer.data.xy import save_sample
from jetracer.engine.fileformat import MAGIC, read_engine_file, read_engine_header
from jetracer.engine.fold import normalise_frames
from jetracer.engine.frames import synthetic_frames
from jetracer.engine.loader import build_engine, load_engine
from jetracer.engine.parity import reference_outputs
from jetracer.errors import BackendMissing, EngineError, ModelError
from jetracer.models import build_model, load_model, save_checkpoint

SIZE = [32, 32]
META = {"arch": "resnet18", "input_size": SIZE, "channel_order": "RGB"}  # as `jetracer train` records
XAVIER = {"name": "Xavier", "compute_capability": "7.2"}
NANO = {"name": "NVIDIA Tegra X1", "compute_capability": "5.3"}
MIB256 = 256 << 20


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return build_model("resnet18").eval()


@pytest.fixture(scope="module")
def frames():
    return synthetic_frames(4, SIZE, seed=3)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, resnet):
    path = tmp_path_factory.mktemp("model") / "road.pth"
    save_checkpoint(path, resnet, {"arch": "resnet18", "input_size": SIZE, "val_loss": 0.0123})
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("xy")
    for i, image in enumerate(synthetic_frames(12, size=(48, 64), seed=5)):
        save_sample(root, "apex", image, 10 + i, 20)
    return root


def _car(monkeypatch, gpu, trt_version, release="master"):
    """This machine as a Jetson with ``gpu``, the stand-in TensorRT and torch2trt installed."""
    trt = trt_stand_in.install(monkeypatch, trt_version, release)
    for where in ("jetracer.engine.trt_engine", "jetracer.engine.loader"):
        monkeypatch.setattr(where + ".cuda_device_info", lambda: dict(gpu))
    monkeypatch.setattr(trt.Builder, "fail", None)
    return trt


def _calls(trt, name):
    return [c for c in trt.calls if c[0] == name]


@pytest.mark.parametrize("trt_version,release,api", [("8.2.1.8", "v0.5.0", "v2"), ("8.2.1.8", "v0.4.0", "v2"),
                                                     ("8.5.2.2", "master", "v3"), ("10.3.0.30", "master", "v3")])
def test_engine_file_round_trip_per_tensorrt(tmp_path, monkeypatch, resnet, frames, trt_version, release, api):
    trt = _car(monkeypatch, XAVIER, trt_version, release)
    engine = build_engine(resnet, META, backend="tensorrt", precision="fp16")
    build = _calls(trt, "build")[0]
    assert "FP16" in build[1] and "INT8" not in build[1]
    method = "build_serialized_network" if trt_version.startswith("10") else "build_engine"  # as torch2trt calls
    assert [c[0] for c in trt.calls if c[0].startswith("build_")] == [method]
    if trt_version.startswith("8.2"):  # no memory pools before 8.4: the workspace is max_workspace_size
        assert build[3] == MIB256 and not build[2]
    else:  # 8.4 on, and the only way on 10 (torch2trt master sets nothing there)
        assert build[2] == {"WORKSPACE": MIB256}
    path = tmp_path / "road.engine"
    engine.save(path)
    header, payload = read_engine_file(path)
    assert payload == trt_stand_in.plan_bytes(trt, _key(payload))  # the TensorRT plan itself, no pickle around it
    assert header["io"] == [{"name": "input_0", "mode": "input", "shape": [1, 3, 38, 38], "dtype": "float32"},
                            {"name": "output_0", "mode": "output", "shape": [1, 2], "dtype": "float32"}]
    assert header["tensorrt"] == trt_version and header["compute_capability"] == "7.2"
    del trt.calls[:]
    loaded = load_engine(path)
    got = np.stack([loaded.predict(f) for f in frames])
    want = reference_outputs(resnet, dict(META, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                                          channel_order="RGB"), frames)
    assert np.abs(got - want).max() < 1e-4  # the engine runs what was built, fed the folded input
    if api == "v2":
        runs = _calls(trt, "execute_async_v2")
        assert runs and all(c[1] == 2 and c[2] == loaded.stream_handle for c in runs)
        assert not _calls(trt, "execute_async_v3")
    else:
        runs = _calls(trt, "execute_async_v3")
        assert len(runs) == len(frames) and all(c[1] == loaded.stream_handle for c in runs)
        assert sorted(c[1] for c in _calls(trt, "set_tensor_address")) == ["input_0", "output_0"]  # bound once


def _key(payload):
    return int(payload.split(b":")[-1])


def test_engine_files_load_with_no_unpickling_at_all(tmp_path, monkeypatch, resnet, frames):
    _car(monkeypatch, XAVIER, "8.5.2.2")
    path = tmp_path / "road.engine"
    build_engine(resnet, META, backend="tensorrt", precision="fp16").save(path)

    def refuse(*args, **kwargs):
        raise pickle.UnpicklingError("Weights only load failed: Unsupported global: GLOBAL builtins.bytearray")

    monkeypatch.setattr(torch, "load", refuse)  # JetPack 5.1 / 6.0's torch on torch2trt's bytearray
    monkeypatch.setattr(pickle, "loads", refuse)
    engine = load_engine(path)
    assert engine.backend == "tensorrt" and engine.predict(frames[0]).shape == (1, 2)


def test_an_engine_from_another_tensorrt_is_one_line_with_tensorrts_reason(tmp_path, monkeypatch, resnet):
    _car(monkeypatch, XAVIER, "8.5.2.2")
    path = tmp_path / "road.engine"
    build_engine(resnet, META, backend="tensorrt", precision="fp16").save(path)
    header, payload = read_engine_file(path)
    _car(monkeypatch, XAVIER, "8.5.2.2")
    from jetracer.engine.fileformat import write_engine_file

    write_engine_file(path, header, payload.replace(b"8.5.2.2", b"8.6.1.6"))  # same header, foreign plan
    with pytest.raises(EngineError) as err:
        load_engine(path)
    message = str(err.value)
    assert "\n" not in message and "could not deserialise" in message and "Version tag does not match" in message
    assert "jetracer optimize" in message


def test_a_failed_build_is_one_line_and_writes_nothing(tmp_path, monkeypatch, model_file, capsys):
    trt = _car(monkeypatch, NANO, "8.2.1.8", "v0.5.0")
    monkeypatch.setattr(trt.Builder, "fail", "2: [virtualMemoryBuffer.cpp::resizePhysical::127] Error Code 2: "
                                             "OutOfMemory (no further information)")
    out = tmp_path / "road.engine"
    code = main(["optimize", str(model_file), "--backend", "tensorrt", "--precision", "fp16", "--frames", "2",
                 "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert code == 3 and err.startswith("error:") and "\n" not in err  # a fault on this device, not a usage error
    assert "TensorRT could not build" in err and "OutOfMemory" in err
    assert "--precision fp16" in err and "--workspace-mb" in err and "free memory" in err
    assert not list(tmp_path.iterdir())  # nothing written, no temp file left


@pytest.mark.slow
def test_int8_calibrates_with_a_named_algorithm_on_the_users_frames_and_keeps_conv1_and_head(
        tmp_path, monkeypatch, model_file, dataset, capsys):
    trt = _car(monkeypatch, XAVIER, "10.3.0.30")
    out = tmp_path / "int8.engine"
    args = ["optimize", str(model_file), "--backend", "tensorrt", "--precision", "int8", "--calib", str(dataset),
            "--frames", "4", "--calib-frames", "8", "--out", str(out)]
    assert main(args) == 0
    header = read_engine_header(out)
    calib = header["int8_calibration"]
    fed, algorithm = _calls(trt, "calibrated")[0][1:]
    assert algorithm == calib["algorithm"] == "MINMAX_CALIBRATION" and fed == calib["frames"] == 8
    assert calib["frames_from"] == header["parity"]["frames_from"] == "images from %s" % dataset
    kept, retyped_outputs = _calls(trt, "kept")[0][1:]
    assert calib["kept_out_of_int8"] == {"fp16": ["model.conv1"], "fp32": ["model.flatten", "model.fc",
                                                                             "model.fc.bias"]}
    assert kept == {"fp16": ["model.conv1"], "fp32": ["model.flatten", "model.fc"]}  # precision set on all four,
    assert retyped_outputs == []  # but the network output keeps its own type
    assert "PREFER_PRECISION_CONSTRAINTS" in _calls(trt, "build")[0][1]
    assert main(args[:-2] + ["--calib-algorithm", "entropy2", "--out", str(tmp_path / "e.engine")]) == 0
    assert read_engine_header(tmp_path / "e.engine")["int8_calibration"]["algorithm"] == "ENTROPY_CALIBRATION_2"
    assert main(args[:4] + ["--frames", "2", "--out", str(tmp_path / "auto.engine")]) == 0  # auto, no --calib:
    assert read_engine_header(tmp_path / "auto.engine")["precision"] == "fp16"  # no int8 from simulator frames
    assert main(args[:4] + ["--calib", str(dataset), "--frames", "2", "--out", str(tmp_path / "auto8.engine")]) == 0
    assert read_engine_header(tmp_path / "auto8.engine")["precision"] == "int8"
    capsys.readouterr()
    refused = tmp_path / "refused.engine"
    assert main(args[:-2] + ["--tolerance", "0", "--out", str(refused)]) == 2  # the parity gate stays
    assert "exceeds --tolerance 0" in capsys.readouterr().err and not refused.exists()


@pytest.mark.parametrize("trt_version,release,expect", [
    ("10.3.0.30", "v0.5.0", "predates TensorRT 10"), ("8.2.1.8", "v0.3.0", "older than v0.4.0")])
def test_torch2trt_that_cannot_build_here_is_refused_with_the_release_per_jetpack(
        monkeypatch, resnet, trt_version, release, expect):
    _car(monkeypatch, XAVIER, trt_version, release)
    with pytest.raises(BackendMissing) as err:
        build_engine(resnet, META, backend="tensorrt", precision="fp16")
    message = str(err.value)
    assert "\n" not in message and expect in message
    assert "-b v0.5.0" in message and "JetPack 6.1/6.2 (TensorRT 10)" in message and "4e820ae" in message


def _jetracer_trt_file(tmp_path, trt, model):
    """What JetRacer's notebook saves: torch2trt(model, [half input], fp16_mode=True), state_dict saved."""
    key = trt_stand_in.register_model(model, (1, 3, 32, 32), 2, trt.float16, trt.float16)
    state = collections.OrderedDict(engine=bytearray(trt_stand_in.plan_bytes(trt, key)), input_names=["input_0"],
                                    output_names=["output_0"])
    path = tmp_path / "road_following_model_trt.pth"
    torch.save(state, str(path))
    return path


def test_jetracers_torch2trt_file_runs_with_jetracers_bgr_preprocessing(tmp_path, monkeypatch, resnet, frames):
    trt = _car(monkeypatch, XAVIER, "8.5.2.2")
    path = _jetracer_trt_file(tmp_path, trt, resnet)
    real_load = torch.load

    def torch_1_13(*args, **kwargs):  # its weights-only mode refuses torch2trt's bytearray
        if kwargs.get("weights_only"):
            raise pickle.UnpicklingError("Weights only load failed. Unsupported class builtins.bytearray")
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", torch_1_13)
    engine = load_engine(path)
    assert engine.backend == "tensorrt" and engine.input_size == (32, 32)
    got = np.stack([engine.predict(f) for f in frames])
    with torch.no_grad():  # JetRacer's preprocess: camera.value (BGR) as is, /255, ImageNet mean/std in RGB order
        want = resnet(torch.from_numpy(normalise_frames(np.stack(frames), channel_order="BGR"))).numpy()
        swapped = resnet(torch.from_numpy(normalise_frames(np.stack(frames), channel_order="RGB"))).numpy()
    assert np.abs(got.reshape(-1, 2) - want).max() < 2e-2  # fp16 in and out
    assert np.abs(want - swapped).max() > 0.05  # (the convention matters for this network)
    from jetracer.engine.optimize import cached_engine

    again = cached_engine(path, backend="tensorrt", precision="fp16")  # `drive` with a profile's tensorrt backend
    assert np.allclose(again.predict(frames[0]), got[0]) and not list(tmp_path.glob("*.engine"))


def test_a_damaged_jetracer_trt_file_is_one_line(tmp_path, monkeypatch, resnet):
    trt = _car(monkeypatch, XAVIER, "10.3.0.30")
    path = _jetracer_trt_file(tmp_path, trt, resnet)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # a copy cut short
    with pytest.raises((EngineError, ModelError)) as err:
        load_engine(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    state = collections.OrderedDict(engine=bytearray(b"FAKEPLAN8.5.2.2:1"), input_names=["input_0"],
                                    output_names=["output_0"])
    torch.save(state, str(path))  # an engine from another TensorRT
    with pytest.raises(EngineError) as err:
        load_engine(path)
    assert "\n" not in str(err.value) and "Version tag does not match" in str(err.value)


def test_jetracers_torch2trt_file_without_torch2trt_is_the_one_line_refusal(tmp_path, monkeypatch, resnet):
    trt = _car(monkeypatch, XAVIER, "8.5.2.2", release=None)
    path = _jetracer_trt_file(tmp_path, trt, resnet)
    with pytest.raises(EngineError) as err:
        load_engine(path)
    message = str(err.value)
    assert "\n" not in message and "plain torch2trt engine" in message and "install torch2trt" in message
    assert "jetracer optimize" in message


def test_checkpoints_load_under_torch_1_13_and_1_10_rules(monkeypatch, model_file):
    real_load = torch.load
    seen = []

    def torch_1_13(f, *args, **kwargs):  # pytorch#94670: BINFLOAT (opcode 71) unsupported in weights-only mode
        seen.append(kwargs)
        if kwargs.get("weights_only"):
            raise pickle.UnpicklingError("Weights only load failed. WeightsUnpickler error: Unsupported operand 71")
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", torch_1_13)
    model, meta = load_model(model_file)
    assert meta["val_loss"] == pytest.approx(0.0123) and meta["input_size"] == SIZE

    def torch_1_10(f, map_location=None, pickle_module=pickle, **kwargs):  # no weights-only mode at all
        if "weights_only" in kwargs:
            raise TypeError("load() got an unexpected keyword argument 'weights_only'")
        seen.append(pickle_module)
        return real_load(f, map_location=map_location, pickle_module=pickle_module, weights_only=False)

    monkeypatch.setattr(torch, "load", torch_1_10)
    del seen[:]
    model, meta = load_model(model_file)
    assert meta["val_loss"] == pytest.approx(0.0123)
    assert seen and all(m is not pickle for m in seen)  # never a full unpickle: our allow-list decides


def test_a_file_naming_any_other_global_is_refused_not_run(tmp_path, monkeypatch):
    class Payload:
        def __reduce__(self):
            return (print, ("this must never run",))

    path = tmp_path / "road_following_model_trt.pth"
    torch.save({"engine": bytearray(b"x"), "input_names": ["input_0"], "hook": Payload()}, str(path))
    with pytest.raises(ModelError) as err:
        load_engine(path)
    assert "builtins.print is not allowed" in str(err.value)


def test_shipped_car_profiles_name_the_engine_the_readme_builds_and_say_how_when_missing(tmp_path, monkeypatch):
    from pathlib import Path

    from jetracer.profile import load_profile

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    for name in ("latrax_rally", "tamiya_tt02", "waveshare_ai_kit"):
        profile = load_profile(name)
        path = profile.engine["path"]
        assert path == "models/road.engine" and "--out %s" % path in readme
        monkeypatch.chdir(tmp_path)
        with pytest.raises(EngineError) as err:
            load_engine(profile.resolve_path(path), backend="tensorrt")
        message = str(err.value)
        assert "\n" not in message and "not found" in message
        assert "jetracer optimize MODEL.pth --backend tensorrt --out" in message and "[engine] model" in message


def test_a_profile_naming_its_model_builds_the_missing_engine_once(tmp_path, model_file):
    from jetracer.engine.optimize import ensure_engine

    path = tmp_path / "models" / "road.engine"
    ensure_engine(path, model_file, backend="onnxruntime", precision="fp32", frames=2)
    header = read_engine_header(path)
    assert header["backend"] == "onnxruntime" and header["source"]["model"] == str(model_file)
    stamp = path.stat().st_mtime_ns
    ensure_engine(path, model_file, backend="onnxruntime", precision="fp32", frames=2)
    assert path.stat().st_mtime_ns == stamp and path.read_bytes()[:len(MAGIC)] == MAGIC
    with pytest.raises(EngineError, match="is not there either"):
        ensure_engine(tmp_path / "other.engine", tmp_path / "missing.pth")
