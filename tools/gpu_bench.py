"""GPU benchmark: JetRacer's fp16 per-frame step against ours, on whatever CUDA GPU is here.

    python -m tools.gpu_bench --json gpu_bench.json

Needs only torch, torchvision, numpy and this repository (no TensorRT, onnxruntime, OpenCV or
I2C libraries), so it runs on a bare GPU box. Rows:

* ``reference``: JetRacer's step with the model in fp16 on the GPU: ``PIL.Image.fromarray`` on
  the BGR frame (never swapped; a model trained RGB is converted to JetRacer's convention first),
  ``to_tensor``, ``.to(cuda)``, normalise, ``[None]``, ``.half()``,
  the model, ``.detach().float().cpu().numpy().flatten()``.
* ``ours ...``: :class:`~jetracer.engine.torch_engine.TorchEngine`: normalisation and channel swap
  folded into the first convolution, frame staged in pinned memory and uploaded asynchronously,
  uint8 -> fp16 cast and padding on the GPU, channels_last, the whole network replayed as one
  CUDA graph. Ablation rows switch the graph and channels_last off.

Each row: p50/p99/mean of the whole step (frame in, Python float out) and the speed-up against
the reference, plus max |dx| against the fp32 model. Pipelines are interleaved frame by frame.
"""

import argparse
import json
import platform
import sys
import time

import numpy as np

__all__ = ["main"]


def _reference_step(torch, tf, model_half, mean, std, device):
    import PIL.Image

    def step(frame):
        image = PIL.Image.fromarray(frame)  # JetRacer's preprocess: the BGR frame, never swapped
        x = tf.to_tensor(image).to(device)
        x.sub_(mean[:, None, None]).div_(std[:, None, None])
        x = x[None, ...].half()
        with torch.no_grad():
            out = model_half(x)
        out = out.detach().float().cpu().numpy().flatten()
        return float(out[0])

    return step


def _stats(ms):
    v = np.asarray(ms, dtype=np.float64)
    return {"p50_ms": float(np.percentile(v, 50)), "p99_ms": float(np.percentile(v, 99)),
            "mean_ms": float(v.mean()), "max_ms": float(v.max())}


def _frames(n, size, seed):
    try:
        from jetracer.engine.frames import sim_frames

        return sim_frames(n, size, seed), "simulator frames"
    except Exception:  # noqa: BLE001 - no OpenCV / simulator on a bare GPU box: generated roads do
        from jetracer.engine.frames import synthetic_frames

        return synthetic_frames(n, size, seed), "synthetic road frames"


def _model(args):
    from jetracer.models import build_model, load_model

    if args.model:
        model, meta = load_model(args.model)
        return model, meta, args.model
    import torch

    torch.manual_seed(0)
    return build_model(args.arch), {"arch": args.arch, "input_size": [args.size, args.size]}, \
        "randomly initialised %s" % args.arch


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.gpu_bench", description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=1000, help="timed frames per pipeline (default 1000)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed frames first (default 50)")
    parser.add_argument("--model", default=None, help="model .pth (default: randomly initialised --arch)")
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--size", type=int, default=224, help="input size without --model (default 224)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args(argv)

    import torch
    import torchvision
    import torchvision.transforms.functional as tf

    from jetracer.engine.fold import normalise_frames
    from jetracer.engine.loader import engine_meta, fold_model
    from jetracer.engine.torch_engine import TorchEngine

    if not torch.cuda.is_available():
        sys.stderr.write("error: no CUDA GPU visible to torch %s: run this on a GPU machine\n" % torch.__version__)
        return 1
    device = torch.device("cuda")
    model, model_meta, model_name = _model(args)
    from jetracer.engine.fold import to_jetracer_convention

    model, model_meta, was = to_jetracer_convention(model, engine_meta(model_meta))  # the reference is JetRacer's
    if was:
        model_name += " (trained %s, converted to JetRacer's BGR input)" % was
    meta = engine_meta(model_meta)
    frames, source = _frames(32, meta["input_size"], seed=0)

    # fp32 truth for parity, on the GPU in fp32 with textbook preprocessing
    model = model.float().eval()
    with torch.no_grad():
        truth = model.to(device)(torch.from_numpy(normalise_frames(np.stack(frames), meta["mean"], meta["std"],
                                                                   meta["channel_order"])).to(device))
    truth = truth.float().cpu().numpy()[:, 0]
    model = model.cpu()

    ref_model = _copy(model).to(device).half().eval()
    mean = torch.tensor(meta["mean"], device=device)
    std = torch.tensor(meta["std"], device=device)
    pipelines = [("reference (JetRacer fp16 step)", _reference_step(torch, tf, ref_model, mean, std, device))]
    variants = [
        ("ours fp16 channels_last CUDA graph", dict(precision="fp16", channels_last=True, cuda_graph=True)),
        ("ours fp16 channels_last, no graph", dict(precision="fp16", channels_last=True, cuda_graph=False)),
        ("ours fp16, no graph, NCHW", dict(precision="fp16", channels_last=False, cuda_graph=False)),
        ("ours fp32 CUDA graph", dict(precision="fp32", channels_last=True, cuda_graph=True)),
    ]
    engines = []
    for name, options in variants:
        engine = TorchEngine(fold_model(_copy(model), dict(meta)), dict(meta, jetracer="gpu_bench"), device="cuda",
                             **options)
        if options["cuda_graph"] and not engine.cuda_graph:
            name += " (graph capture failed: eager)"
        engines.append(engine)
        pipelines.append((name, lambda f, e=engine: e(f)[0]))

    k = len(pipelines)
    times = np.zeros((k, args.frames))
    xs = np.zeros((k, args.frames))
    for i in range(-args.warmup, args.frames):
        frame = frames[i % len(frames)]
        for j in range(k):
            p = (i + j) % k
            t0 = time.perf_counter()
            x = pipelines[p][1](frame)
            t1 = time.perf_counter()
            if i >= 0:
                times[p, i] = (t1 - t0) * 1e3
                xs[p, i] = x
    idx = np.arange(args.frames) % len(frames)
    rows = []
    for p, (name, _) in enumerate(pipelines):
        s = _stats(times[p])
        rows.append({"name": name, "step": s, "fps": 1e3 / s["mean_ms"],
                     "speedup_p50": None, "max_dx_vs_fp32": float(np.abs(xs[p] - truth[idx]).max())})
    for r in rows:
        r["speedup_p50"] = rows[0]["step"]["p50_ms"] / r["step"]["p50_ms"]
        r["speedup_p99"] = rows[0]["step"]["p99_ms"] / r["step"]["p99_ms"]
    for e in engines:
        e.close()

    info = {"gpu": torch.cuda.get_device_name(0), "compute_capability": "%d.%d" % torch.cuda.get_device_capability(0),
            "cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
            "torch": torch.__version__, "torchvision": torchvision.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version(), "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "tensorrt": _version("tensorrt"), "model": model_name, "input_size": meta["input_size"],
            "frames": args.frames, "warmup": args.warmup, "frame_source": source}
    print("GPU: %s (cc %s), torch %s, CUDA %s, TensorRT %s" % (info["gpu"], info["compute_capability"],
                                                               info["torch"], info["cuda"], info["tensorrt"]))
    print("model: %s; %s; %d timed per pipeline" % (model_name, source, args.frames))
    width = max(len(r["name"]) for r in rows)
    print("%-*s  %8s  %8s  %8s  %8s  %9s  %10s" % (width, "pipeline (frame in -> float out)", "p50 ms", "p99 ms",
                                                   "mean ms", "fps", "speed-up", "max|dx|"))
    for r in rows:
        print("%-*s  %8.3f  %8.3f  %8.3f  %8.0f  %8.2fx  %10.5f" % (
            width, r["name"], r["step"]["p50_ms"], r["step"]["p99_ms"], r["step"]["mean_ms"], r["fps"],
            r["speedup_p50"], r["max_dx_vs_fp32"]))
    if args.json:
        from jetracer.util.atomic import atomic_write_bytes

        atomic_write_bytes(args.json, json.dumps({"machine": info, "rows": rows}, indent=2).encode())
        print("wrote %s" % args.json)
    return 0


def _copy(model):
    import copy

    return copy.deepcopy(model)


def _version(name):
    try:
        return __import__(name).__version__
    except Exception:  # noqa: BLE001 - absent or broken: report None
        return None


if __name__ == "__main__":
    sys.exit(main())
