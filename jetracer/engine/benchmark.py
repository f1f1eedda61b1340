"""Time JetRacer's per-frame pipeline against ours, stage by stage, on this machine, in one run.

Stages: frame (take the newest frame) -> preprocess -> inference -> output (network output to a
Python float) -> pwm (``car.steering = ...`` through a real ``NvidiaRacecar`` writing the emulated
PCA9685's registers over the virtual I2C bus). End-to-end is frame to PWM.

The reference is JetRacer's live loop step for step (its ``utils.preprocess``: ``PIL.Image.fromarray``
on the BGR camera frame, never swapped, ``to_tensor``, normalise with the ImageNet mean/std in RGB
order, ``[None]``; then the model and ``.detach().float().cpu().numpy()``), with the model in torch
(fp16 on a GPU as JetRacer runs it, fp32 on a CPU) and, to be fair to it, under ``torch.no_grad()``
(JetRacer's loop has none, which only makes it slower). A model trained in another convention (ours
is RGB) runs there as ``jetracer export --format jetracer`` would hand it to JetRacer: its first
convolution converted to JetRacer's convention.

Pipelines run interleaved, one frame each in turn, so a neighbour loading the CPU slows all of
them alike and the ratios stay meaningful on a shared machine.
"""

import os
import platform
import sys
import time

import numpy as np

from .backends import cuda_device_info, have

__all__ = ["STAGES", "ReferencePipeline", "EnginePipeline", "run_bench", "machine_info", "library_versions",
           "format_table", "default_pipelines", "percentiles"]

STAGES = ("frame", "preprocess", "inference", "output", "pwm")


def _make_car(gain):
    """A real NvidiaRacecar on a virtual bus with a PCA9685 twin (the sim profile's steering gain)."""
    from ..i2c import PCA9685Twin, VirtualI2C
    from ..racecar import NvidiaRacecar

    bus = VirtualI2C()
    twin = PCA9685Twin(0x40)
    bus.attach(twin)
    return NvidiaRacecar(i2c=bus, steering_gain=gain), twin


class ReferencePipeline:
    """JetRacer's per-frame steps (road_following notebook), timed per stage."""

    name = "reference"

    def __init__(self, model, meta, device="cpu", half=False, steering_gain=0.75, car_gain=-0.65):
        import torch
        import torchvision.transforms.functional as tf

        from .fold import to_jetracer_convention

        self.torch, self.tf = torch, tf
        self.device = torch.device(device)
        self.half = half
        # what `jetracer export --format jetracer` gives JetRacer's notebooks
        model, meta, self.converted_from = to_jetracer_convention(model, meta)
        self.model = model.float().to(self.device).eval()
        if half:
            self.model = self.model.half()
        self.mean = torch.tensor(meta["mean"], device=self.device)
        self.std = torch.tensor(meta["std"], device=self.device)
        self.gain = steering_gain
        self.car, self.twin = _make_car(car_gain)
        self.backend, self.precision = "torch (JetRacer steps)", "fp16" if half else "fp32"

    def step(self, frame):
        import PIL.Image

        torch = self.torch
        t0 = time.perf_counter()
        image = PIL.Image.fromarray(frame)  # the BGR camera frame as it is: JetRacer never swaps
        x = self.tf.to_tensor(image).to(self.device)
        x.sub_(self.mean[:, None, None]).div_(self.std[:, None, None])
        x = x[None, ...]
        if self.half:
            x = x.half()
        t1 = time.perf_counter()
        with torch.no_grad():
            out = self.model(x)
        if self.device.type == "cuda":  # JetRacer's .cpu() below waits anyway; keep the stages honest
            torch.cuda.synchronize(self.device)
        t2 = time.perf_counter()
        out = out.detach().float().cpu().numpy().flatten()
        x_value = float(out[0])
        t3 = time.perf_counter()
        self.car.steering = x_value * self.gain
        t4 = time.perf_counter()
        return (t1 - t0, t2 - t1, t3 - t2, t4 - t3), x_value

    def close(self):
        self.car.close()


class EnginePipeline:
    """Ours: ``engine(frame) -> (x, y)``, preprocessing folded into the network."""

    def __init__(self, name, engine, steering_gain=0.75, car_gain=-0.65):
        self.name = name
        self.engine = engine
        self.backend, self.precision = engine.backend, engine.precision
        self.gain = steering_gain
        self.car, self.twin = _make_car(car_gain)

    def step(self, frame):
        t0 = time.perf_counter()
        x_value, _ = self.engine(frame)
        t3 = time.perf_counter()
        self.car.steering = x_value * self.gain
        t4 = time.perf_counter()
        pre = self.engine.last_timings["preprocess_ms"] / 1e3
        inf = self.engine.last_timings["inference_ms"] / 1e3
        return (pre, inf, max(0.0, (t3 - t0) - pre - inf), t4 - t3), x_value

    def close(self):
        self.car.close()
        self.engine.close()


def percentiles(values_ms):
    v = np.asarray(values_ms, dtype=np.float64)
    return {"p50_ms": float(np.percentile(v, 50)), "p99_ms": float(np.percentile(v, 99)),
            "mean_ms": float(v.mean())}


def run_bench(pipelines, frames, n_frames, warmup=5, progress=None):
    """Run every pipeline on ``n_frames`` frames (cycling through ``frames``), interleaved.

    Returns one row per pipeline: stages and end-to-end percentiles, fps, ratio vs the first
    pipeline (the reference) and max/mean |dx| against the reference's output on the same frames.
    """
    k = len(pipelines)
    times = np.zeros((k, n_frames, len(STAGES)))
    xs = np.zeros((k, n_frames))
    step = max(1, n_frames // 10)
    for i in range(-warmup, n_frames):
        frame_index = i % len(frames)
        for j in range(k):
            p = (j + i) % k  # rotate who goes first, so no pipeline always runs on a cold cache
            t0 = time.perf_counter()
            frame = frames[frame_index]  # the camera's newest frame: a reference, as camera.value is
            t1 = time.perf_counter()
            stages, x_value = pipelines[p].step(frame)
            if i >= 0:
                times[p, i, 0] = t1 - t0
                times[p, i, 1:] = stages
                xs[p, i] = x_value
        if progress is not None and i >= 0 and ((i + 1) % step == 0 or i + 1 == n_frames):
            progress(i + 1, n_frames)
    times *= 1e3
    rows = []
    ref_e2e = None
    for p, pipe in enumerate(pipelines):
        e2e = times[p].sum(axis=1)
        row = {"name": pipe.name, "backend": pipe.backend, "precision": pipe.precision,
               "stages": {s: percentiles(times[p, :, n]) for n, s in enumerate(STAGES)},
               "end_to_end": percentiles(e2e), "fps": float(1e3 / e2e.mean())}
        if ref_e2e is None:
            ref_e2e = row["end_to_end"]
        row["speedup_p50"] = ref_e2e["p50_ms"] / row["end_to_end"]["p50_ms"]
        row["speedup_p99"] = ref_e2e["p99_ms"] / row["end_to_end"]["p99_ms"]
        dx = np.abs(xs[p] - xs[0])
        row["parity_vs_reference"] = {"max_dx": float(dx.max()), "mean_dx": float(dx.mean())}
        row["pwm_us"] = pipe.twin.pulse_us(0)
        rows.append(row)
    return rows


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    info = {"cpu": _cpu_model(), "arch": platform.machine(), "cores": os.cpu_count()}
    try:
        info["usable_cores"] = len(os.sched_getaffinity(0))
    except AttributeError:
        info["usable_cores"] = os.cpu_count()
    try:
        info["load_average"] = [round(v, 2) for v in os.getloadavg()]
    except OSError:
        pass
    try:
        with open("/proc/device-tree/model") as f:
            info["board"] = f.read().strip("\x00\n ")
    except OSError:
        pass
    gpu = cuda_device_info()
    info["gpu"] = "%s (compute capability %s)" % (gpu["name"], gpu["compute_capability"]) if gpu else None
    return info


def library_versions():
    import jetracer

    versions = {"python": platform.python_version(), "jetracer": jetracer.__version__}
    for name in ("numpy", "torch", "torchvision", "onnxruntime", "onnx", "tensorrt", "torch2trt", "cv2", "PIL"):
        if name in sys.modules or have(name):
            versions[name] = getattr(sys.modules[name], "__version__", "installed")
        else:
            versions[name] = None
    return versions


def default_pipelines():
    """Pipeline names this machine can run, besides the reference."""
    names = ["torch-fp32"]
    gpu = cuda_device_info()
    if gpu:
        names = ["torch-fp16"]
    if have("onnxruntime") and have("onnx"):
        names += ["onnxruntime-fp32", "onnxruntime-int8"]
    if gpu and have("tensorrt") and have("torch2trt"):
        names += ["tensorrt-fp16"] + (["tensorrt-int8"] if _int8(gpu) else [])
    return names


def _int8(gpu):
    from .backends import int8_supported

    return int8_supported(gpu["compute_capability"])


def format_table(rows):
    head = ("pipeline", "backend", "prec") + STAGES + ("e2e p50", "e2e p99", "fps", "speed-up", "max|dx|")
    lines = []
    for r in rows:
        cells = [r["name"], r["backend"], r["precision"]]
        cells += ["%.2f" % r["stages"][s]["p50_ms"] for s in STAGES]
        cells += ["%.2f" % r["end_to_end"]["p50_ms"], "%.2f" % r["end_to_end"]["p99_ms"], "%.1f" % r["fps"],
                  "%.2fx" % r["speedup_p50"], "%.4f" % r["parity_vs_reference"]["max_dx"]]
        lines.append(cells)
    widths = [max(len(str(c)) for c in col) for col in zip(head, *lines)]
    fmt = "  ".join("%%-%ds" % w if i < 3 else "%%%ds" % w for i, w in enumerate(widths))
    out = [fmt % head, fmt % tuple("-" * w for w in widths)]
    out += [fmt % tuple(c) for c in lines]
    return "\n".join(out)
