"""Inference engines: a camera frame in, the aim point out, as fast as this machine allows.

``load_engine(path)`` gives an :class:`Engine` for an engine file (TensorRT via torch2trt,
onnxruntime, torch) or a model .pth; ``build_engine(model, meta, backend, precision)`` makes one;
``cached_engine(model_path)`` builds a parity-checked engine once and keeps it beside the model.
Submodules import torch and the optional backends only when used.
"""

__all__ = ["Engine", "load_engine", "build_engine", "cached_engine", "optimize_model", "available_backends",
           "fold_preprocessing"]

from ..util.lazy import lazy_exports

# keep `import jetracer.engine` free of torch until something is used (not PEP 562: Python 3.6 has none)
lazy_exports(__name__, {
    "Engine": ".base",
    "load_engine": ".loader",
    "build_engine": ".loader",
    "cached_engine": ".optimize",
    "optimize_model": ".optimize",
    "available_backends": ".backends",
    "fold_preprocessing": ".fold",
})
