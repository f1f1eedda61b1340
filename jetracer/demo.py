"""`make demo`: the shipped network drives the simulated car round a track in real time.

Builds the fastest engine this machine has from the fastest shipped model
(``models/road_following_fast.pth`` when it is shipped, which happens only once it drives the built-in
tracks cleanly; else ``models/road_following_resnet18.pth``) once, cached in ``demo/``, drives a few
laps with the real pilot loop, the real NvidiaRacecar and the emulated PCA9685, then prints laps, lap
times, cross-track error, frame rate and latency, and leaves ``demo/metrics.json`` and ``demo/demo.gif``.
"""

import argparse
import json
import sys
from pathlib import Path

from .cli import main as jetracer_main

ROOT = Path(__file__).resolve().parent.parent
#: Shipped models, fastest first; a model is only shipped once it meets the bar (models/README.md).
MODELS = (ROOT / "models" / "road_following_fast.pth", ROOT / "models" / "road_following_resnet18.pth")
MODEL = MODELS[-1]


def demo_model():
    """The fastest shipped model present."""
    for path in MODELS:
        if path.is_file():
            return path
    return MODEL


def fastest_backend():
    """int8 onnxruntime on a CPU machine, fp16 TensorRT/torch on a GPU."""
    from .engine import available_backends

    backends = available_backends()
    if "tensorrt" in backends:
        return "tensorrt", "fp16"
    try:
        import torch

        if torch.cuda.is_available():
            return "torch", "fp16"
    except ImportError:
        pass
    if "onnxruntime" in backends:
        return "onnxruntime", "int8"
    return "torch", "fp32"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m jetracer.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--track", default="technical")
    parser.add_argument("--laps", type=int, default=2)
    parser.add_argument("--out", default="demo")
    parser.add_argument("--lockstep", action="store_true", help="virtual time instead of real time")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backend, precision = fastest_backend()
    model = demo_model()
    print("jetracer demo: %s on the %s track, %d laps, %s %s engine (built once, cached in %s/)" % (
        model.name, args.track, args.laps, backend, precision, out))
    drive = ["drive", "--sim", "--profile", "sim", "--engine", str(model), "--backend", backend,
             "--precision", precision, "--engine-cache", str(out), "--track", args.track, "--laps", str(args.laps),
             "--metrics-json", str(out / "metrics.json"), "--video", str(out / "demo.gif")]
    if not args.lockstep:
        drive.append("--realtime")
    code = jetracer_main(drive)
    if code == 0:
        metrics = json.loads((out / "metrics.json").read_text())
        sim_s = metrics.get("sim_time_s") or 0
        print("frames %d in %.1f s of driving (%.1f fps), %d dropped by the pilot; wrote %s and %s" % (
            metrics["frames"], sim_s, metrics["frames"] / sim_s if sim_s else 0.0, metrics.get("dropped_frames", 0),
            out / "metrics.json", out / "demo.gif"))
    return code


if __name__ == "__main__":
    sys.exit(main())
