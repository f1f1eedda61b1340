"""Engines: folded preprocessing is exact, every backend steers like the fp32 model, files round-trip,
and a damaged file, a foreign TensorRT engine or a missing backend is one clear line."""

import sys

import numpy as np
import pytest
import torch

from jetracer.engine.backends import available_backends, choose_precision
from jetracer.engine.fileformat import read_engine_header, write_engine_file
from jetracer.engine.fold import find_input_conv, fold_preprocessing, normalise_frames, pad_raw_frames
from jetracer.engine.frames import frame_source
from jetracer.engine.loader import build_engine, engine_meta, load_engine
from jetracer.engine.parity import parity_report, reference_outputs
from jetracer.engine.trt_engine import check_tensorrt_compat
from jetracer.errors import BackendMissing, EngineError, ModelError
from jetracer.models import build_model, save_checkpoint

SIZE = [64, 64]
META = {"arch": "resnet18", "input_size": SIZE}
#: int8 against fp32, max |dx| in normalised x (1.0 = half the image): per-channel QDQ with MinMax
#: calibration measures 0.01-0.03 on resnet18; 0.05 is `jetracer optimize`'s default refusal line.
INT8_TOLERANCE = 0.05


def _trained_looking(model, seed=0):
    """Random BatchNorm statistics, so folding meets what a trained network has (not identity BNs)."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return build_model("resnet18").eval()


@pytest.fixture(scope="module")
def frames():
    return frame_source(12, SIZE, seed=3)[0]


@pytest.fixture(scope="module")
def engines(resnet, frames):
    calib = frame_source(16, SIZE, seed=4)[0]
    return {
        "torch-fp32": build_engine(resnet, META, backend="torch", precision="fp32", device="cpu"),
        "onnxruntime-fp32": build_engine(resnet, META, backend="onnxruntime", precision="fp32", threads=1),
        "onnxruntime-int8": build_engine(resnet, META, backend="onnxruntime", precision="int8", calib_frames=calib,
                                         threads=1),
    }


def _edge_frames(n=3, size=SIZE, seed=0):
    """Frames whose borders are saturated (0 and 255), where a wrong padding shows most."""
    rng = np.random.default_rng(seed)
    f = rng.integers(0, 256, (n, size[0], size[1], 3), dtype=np.uint8)
    f[:, :4] = 255
    f[:, -4:] = 0
    f[:, :, :4] = (255, 0, 255)
    return f


def test_folded_model_on_raw_pixels_equals_the_normalised_model_borders_included():
    resnet = _trained_looking(build_model("resnet18"))
    folded = fold_preprocessing(resnet, input_size=SIZE)
    f = _edge_frames()
    normalised = torch.from_numpy(normalise_frames(f))
    raw = torch.from_numpy(pad_raw_frames(f, folded.pad, folded.pad_value))
    with torch.no_grad():
        assert torch.allclose(folded(raw), resnet(normalised), atol=1e-4)
        want = resnet.conv1(normalised)
        got = folded.model.conv1(raw)
        assert torch.allclose(got, want, atol=1e-4)  # every output pixel, the border rows and columns too
        # the pitfall the padded buffer avoids: zero-padding raw pixels is wrong exactly at the border
        naive = torch.nn.functional.conv2d(raw[:, :, 3:-3, 3:-3], folded.model.conv1.weight, folded.model.conv1.bias,
                                           stride=2, padding=3)
        assert torch.allclose(naive[:, :, 2:-2, 2:-2], want[:, :, 2:-2, 2:-2], atol=1e-4)
        assert (naive[:, :, 0] - want[:, :, 0]).abs().max() > 0.1


@pytest.mark.parametrize("arch,order", [("tiny", "RGB"), ("mobilenet_v3_small", "RGB"), ("resnet18", "BGR")])
def test_folding_works_for_every_arch_and_channel_order(arch, order):
    torch.manual_seed(1)
    model = _trained_looking(build_model(arch), seed=1)
    folded = fold_preprocessing(model, channel_order=order, input_size=SIZE)
    f = _edge_frames(2, seed=1)
    with torch.no_grad():
        want = model(torch.from_numpy(normalise_frames(f, channel_order=order)))
        got = folded(torch.from_numpy(pad_raw_frames(f, folded.pad, folded.pad_value)))
    assert torch.allclose(got, want, atol=1e-4)
    assert find_input_conv(model, SIZE)[0] in ("conv1", "features.0", "features.0.0")


def test_a_network_that_does_not_start_with_a_convolution_is_refused_in_one_line():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 64 * 64, 2))
    with pytest.raises(ModelError) as err:
        fold_preprocessing(model, input_size=SIZE)
    assert "\n" not in str(err.value) and "convolution" in str(err.value)


def test_every_backend_steers_like_the_fp32_model_on_simulator_frames(resnet, frames, engines):
    meta = engine_meta(META)
    reference = reference_outputs(resnet, meta, frames)
    assert np.ptp(reference[:, 0, 0]) > 0  # the frames really differ for this network
    reports = {name: parity_report(reference, np.stack([e.predict(f) for f in frames]))
               for name, e in engines.items()}
    assert reports["torch-fp32"]["max_dx"] < 1e-4 and reports["torch-fp32"]["max_dy"] < 1e-4
    assert reports["onnxruntime-fp32"]["max_dx"] < 1e-4 and reports["onnxruntime-fp32"]["max_dy"] < 1e-4
    assert reports["onnxruntime-int8"]["max_dx"] < INT8_TOLERANCE
    assert reports["onnxruntime-int8"]["max_dy"] < INT8_TOLERANCE


def test_engine_call_gives_floats_timings_and_resizes_other_frame_sizes(engines, frames):
    import cv2

    engine = engines["onnxruntime-fp32"]
    x, y = engine(frames[0])
    assert isinstance(x, float) and isinstance(y, float)
    assert set(engine.last_timings) == {"preprocess_ms", "inference_ms"}
    assert engine.predict(frames[0]).shape == (1, 2)
    big = cv2.resize(frames[0], (160, 120), interpolation=cv2.INTER_LINEAR)
    expected = engine.predict(cv2.resize(big, (64, 64), interpolation=cv2.INTER_AREA))
    assert np.allclose(engine.predict(big), expected, atol=1e-5)


def test_engine_refuses_what_is_not_a_camera_frame_in_one_line(engines):
    for bad in (np.zeros((64, 64, 3), np.float32), np.zeros((64, 64), np.uint8), [[1, 2, 3]]):
        with pytest.raises(EngineError) as err:
            engines["torch-fp32"](bad)
        assert "\n" not in str(err.value) and "BGR uint8" in str(err.value)


def test_engine_files_round_trip(tmp_path, engines, frames):
    import jetracer

    for name, engine in engines.items():
        path = tmp_path / (name + ".engine")
        engine.save(path)
        header = read_engine_header(path)
        assert (header["backend"], header["precision"]) == (engine.backend, engine.precision)
        assert header["input_size"] == SIZE and header["jetracer"] == jetracer.__version__
        loaded = load_engine(path, threads=1)
        assert (loaded.backend, loaded.precision, loaded.input_size) == (engine.backend, engine.precision, (64, 64))
        for f in frames[:3]:
            assert np.allclose(loaded.predict(f), engine.predict(f), atol=1e-6)


def test_a_model_file_loads_as_a_torch_engine_or_builds_another_backend(tmp_path, resnet, frames):
    path = tmp_path / "model.pth"
    save_checkpoint(path, resnet, META)
    as_torch = load_engine(path)
    as_onnx = load_engine(path, backend="onnxruntime", threads=1)
    assert (as_torch.backend, as_onnx.backend, as_onnx.precision) == ("torch", "onnxruntime", "fp32")
    want = reference_outputs(resnet, engine_meta(META), frames[:2])
    for engine in (as_torch, as_onnx):
        got = np.stack([engine.predict(f) for f in frames[:2]])
        assert np.allclose(got, want, atol=1e-4)


def test_damaged_or_foreign_engine_files_are_one_line_errors(tmp_path, engines):
    good = tmp_path / "good.engine"
    engines["onnxruntime-fp32"].save(good)
    data = good.read_bytes()
    cases = {
        "truncated": data[: len(data) // 2],
        "corrupt": data[:-100] + bytes(100),
        "header only": data[:40],
        "not an engine": b"hello, I am a text file\n" * 10,
        "empty": b"",
    }
    for name, blob in cases.items():
        path = tmp_path / (name.replace(" ", "_") + ".engine")
        path.write_bytes(blob)
        with pytest.raises(EngineError) as err:
            load_engine(path)
        message = str(err.value)
        assert "\n" not in message and str(path) in message and "jetracer optimize" in message, (name, message)
    assert "truncated" in _error(load_engine, tmp_path / "truncated.engine")
    assert "corrupt" in _error(load_engine, tmp_path / "corrupt.engine")
    assert "not found" in _error(load_engine, tmp_path / "missing.engine")
    wrong = _error(load_engine, good, backend="torch")
    assert "onnxruntime engine" in wrong and "\n" not in wrong


def _error(fn, *args, **kwargs):
    with pytest.raises(EngineError) as err:
        fn(*args, **kwargs)
    return str(err.value)


NANO = {"tensorrt": "8.2.1.8", "gpu": "NVIDIA Tegra X1", "compute_capability": "5.3"}


def test_a_tensorrt_engine_from_another_tensorrt_or_gpu_is_refused_with_the_rebuild_command():
    header = dict(NANO, backend="tensorrt", source={"model": "models/road.pth"})
    check_tensorrt_compat(header, NANO, "road.engine")  # same TensorRT, same GPU: accepted
    newer = dict(NANO, tensorrt="8.5.2.2")
    orin = {"tensorrt": "8.2.1.8", "gpu": "Orin", "compute_capability": "8.7"}
    for runtime in (newer, orin):
        with pytest.raises(EngineError) as err:
            check_tensorrt_compat(header, runtime, "road.engine")
        message = str(err.value)
        assert "\n" not in message
        assert "TensorRT 8.2.1.8" in message and runtime["tensorrt"] in message and runtime["gpu"] in message
        assert "rebuild it on this device with `jetracer optimize models/road.pth --backend tensorrt" in message


def test_missing_backends_are_one_line_install_hints(tmp_path, monkeypatch, resnet):
    trt_file = tmp_path / "car.engine"
    write_engine_file(trt_file, dict(NANO, backend="tensorrt", precision="fp16", input_size=SIZE,
                                     categories=["apex"], pad=[3, 3], pad_value=[0, 0, 0]), b"\0" * 64)
    onnx_file = tmp_path / "cpu.engine"
    build_engine(resnet, META, backend="onnxruntime", precision="fp32", threads=1).save(onnx_file)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # as on a PC without TensorRT
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    for call in (lambda: load_engine(trt_file), lambda: load_engine(onnx_file),
                 lambda: build_engine(resnet, META, backend="onnxruntime")):
        with pytest.raises(BackendMissing) as err:
            call()
        message = str(err.value)
        assert "\n" not in message and "not installed" in message and ("pip install" in message or "apt" in message)
    assert available_backends() == ["torch"]


def test_precision_auto_picks_fp16_on_the_nano_and_refuses_what_cannot_run():
    nano = {"name": "NVIDIA Tegra X1", "compute_capability": "5.3"}
    xavier = {"name": "Xavier", "compute_capability": "7.2"}
    assert choose_precision("tensorrt", "auto", gpu=nano, can_calibrate=True) == "fp16"
    assert choose_precision("tensorrt", "auto", gpu=xavier, can_calibrate=True) == "int8"
    assert choose_precision("tensorrt", "auto", gpu=xavier, can_calibrate=False) == "fp16"
    assert choose_precision("onnxruntime", "auto", can_calibrate=True) == "int8"
    assert choose_precision("torch", "auto") == "fp32"
    assert choose_precision("torch", "auto", gpu=xavier) == "fp16"
    for args in (("tensorrt", "int8", nano), ("tensorrt", "fp16", None), ("torch", "int8", None),
                 ("torch", "fp16", None), ("onnxruntime", "fp16", None)):
        with pytest.raises(EngineError) as err:
            choose_precision(args[0], args[1], gpu=args[2], can_calibrate=True)
        assert "\n" not in str(err.value)


def test_without_opencv_frames_are_resized_by_nearest_neighbour(monkeypatch):
    from jetracer.engine.base import Resizer

    monkeypatch.setitem(sys.modules, "cv2", None)  # the car's Python may lack OpenCV
    resize = Resizer((2, 3))
    frame = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    out = resize(frame)
    assert out.shape == (2, 3, 3) and np.array_equal(out, frame[1::2, 1::2])
    assert resize(frame[:, ::-1]) is out  # one reused buffer, non-contiguous input too
    assert np.array_equal(out, frame[:, ::-1][1::2, 1::2])


def test_a_plain_torch2trt_file_is_a_one_line_rebuild_hint(tmp_path):
    path = tmp_path / "road_following_model_trt.pth"  # what JetRacer's notebook saves
    torch.save({"engine": bytearray(b"serialised engine"), "input_names": ["input_0"], "output_names": ["output_0"]},
               str(path))
    message = _error(load_engine, path)
    assert "\n" not in message and "plain torch2trt engine" in message and "jetracer optimize" in message
