"""Build an engine from a model, and load one from a file, whatever the backend.

``load_engine(path)`` reads our engine files (the header names the backend) and plain model
checkpoints (.pth, run with the torch backend, or built on the fly for another backend). Engines
are built from the fp32 model with its preprocessing folded in (``fold.py``).
"""

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..errors import EngineError, JetracerError, ModelError
from .backends import BACKENDS, choose_backend, choose_precision, cuda_device_info, require
from .base import Resizer
from .fileformat import MAGIC, read_engine_file
from .fold import fold_preprocessing, pad_raw_frames

if TYPE_CHECKING:
    import torch

    from ..protocols import PathLike
    from .base import Engine
    from .fold import RawPixelModel

__all__ = ["load_engine", "build_engine", "load_model_file", "engine_meta", "fold_model", "calibration_inputs",
           "holds_engine"]

log = logging.getLogger(__name__)


def engine_meta(model_meta: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The parts of a checkpoint's metadata an engine needs, with JetRacer's defaults (its input
    convention included: a model that does not say is a JetRacer model)."""
    from ..models.convention import DEFAULT_CATEGORY, input_convention

    model_meta = dict(model_meta or {})
    meta = {"arch": model_meta.get("arch", "resnet18"),
            "categories": list(model_meta.get("categories") or [DEFAULT_CATEGORY])}
    meta.update(input_convention(model_meta))
    meta["throttle_output"] = bool(model_meta.get("throttle_output", False))  # last pair: (throttle, unused)
    return meta


def load_model_file(path: "PathLike") -> Tuple["torch.nn.Module", Dict[str, Any]]:
    """(fp32 model in eval mode, checkpoint metadata) from a .pth (jetracer or plain JetRacer)."""
    from ..models import load_model

    model, meta = load_model(str(path), map_location="cpu")
    return model.float().eval(), dict(meta or {})


def fold_model(model: "torch.nn.Module", meta: Dict[str, Any]) -> "RawPixelModel":
    """The raw-pixel model for ``meta`` (see :func:`engine_meta`); checks outputs = 2 per category."""
    folded = fold_preprocessing(model, meta["mean"], meta["std"], channel_order=meta["channel_order"],
                                input_order="BGR", input_size=meta["input_size"])
    folded.input_size = tuple(meta["input_size"])
    import torch

    h, w = meta["input_size"]
    ph, pw = folded.pad
    with torch.no_grad():
        outputs = folded(torch.zeros(1, 3, h + 2 * ph, w + 2 * pw)).shape[-1]
    if outputs != 2 * len(meta["categories"]):
        if len(meta["categories"]) == 1 and outputs % 2 == 0:
            from ..models.convention import default_categories

            meta["categories"] = default_categories(outputs // 2)
        else:
            raise EngineError("the model has %d outputs but %d categories: expected 2 per category"
                              % (outputs, len(meta["categories"])))
    return folded


def calibration_inputs(frames: Sequence[np.ndarray], meta: Mapping[str, Any], pad: Sequence[int],
                       pad_value: Sequence[float]) -> List[np.ndarray]:
    """BGR frames of any size -> padded float32 network inputs (for int8 calibration)."""
    resize = Resizer(meta["input_size"])
    return [pad_raw_frames(resize(f).copy(), pad, pad_value) for f in frames]


def build_engine(model: "torch.nn.Module", model_meta: Optional[Mapping[str, Any]] = None, backend: str = "auto",
                 precision: str = "auto", calib_frames: Optional[Sequence[np.ndarray]] = None,
                 device: Optional[str] = None, threads: Optional[int] = None, workspace_bytes: Optional[int] = None,
                 calib_algorithm: str = "minmax") -> "Engine":
    """An engine for ``model`` (fp32, trained in the input convention ``model_meta`` records; none
    recorded means JetRacer's: the BGR frame, ImageNet statistics in RGB order).

    ``calib_frames``: BGR uint8 frames for int8 calibration. ``device``/``threads`` tune the
    torch and onnxruntime backends; ``workspace_bytes``/``calib_algorithm`` the TensorRT build.
    Raises BackendMissing / EngineError in one line.
    """
    import jetracer

    meta = engine_meta(model_meta)
    backend = choose_backend(backend)
    on_gpu = backend == "tensorrt" or (backend == "torch" and str(device or "cuda").startswith("cuda"))
    gpu = cuda_device_info() if on_gpu else None
    providers = require("onnxruntime").get_available_providers() if backend == "onnxruntime" else ()
    precision = choose_precision(backend, precision, gpu=gpu, can_calibrate=bool(calib_frames),
                                 onnx_providers=providers)
    folded = fold_model(model, meta)
    meta.update(jetracer=jetracer.__version__, precision=precision)
    if backend == "torch":
        from .torch_engine import TorchEngine

        source = {"arch": meta["arch"], "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                  "meta": dict(model_meta or {}, categories=meta["categories"], input_size=meta["input_size"])}
        return TorchEngine(folded, meta, device=device, precision=precision, source=source)
    calib = None
    if precision == "int8":
        calib = calibration_inputs(calib_frames or [], meta, folded.pad, folded.pad_value)
    meta.update(pad=list(folded.pad), pad_value=list(folded.pad_value))
    if backend == "onnxruntime":
        from .onnx_engine import OnnxEngine, export_onnx, quantize_int8

        onnx_bytes = export_onnx(folded)
        if precision == "int8":
            onnx_bytes = quantize_int8(onnx_bytes, calib)
        meta["onnxruntime"] = require("onnxruntime").__version__
        return OnnxEngine(onnx_bytes, meta, threads=threads)
    from .trt_engine import DEFAULT_WORKSPACE_BYTES, build_tensorrt

    return build_tensorrt(folded, meta, precision, calib, workspace_bytes=workspace_bytes or DEFAULT_WORKSPACE_BYTES,
                          calib_algorithm=calib_algorithm)


def load_engine(path: "PathLike", backend: str = "auto", device: Optional[str] = None, threads: Optional[int] = None,
                precision: str = "auto") -> "Engine":
    """The engine in ``path``: a jetracer engine file (backend from its header) or a model .pth.

    A .pth runs with the torch backend under ``backend="auto"``; naming another backend builds that
    engine in memory (``precision`` auto: fp32 onnxruntime, fp16 TensorRT; int8 needs calibration,
    which ``jetracer optimize`` or :func:`jetracer.engine.optimize.cached_engine` do). For an engine
    file, ``precision`` other than auto must match the file's.
    """
    path = Path(path)
    if backend not in ("auto",) + BACKENDS:
        raise EngineError("unknown backend %r: choose auto, %s" % (backend, ", ".join(BACKENDS)))
    try:
        with open(str(path), "rb") as f:
            head = f.read(len(MAGIC))
    except OSError as exc:
        what = "not found" if isinstance(exc, FileNotFoundError) else "unreadable (%s)" % (exc.strerror or exc)
        how = "" if backend == "auto" else " --backend %s" % backend
        raise EngineError("engine file %s %s: build it on this machine with `jetracer optimize MODEL.pth%s --out %s` "
                          "(or name MODEL.pth as the profile's [engine] model to build it once)"
                          % (path, what, how, path)) from None
    if head == MAGIC:
        header, payload = read_engine_file(path)
        check_engine_header(header, path)
        if precision not in ("auto", header.get("precision")):
            raise EngineError("%s is a %s engine, not %s: build a %s one with `jetracer optimize --precision %s`"
                              % (path, header.get("precision"), precision, precision, precision))
        try:
            return engine_from_file_parts(header, payload, path, backend=backend, device=device, threads=threads)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, MemoryError) as exc:
            raise EngineError("%s does not describe a usable engine (%s: %s): was it edited? "
                              "rebuild it with `jetracer optimize MODEL.pth --out %s`"
                              % (path, type(exc).__name__, exc, path)) from None
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":  # torch.save: zip archive or legacy pickle
        try:
            model, meta = load_model_file(path)
        except ModelError:
            state = _read_torch2trt_state(path)
            if state is None:
                raise
            return _torch2trt_file_engine(state, path, backend)
        except JetracerError:
            raise
        except Exception as exc:  # noqa: BLE001 - torch.load fails in many ways on a damaged file
            raise EngineError("%s is not a loadable model (%s): re-save it, or train one with `jetracer train`"
                              % (path, str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__)) from None
        if backend == "auto":
            backend = "torch"
        return build_engine(model, meta, backend=backend, precision=precision, device=device, threads=threads)
    raise EngineError("%s is neither a jetracer engine nor a model checkpoint: build an engine with "
                      "`jetracer optimize MODEL.pth --out %s`" % (path, path))


def check_engine_header(header: Mapping[str, Any], path: "PathLike") -> None:
    """One line naming the field when an engine header was edited into something unusable: an input
    size, normalisation or padding a backend would otherwise turn into a crash, a memory blow-up or
    silently wrong steering. (The checksum covers the payload only; the header is plain JSON.)"""
    import math
    import numbers

    from ..models.checkpoint import check_model_meta

    def numbers_of(value: Any, count: int, kind: Any = numbers.Real) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) == count and all(
            isinstance(v, kind) and not isinstance(v, bool) and math.isfinite(v) for v in value))

    def bad(field: str, rule: str) -> EngineError:
        return EngineError("%s: header field %r = %r %s (was the file edited?): rebuild it with `jetracer optimize "
                           "MODEL.pth --out %s`" % (path, field, header.get(field), rule, path))

    def engine_error(message: str) -> EngineError:
        return EngineError("%s; rebuild it with `jetracer optimize MODEL.pth --out %s`" % (
            message.replace(": rebuild or retrain it", ""), path))

    check_model_meta(header, path, engine_error)
    if header.get("precision", "fp32") not in ("fp32", "fp16", "int8"):
        raise bad("precision", "must be fp32, fp16 or int8")
    if "pad" in header and (not numbers_of(header["pad"], 2, numbers.Integral) or
                            not all(0 <= v <= 512 for v in header["pad"])):
        raise bad("pad", "must be 2 integers 0-512")
    if "pad_value" in header and not numbers_of(header["pad_value"], 3):
        raise bad("pad_value", "must be 3 numbers")


def holds_engine(path: "PathLike") -> bool:
    """True for a jetracer engine file or a torch2trt TRTModule file (whatever its name ends with)."""
    try:
        with open(str(path), "rb") as f:
            if f.read(len(MAGIC)) == MAGIC:
                return True
    except OSError:
        return False
    return _read_torch2trt_state(path) is not None


def _read_torch2trt_state(path: "PathLike") -> Optional[Dict[str, Any]]:
    """The dict of a JetRacer-style ``torch.save(model_trt.state_dict())`` file, or None.

    Read with an unpickler that resolves exactly what torch2trt stores (an OrderedDict, the engine
    as a bytearray) and nothing else, the same on torch 1.10 to 2.x; torch's own weights-only mode
    refuses the bytearray before torch 2.5 (pytorch#133163).
    """
    from ..util.safe_pickle import TORCH2TRT_GLOBALS, torch_load_allowed

    try:
        obj = torch_load_allowed(str(path), TORCH2TRT_GLOBALS)
    except Exception:  # noqa: BLE001 - not loadable this way: not a torch2trt file
        return None
    if isinstance(obj, dict) and isinstance(obj.get("engine"), (bytes, bytearray)) and "input_names" in obj:
        return obj
    return None


def _torch2trt_file_engine(state: Dict[str, Any], path: "PathLike", backend: str) -> "Engine":
    """JetRacer's TRTModule file: run where torch2trt and TensorRT are, else one line saying what to do."""
    from .backends import have

    if backend not in ("auto", "tensorrt"):
        raise EngineError("%s is a TensorRT engine (torch2trt), not a %s one: use --backend auto or tensorrt"
                          % (path, backend))
    if not (have("tensorrt") and have("torch2trt")):
        raise EngineError("%s is a plain torch2trt engine (JetRacer's TRTModule file); loading it needs torch2trt and "
                          "TensorRT, which are not here: on the car that built it, install torch2trt, or rebuild it "
                          "with `jetracer optimize MODEL.pth --backend tensorrt --out ENGINE` from the model it was "
                          "made from" % path)
    from .trt_engine import engine_from_torch2trt_state

    if cuda_device_info() is None:
        raise EngineError("%s is a TensorRT engine and this machine has no CUDA GPU: use the model .pth it was built "
                          "from with --backend torch or onnxruntime" % path)
    return engine_from_torch2trt_state(state, path)


def engine_from_file_parts(header: Dict[str, Any], payload: bytes, path: "PathLike" = "engine", backend: str = "auto",
                           device: Optional[str] = None, threads: Optional[int] = None) -> "Engine":
    built = header.get("backend")
    if built not in BACKENDS:
        raise EngineError("%s names an unknown backend %r: rebuild it with `jetracer optimize`" % (path, built))
    if backend not in ("auto", built):
        raise EngineError("%s is a %s engine, not %s: use --backend auto, or build a %s engine with "
                          "`jetracer optimize --backend %s`" % (path, built, backend, backend, backend))
    if built == "onnxruntime":
        from .onnx_engine import OnnxEngine

        return OnnxEngine(payload, header, threads=threads)
    if built == "tensorrt":
        from .trt_engine import load_tensorrt_engine

        return load_tensorrt_engine(payload, header, path)
    return _torch_engine_from_payload(header, payload, path, device)


def _torch_engine_from_payload(header: Dict[str, Any], payload: bytes, path: "PathLike",
                               device: Optional[str]) -> "Engine":
    import io

    import torch

    from ..models import build_model
    from ..util.safe_pickle import TENSOR_GLOBALS, torch_load_allowed
    from .torch_engine import TorchEngine

    try:
        source = torch_load_allowed(io.BytesIO(payload), TENSOR_GLOBALS)  # the same on every torch (1.13: floats)
        meta = engine_meta(dict(source["meta"], arch=source["arch"]))
        model = build_model(source["arch"], num_categories=len(meta["categories"]))
        model.load_state_dict(source["state_dict"])
    except JetracerError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise EngineError("%s holds a torch model that does not load (%s): rebuild it with `jetracer optimize`"
                          % (path, str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__)) from None
    precision = header.get("precision", "fp32")
    use_gpu = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu")).type == "cuda"
    if precision == "fp16" and not use_gpu:
        log.warning("%s is an fp16 torch engine but there is no GPU here: running it in fp32", path)
        precision = "fp32"
    folded = fold_model(model.float().eval(), meta)
    meta = dict(header, **meta)
    return TorchEngine(folded, meta, device=device, precision=precision, source=source)

