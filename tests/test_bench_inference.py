"""The per-frame step of each backend as a pytest-benchmark (ResNet-18 at 224x224, one thread).

Benchmarks are off in the default pytest run (``--benchmark-disable``): each then runs once as a
test that the step gives finite steering. Time them with
``pytest tests/test_bench_inference.py --benchmark-enable``.
"""

import math

import pytest
import torch

from jetracer.engine.benchmark import EnginePipeline, ReferencePipeline
from jetracer.engine.frames import frame_source
from jetracer.engine.loader import build_engine, engine_meta
from jetracer.models import build_model

SIZE = [224, 224]


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = build_model("resnet18").eval()
    frames = frame_source(4, SIZE, seed=0)[0]
    return model, frames


@pytest.fixture(scope="module")
def pipelines(setup):
    model, frames = setup
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    meta = {"arch": "resnet18", "input_size": SIZE}
    calib = frame_source(8, SIZE, seed=1)[0]
    made = {"reference": ReferencePipeline(model, engine_meta(meta))}
    for name, backend, precision in (("torch-fp32", "torch", "fp32"), ("onnxruntime-fp32", "onnxruntime", "fp32"),
                                     ("onnxruntime-int8", "onnxruntime", "int8")):
        engine = build_engine(model, meta, backend=backend, precision=precision, calib_frames=calib, threads=1,
                              device="cpu")
        made[name] = EnginePipeline(name, engine)
    yield made
    for p in made.values():
        p.close()
    torch.set_num_threads(threads)


@pytest.mark.parametrize("name", ["reference", "torch-fp32", "onnxruntime-fp32", "onnxruntime-int8"])
def test_frame_to_pwm_step(benchmark, pipelines, setup, name):
    frame = setup[1][0]
    stages, x = benchmark(pipelines[name].step, frame)
    assert math.isfinite(x) and len(stages) == 4
    assert 750 <= pipelines[name].twin.pulse_us(0) <= 2250
