"""Which inference backends this machine has, and what to install when one is missing.

torch is always there (a dependency); onnxruntime, TensorRT and torch2trt are optional and are
imported only here, on first use, so a missing one is a one-line ``BackendMissing`` with the
install hint, never an ImportError at ``import jetracer``.
"""

import importlib
from types import ModuleType
from typing import Dict, List, Optional, Sequence

from ..errors import BackendMissing, EngineError

__all__ = ["BACKENDS", "PRECISIONS", "require", "have", "available_backends", "cuda_device_info",
           "int8_supported", "choose_backend", "choose_precision"]

BACKENDS = ("tensorrt", "onnxruntime", "torch")
PRECISIONS = ("auto", "fp32", "fp16", "int8")

_HINTS = {
    "onnxruntime": "`pip install onnxruntime` (or `pip install jetracer[onnx]`; on a Jetson use NVIDIA's "
                   "onnxruntime-gpu wheel)",
    "tensorrt": "TensorRT comes with JetPack on a Jetson (`sudo apt install python3-libnvinfer`); on a PC "
                "`pip install tensorrt`",
    "torch2trt": "JetPack 4.6-6.0 (TensorRT 8): `git clone -b v0.5.0 https://github.com/NVIDIA-AI-IOT/torch2trt && "
                 "cd torch2trt && sudo python3 setup.py install`; JetPack 6.1/6.2 (TensorRT 10): the same from master "
                 "(4e820ae or later), without `-b v0.5.0`",
    "onnx": "`pip install onnx` (or `pip install jetracer[onnx]`)",
}


def require(name: str) -> ModuleType:
    """Import an optional module or raise BackendMissing naming the install command."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        hint = _HINTS.get(name, "`pip install %s`" % name)
        raise BackendMissing("%s is not installed (%s): %s" % (name, exc, hint)) from None


def have(name: str) -> bool:
    try:
        require(name)
        return True
    except (BackendMissing, OSError):  # OSError: a wheel whose shared libraries do not load
        return False


def cuda_device_info() -> Optional[Dict[str, str]]:
    """{"name", "compute_capability" "X.Y"} of CUDA device 0, or None without a usable GPU."""
    import torch

    if not torch.cuda.is_available():
        return None
    major, minor = torch.cuda.get_device_capability(0)
    return {"name": torch.cuda.get_device_name(0), "compute_capability": "%d.%d" % (major, minor)}


def int8_supported(compute_capability: Optional[str]) -> bool:
    """TensorRT runs int8 fast from Pascal 6.1 and Volta 7.0 on (Xavier 7.2, Orin 8.7); not on the
    Nano's Maxwell (5.3) nor the TX2 (6.2)."""
    if not compute_capability:
        return False
    major, minor = (int(v) for v in str(compute_capability).split("."))
    return major >= 7 or (major, minor) == (6, 1)


def available_backends() -> List[str]:
    """Backends that can run here, fastest first."""
    import torch

    found = []
    if torch.cuda.is_available() and have("tensorrt") and have("torch2trt"):
        found.append("tensorrt")
    if have("onnxruntime") and have("onnx"):
        found.append("onnxruntime")
    found.append("torch")
    return found


def choose_backend(backend: str) -> str:
    if backend not in ("auto",) + BACKENDS:
        raise EngineError("unknown backend %r: choose auto, %s" % (backend, ", ".join(BACKENDS)))
    return available_backends()[0] if backend == "auto" else backend


def choose_precision(backend: str, precision: str, gpu: Optional[Dict[str, str]] = None, can_calibrate: bool = False,
                     onnx_providers: Sequence[str] = ()) -> str:
    """The precision to build with; a one-line EngineError for combinations that cannot run.

    ``gpu`` is :func:`cuda_device_info` (or None); ``can_calibrate`` says calibration frames exist.
    ``auto``: TensorRT int8 where the GPU has it and frames exist, else fp16 (the Nano); onnxruntime
    int8 on the CPU (4x faster than fp32 there), fp32 when a CUDA provider will run it; torch fp16
    on a GPU, fp32 on the CPU.
    """
    if precision not in PRECISIONS:
        raise EngineError("unknown precision %r: choose %s" % (precision, ", ".join(PRECISIONS)))
    cc = gpu["compute_capability"] if gpu else None
    if backend == "tensorrt":
        if gpu is None:
            raise EngineError("the tensorrt backend needs a CUDA GPU: use --backend onnxruntime or torch here")
        if precision == "auto":
            return "int8" if (can_calibrate and int8_supported(cc)) else "fp16"
        if precision == "int8" and not int8_supported(cc):
            raise EngineError("%s (compute capability %s) has no fast int8 in TensorRT: use --precision fp16"
                              % (gpu["name"], cc))
        return precision
    if backend == "onnxruntime":
        gpu_provider = any(p in onnx_providers for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider"))
        if precision == "auto":
            return "fp32" if gpu_provider or not can_calibrate else "int8"
        if precision == "fp16":
            raise EngineError("the onnxruntime backend builds fp32 or int8 engines: use --precision fp32 or int8 "
                              "(or --backend torch/tensorrt for fp16)")
        return precision
    if backend == "torch":
        if precision == "auto":
            return "fp16" if gpu else "fp32"
        if precision == "int8":
            raise EngineError("the torch backend runs fp32 or fp16: use --backend onnxruntime or tensorrt for int8")
        if precision == "fp16" and gpu is None:
            raise EngineError("fp16 with the torch backend needs a CUDA GPU: use --precision fp32 here")
        return precision
    raise EngineError("unknown backend %r: choose auto, %s" % (backend, ", ".join(BACKENDS)))
