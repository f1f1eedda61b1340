"""`jetracer bench`: JetRacer's per-frame pipeline against ours, per stage, on this machine.

Every backend this machine has runs in the same process on the same frames (simulator renders,
else synthetic road images), interleaved, and is compared with the reference: p50/p99 per stage,
end-to-end frame -> PWM, fps, speed-up, and how far its steering is from the reference's.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..errors import JetracerError
from ._common import number_in, positive_int

__all__ = ["add_arguments", "run", "default_model_path"]

DEFAULT_MODEL = Path("models") / "road_following_resnet18.pth"
PIPELINES = ("torch-fp32", "torch-fp16", "onnxruntime-fp32", "onnxruntime-int8", "tensorrt-fp16", "tensorrt-int8")


def _pipeline_list(text):
    names = [n.strip() for n in text.split(",") if n.strip()]
    bad = [n for n in names if n not in PIPELINES]
    if bad:
        raise argparse.ArgumentTypeError("unknown pipeline %s: choose from %s" % (", ".join(bad), ", ".join(PIPELINES)))
    return names


def add_arguments(parser):
    parser.add_argument("--engine", metavar="E", default=None,
                        help="also time this engine file (or model .pth); its source model becomes the default --model")
    parser.add_argument("--model", metavar="M", default=None,
                        help="model to build the engines from (default: %s if present, else a randomly "
                             "initialised resnet18)" % DEFAULT_MODEL)
    parser.add_argument("--frames", type=positive_int, default=200, metavar="N",
                        help="timed frames per pipeline (default 200: under a minute on 2 idle cores)")
    parser.add_argument("--warmup", type=number_in(int, 0, 100000), default=5, metavar="N",
                        help="untimed frames first (default 5)")
    parser.add_argument("--backends", type=_pipeline_list, default=None, metavar="LIST",
                        help="comma-separated pipelines besides the reference (default: all this machine has): "
                             + ", ".join(PIPELINES))
    parser.add_argument("--threads", type=number_in(int, 1, 256), default=None, metavar="N",
                        help="CPU threads for torch and onnxruntime (default: usable cores, at most 4)")
    parser.add_argument("--json", metavar="F", default=None, help="write the table and the machine to this file")


def default_model_path():
    import jetracer

    if DEFAULT_MODEL.is_file():
        return DEFAULT_MODEL  # relative: reports name the model, not this machine's folders
    repo = Path(jetracer.__file__).resolve().parent.parent
    return repo / DEFAULT_MODEL if (repo / DEFAULT_MODEL).is_file() else None


def _say(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def _model(args):
    from ..engine.loader import engine_meta, load_model_file

    path = Path(args.model) if args.model else (_engine_source(args.engine) or default_model_path())
    if path is not None:
        model, meta = load_model_file(path)
        return _in_jetracer_convention(model, meta, str(path))
    import torch

    from ..models import build_model

    torch.manual_seed(0)
    model = build_model("resnet18").eval()
    return model, engine_meta({}), "randomly initialised resnet18 (no %s found: timings hold, parity is " \
                                    "not meaningful for a trained model)" % DEFAULT_MODEL


def _in_jetracer_convention(model, meta, name):
    """The model as JetRacer's notebooks would run it (``jetracer export --format jetracer``), so the
    reference runs JetRacer's steps exactly and every pipeline runs the very same weights."""
    from ..engine.fold import to_jetracer_convention

    model, meta, was = to_jetracer_convention(model, meta)
    if was:
        name = "%s (trained %s; run here converted to JetRacer's BGR input, as `jetracer export --format " \
               "jetracer` writes it)" % (name, was)
    return model, meta, name


def _passive_openmp():
    """torch's OpenMP threads spin-wait after each layer by default; interleaved with other pools,
    or on a shared CPU, spinning threads starve the ones doing work (the reference suffers most).
    Only effective before torch is first imported in this process."""
    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return os.environ.get("OMP_WAIT_POLICY", "default")


def _engine_source(engine_path):
    """The model an engine file was built from, when it is still there (so parity compares like with like)."""
    if not engine_path:
        return None
    from ..engine.fileformat import is_engine_file, read_engine_header

    try:
        if not is_engine_file(engine_path):
            return Path(engine_path)  # a model .pth given as --engine
        source = (read_engine_header(engine_path).get("source") or {}).get("model")
    except (OSError, JetracerError):
        return None  # load_engine reports what is wrong with it
    return Path(source) if source and Path(source).is_file() else None


def run(args):
    if args.json:  # a wrong path fails now, not after the timing
        from ..util.atomic import check_output_file

        check_output_file(args.json, "--json")
    omp_policy = _passive_openmp()
    import torch

    from ..engine.onnx_engine import default_threads

    threads = args.threads or default_threads()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _bench(args, threads, omp_policy)
    finally:
        torch.set_num_threads(previous)


def _bench(args, threads, omp_policy):
    from ..engine import benchmark
    from ..engine.backends import cuda_device_info
    from ..engine.frames import frame_source
    from ..engine.loader import build_engine, engine_meta, load_engine
    from ..engine.optimize import CALIBRATION_FRAMES
    from ..util.atomic import atomic_write_bytes

    started = time.time()
    machine, versions = benchmark.machine_info(), benchmark.library_versions()
    _say("machine: %s" % ", ".join("%s %s" % (k, v) for k, v in machine.items()))
    _say("versions: %s" % ", ".join("%s %s" % (k, v) for k, v in versions.items() if v))
    model, model_meta, model_name = _model(args)
    meta = engine_meta(model_meta)
    _say("model: %s" % model_name)
    size = meta["input_size"]
    frames, source = frame_source(32, size, seed=0)
    calib, _ = frame_source(CALIBRATION_FRAMES, size, seed=1)
    gpu = cuda_device_info()
    _say("frames: %d timed per pipeline (+%d warm-up), cycling %d %s; %d CPU thread(s), OpenMP wait policy %s"
         % (args.frames, args.warmup, len(frames), source, threads, omp_policy))

    pipelines = [benchmark.ReferencePipeline(model, meta, device="cuda" if gpu else "cpu", half=bool(gpu))]
    for name in args.backends or benchmark.default_pipelines():
        backend, precision = name.split("-")
        _say("building %s ..." % name)
        engine = build_engine(model, model_meta, backend=backend, precision=precision, calib_frames=calib,
                              threads=threads)
        pipelines.append(benchmark.EnginePipeline(name, engine))
    if args.engine:
        engine = load_engine(args.engine, threads=threads)
        pipelines.append(benchmark.EnginePipeline("engine:%s" % Path(args.engine).name, engine))

    _say("timing %s ..." % ", ".join(p.name for p in pipelines))
    try:
        rows = benchmark.run_bench(pipelines, frames, args.frames, warmup=max(0, args.warmup),
                         progress=lambda i, n: _say("  %d/%d frames" % (i, n)))
    finally:
        for p in pipelines:
            p.close()
    print(benchmark.format_table(rows))
    print("times in ms (p50 per stage); end to end = frame -> PWM written on the emulated PCA9685; speed-up = "
          "reference p50 / p50; max|dx| = steering difference from the reference on the same frames")
    report = {"machine": machine, "versions": versions, "model": model_name, "frames": args.frames,
              "warmup": args.warmup, "frame_source": source, "threads": threads,
              "omp_wait_policy": omp_policy,
              "reference": "JetRacer's per-frame steps in torch (BGR frame unswapped, ImageNet mean/std in "
                           "RGB order; %s)" % ("fp16 on the GPU" if gpu else "fp32 on the CPU"),
              "rows": rows, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "seconds": round(time.time() - started, 1)}
    if args.json:
        atomic_write_bytes(args.json, (json.dumps(report, indent=2) + "\n").encode("utf-8"))
        _say("wrote %s" % args.json)
    _say("bench took %.0f s" % (time.time() - started))
    return 0
