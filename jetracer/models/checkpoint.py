"""Model files: what ``jetracer train`` writes and what every engine backend reads.

A checkpoint is a plain dict (so ``torch.load(..., weights_only=True)`` opens it safely)::

    {"format": "jetracer-model", "version": 1, "arch": "resnet18", "state_dict": {...},
     "input_size": [h, w], "categories": ["apex"], "channel_order": "RGB",
     "mean": [...], "std": [...], "val_loss": 0.01, "dataset": {...}, ...}

A bare JetRacer ``torch.save(model.state_dict())`` (resnet18 with ``fc = Linear(512, 2)``) loads too:
the arch is recognised from its layer names and the metadata takes JetRacer's defaults, including its
input convention (the BGR frame, ImageNet statistics in RGB order: see ``convention.py``). Our
checkpoints keep the convention they record. Weights saved
in fp16 load into an fp32 model. Anything else is a one-line :class:`ModelError`, never a traceback.
"""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Tuple

from ..errors import ModelError
from ..util.atomic import atomic_save_torch
from .convention import DEFAULT_CATEGORY, IMAGENET_MEAN, IMAGENET_STD, JETRACER, default_categories, input_convention
from .factory import ARCHS, build_model

if TYPE_CHECKING:
    import torch

    from ..protocols import PathLike

__all__ = ["FORMAT", "VERSION", "IMAGENET_MEAN", "IMAGENET_STD", "default_meta", "save_checkpoint",
           "load_checkpoint", "load_model", "load_error_reason"]

FORMAT = "jetracer-model"
VERSION = 1

# Last layer of each arch's head: its output count tells how many categories a bare state_dict has.
_HEAD_WEIGHT = {"resnet18": "fc.weight", "resnet34": "fc.weight",
                "mobilenet_v3_small": "classifier.3.weight", "tiny": "head.3.weight",
                "fast": "out.weight"}


def default_meta() -> Dict[str, Any]:
    """What a JetRacer model implies: resnet18, one "apex" category, 224x224, JetRacer's input convention."""
    return {"arch": "resnet18", "input_size": [224, 224], "categories": [DEFAULT_CATEGORY],
            "channel_order": JETRACER["channel_order"], "mean": list(JETRACER["mean"]), "std": list(JETRACER["std"]),
            "val_loss": None, "dataset": {}}


def save_checkpoint(path: "PathLike", model: "torch.nn.Module", meta: Optional[Mapping[str, Any]],
                    half: bool = False) -> Path:
    """Write ``model``'s weights and ``meta`` atomically. ``half`` stores float weights as fp16 (half the size).

    ``meta`` should name the input convention the weights were trained on (``channel_order``,
    ``mean``, ``std``); what it leaves out is recorded as JetRacer's.
    """
    model = getattr(model, "module", model)  # unwrap DistributedDataParallel
    state = {}
    for key, value in model.state_dict().items():
        value = value.detach().cpu().clone()
        if half and value.is_floating_point():
            value = value.half()
        state[key] = value
    full = default_meta()
    full.update(_plain(meta or {}))
    if full["arch"] not in ARCHS:
        raise ModelError("cannot save %s: unknown arch %r" % (path, full["arch"]))
    full.update(input_convention(full))  # checked and normalised ("rgb" -> "RGB") before it is on disk
    full.update({"format": FORMAT, "version": VERSION, "state_dict": state})
    atomic_save_torch(full, path)
    return Path(path)


def _plain(meta: Mapping[str, Any]) -> Dict[str, Any]:
    """Metadata as JSON types only (a Path or numpy float would stop weights_only loading)."""
    return json.loads(json.dumps(meta, default=_jsonable))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def load_checkpoint(path: "PathLike", map_location: Any = "cpu") -> Tuple[Dict[str, "torch.Tensor"], Dict[str, Any]]:
    """``(state_dict, meta)`` from a jetracer checkpoint or a bare state_dict, without building a model."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError("model file %s not found: pass the .pth written by `jetracer train`" % path)
    obj = _read(torch, path, map_location)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        version = obj.get("version", 0)
        if isinstance(version, bool) or not isinstance(version, int):
            raise ModelError("%s is a damaged jetracer model (format version %r): retrain or copy it again"
                             % (path, version))
        if version > VERSION:
            raise ModelError("%s was written by a newer jetracer (format version %s, this one reads %d): "
                             "upgrade jetracer" % (path, obj.get("version"), VERSION))
        meta = default_meta()
        meta.update({k: v for k, v in obj.items() if k != "state_dict"})
        try:
            meta.update(input_convention(meta))
        except ModelError as exc:
            raise ModelError("%s: %s" % (path, exc)) from None
        state: Any = obj.get("state_dict")
        if not _is_state_dict(torch, state):
            raise ModelError("%s is a damaged jetracer model (no weights inside): retrain or copy it again" % path)
        check_model_meta(meta, path)
        return _strip_prefix(state), meta
    if isinstance(obj, dict) and "engine" in obj:
        raise ModelError("%s is a TensorRT engine (torch2trt TRTModule), not a model: use it with --engine, "
                         "or pass the .pth it was built from" % path)
    if _is_state_dict(torch, obj):
        state = _strip_prefix(obj)
        meta = default_meta()
        meta["arch"] = _guess_arch(state, path)
        meta["categories"] = _default_categories(state, meta["arch"], path)
        meta["input_size"] = list(ARCHS[meta["arch"]][0])
        meta["format"] = "state_dict"
        return state, meta
    raise ModelError("%s is not a model file (it holds a %s): expected a .pth from `jetracer train` or a JetRacer "
                     "state_dict" % (path, type(obj).__name__))


def check_model_meta(meta: Mapping[str, Any], path: "PathLike",
                     error: Callable[[str], Exception] = ModelError) -> None:
    """Raise ``error`` (one line naming the field) when a model's recorded input convention was
    edited into something unusable: a size that exhausts memory, a std of 0, a stray category list.
    Engines carry the same fields in their header and are checked with this too."""
    import math
    import numbers

    def numbers_of(value: Any, count: int, kind: Any = numbers.Real) -> bool:
        return (isinstance(value, (list, tuple)) and len(value) == count and all(
            isinstance(v, kind) and not isinstance(v, bool) and math.isfinite(v) for v in value))

    def bad(field: str, rule: str) -> Exception:
        return error("%s: %r = %r %s (was the file edited?): rebuild or retrain it" % (
            path, field, meta.get(field), rule))

    size: Any = meta.get("input_size")
    if not numbers_of(size, 2, numbers.Integral) or not all(16 <= v <= 1024 for v in size):
        raise bad("input_size", "must be [height, width], 16-1024 pixels")
    for field in ("mean", "std"):
        if field in meta and not numbers_of(meta[field], 3):
            raise bad(field, "must be 3 numbers")
    if "std" in meta and not all(v > 0 for v in meta["std"]):
        raise bad("std", "must be 3 numbers above 0")
    categories = meta.get("categories", [DEFAULT_CATEGORY])
    if not (isinstance(categories, list) and categories and all(isinstance(c, str) for c in categories)):
        raise bad("categories", "must be a list of names")
    order = meta.get("channel_order", "RGB")
    if not isinstance(order, str) or sorted(order.upper()) != ["B", "G", "R"]:
        raise bad("channel_order", "must be RGB or BGR")


def load_model(path: "PathLike", map_location: Any = "cpu") -> Tuple["torch.nn.Module", Dict[str, Any]]:
    """``(model in eval mode, meta)``; weights in fp16 load into fp32; mismatches are one-line ModelErrors."""
    state, meta = load_checkpoint(path, map_location=map_location)
    arch = meta.get("arch")
    if arch not in ARCHS:
        raise ModelError("%s names arch %r, which this jetracer does not know (it knows %s)" % (
            path, arch, ", ".join(sorted(ARCHS))))
    categories = meta.get("categories") or [DEFAULT_CATEGORY]
    model = build_model(arch, num_categories=len(categories))
    _check_fit(model, state, arch, path)
    model.load_state_dict(state)
    model.float()
    if map_location is not None:
        model.to(map_location)
    return model.eval(), meta


def _read(torch: Any, path: Path, map_location: Any) -> Any:
    """The file's object, resolving only the globals a state_dict names, the same way on every torch
    (torch 1.10 has no weights-only mode; torch 1.13's refuses the floats in our metadata)."""
    import warnings

    from ..util.safe_pickle import TENSOR_GLOBALS, TORCH2TRT_GLOBALS, torch_load_allowed

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "pickle protocol 4" chatter on foreign pickles
            return torch_load_allowed(str(path), TENSOR_GLOBALS | TORCH2TRT_GLOBALS, map_location=map_location)
    except Exception as exc:  # pickle, zip, EOF, unsafe global...: all mean "not a file we can read"
        raise ModelError("%s is not a model file torch can read (%s): expected a .pth from `jetracer train` "
                         "or a JetRacer state_dict" % (path, load_error_reason(exc))) from None


def load_error_reason(exc: BaseException) -> str:
    """The informative line of a ``torch.load`` failure (its messages run to a dozen lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "WeightsUnpickler error" in line:
            return line.replace("WeightsUnpickler error: ", "")[:120]
    return (lines[0] if lines else type(exc).__name__)[:120]


def _is_state_dict(torch: Any, obj: Any) -> bool:
    return (isinstance(obj, dict) and len(obj) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()))


def _strip_prefix(state: Mapping[str, Any]) -> Dict[str, Any]:
    """Weights saved from a DataParallel/DDP wrapper carry a ``module.`` prefix; drop it."""
    if all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def _guess_arch(state: Mapping[str, Any], path: Path) -> str:
    if "fc.weight" in state and "layer1.0.conv1.weight" in state:
        if "layer1.0.conv3.weight" in state:
            raise ModelError("%s holds a bottleneck ResNet (resnet50 or larger), which jetracer does not build: "
                             "retrain with --arch resnet18 or resnet34" % path)
        return "resnet34" if "layer1.2.conv1.weight" in state else "resnet18"
    if "classifier.3.weight" in state and "features.0.0.weight" in state:
        return "mobilenet_v3_small"
    if "head.3.weight" in state and "features.0.weight" in state:
        return "tiny"
    if "out.weight" in state and "body.0.weight" in state:
        return "fast"
    example = next(iter(state))
    raise ModelError("%s holds weights of a network jetracer does not recognise (first layer %r): expected "
                     "a road-following model (resnet18 with fc = Linear(512, 2), as JetRacer)" % (path, example))


def _default_categories(state: Mapping[str, Any], arch: str, path: Path) -> List[str]:
    outputs = state[_HEAD_WEIGHT[arch]].shape[0]
    if outputs % 2:
        raise ModelError("%s: the head has %d outputs, not (x, y) pairs: this is not a road-following model "
                         "(JetRacer's has fc = Linear(512, 2))" % (path, outputs))
    return default_categories(outputs // 2)


def _check_fit(model: "torch.nn.Module", state: Mapping[str, Any], arch: str, path: "PathLike") -> None:
    """Compare names and shapes first, so a mismatch is one readable line instead of torch's essay."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or wrong):
        return
    parts = []
    if missing:
        parts.append("%d missing (e.g. %s)" % (len(missing), missing[0]))
    if unexpected:
        parts.append("%d unexpected (e.g. %s)" % (len(unexpected), unexpected[0]))
    if wrong:
        k = wrong[0]
        parts.append("%d of another shape (e.g. %s %s, expected %s)" % (
            len(wrong), k, list(state[k].shape), list(expected[k].shape)))
    raise ModelError("%s: weights do not fit arch %s with %d output(s): %s; check --arch and the categories" % (
        path, arch, model.state_dict()[_HEAD_WEIGHT[arch]].shape[0], "; ".join(parts)))
