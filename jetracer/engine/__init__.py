"""Inference engines: a camera frame in, the aim point out, as fast as this machine allows.

``load_engine(path)`` gives an :class:`Engine` for an engine file (TensorRT via torch2trt,
onnxruntime, torch) or a model .pth; ``build_engine(model, meta, backend, precision)`` makes one;
``cached_engine(model_path)`` builds a parity-checked engine once and keeps it beside the model.
Submodules import torch and the optional backends only when used.
"""

__all__ = ["Engine", "load_engine", "build_engine", "cached_engine", "optimize_model", "available_backends",
           "fold_preprocessing"]

from typing import TYPE_CHECKING

from ..util.lazy import lazy_exports

if TYPE_CHECKING:  # what the lazy table below gives, for type checkers (nothing is imported at run time)
    from .backends import available_backends
    from .base import Engine
    from .fold import fold_preprocessing
    from .loader import build_engine, load_engine
    from .optimize import cached_engine, optimize_model

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
