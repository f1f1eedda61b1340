"""`jetracer optimize`: writes an engine that steers like the model, refuses one that does not."""

import sys

import pytest
import torch

from jetracer.cli import main
from jetracer.data.xy import save_sample
from jetracer.engine.fileformat import read_engine_header
from jetracer.engine.frames import synthetic_frames
from jetracer.engine.loader import load_engine
from jetracer.models import build_model, save_checkpoint


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "road.pth"
    save_checkpoint(path, build_model("resnet18"), {"arch": "resnet18", "input_size": [64, 64]})
    return path


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """An XY dataset folder as JetRacer writes it (larger images than the network input)."""
    root = tmp_path_factory.mktemp("xy")
    for i, image in enumerate(synthetic_frames(24, size=(96, 128), seed=5)):
        save_sample(root, "apex", image, 10 + i, 20)
    return root


def test_optimize_refuses_an_engine_beyond_tolerance_unless_forced(tmp_path, model_file, dataset, capsys):
    out = tmp_path / "road.engine"
    args = ["optimize", str(model_file), "--backend", "onnxruntime", "--precision", "int8", "--calib", str(dataset),
            "--frames", "8", "--threads", "1", "--out", str(out)]
    assert main(args + ["--tolerance", "0"]) == 2
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "exceeds --tolerance 0" in errors[0] and "--force" in errors[0]
    assert "max |dx|" in captured.out
    assert not out.exists() and not list(tmp_path.iterdir())  # nothing written, no temp file left

    assert main(args + ["--tolerance", "0", "--force"]) == 0
    header = read_engine_header(out)
    assert (header["backend"], header["precision"]) == ("onnxruntime", "int8")
    assert header["parity"]["frames"] == 8 and header["parity"]["max_dx"] > 0
    assert header["source"]["model"] == str(model_file)
    engine = load_engine(out, threads=1)
    assert engine.input_size == (64, 64)


def test_optimize_within_tolerance_writes_an_engine_from_simulator_frames(tmp_path, model_file, capsys):
    out = tmp_path / "fp32.engine"
    assert main(["optimize", str(model_file), "--backend", "onnxruntime", "--precision", "fp32", "--frames", "4",
                 "--threads", "1", "--out", str(out)]) == 0
    assert "parity vs the fp32 torch model on 4 simulator frames" in capsys.readouterr().out
    header = read_engine_header(out)
    assert header["parity"]["max_dx"] < 1e-4 and header["precision"] == "fp32"


def test_optimize_without_simulator_or_calib_asks_for_calib(tmp_path, model_file, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "jetracer.sim.renderer", None)  # a build without the simulator
    assert main(["optimize", str(model_file), "--backend", "torch", "--out", str(tmp_path / "x.engine")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "\n" not in err and "--calib DIR" in err


def test_cached_engine_is_built_once_then_reused_and_rebuilt_when_damaged(tmp_path, model_file):
    from jetracer.engine.optimize import cached_engine

    def build():
        return cached_engine(model_file, backend="onnxruntime", precision="fp32", cache_dir=tmp_path, threads=1,
                             frames=8)

    first = build()
    files = list(tmp_path.glob("road.onnxruntime-fp32.*.engine"))
    assert len(files) == 1 and read_engine_header(files[0])["parity"]["max_dx"] < 1e-4
    stamp = files[0].stat().st_mtime_ns
    again = build()
    assert files[0].stat().st_mtime_ns == stamp and again.backend == first.backend == "onnxruntime"
    files[0].write_bytes(files[0].read_bytes()[:1000])  # e.g. a copy cut short
    rebuilt = build()
    assert rebuilt.precision == "fp32" and read_engine_header(files[0])["payload"]["bytes"] > 1000
