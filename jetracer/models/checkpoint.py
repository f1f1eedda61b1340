"""Model files: what ``jetracer train`` writes and what every engine backend reads.

A checkpoint is a plain dict (so ``torch.load(..., weights_only=True)`` opens it safely)::

    {"format": "jetracer-model", "version": 1, "arch": "resnet18", "state_dict": {...},
     "input_size": [h, w], "categories": ["apex"], "channel_order": "RGB",
     "mean": [...], "std": [...], "val_loss": 0.01, "dataset": {...}, ...}

A bare JetRacer ``torch.save(model.state_dict())`` (resnet18 with ``fc = Linear(512, 2)``) loads too:
the arch is recognised from its layer names and the metadata takes JetRacer's defaults. Weights saved
in fp16 load into an fp32 model. Anything else is a one-line :class:`ModelError`, never a traceback.
"""

import json
from pathlib import Path

from ..errors import ModelError
from ..util.atomic import atomic_save_torch
from .factory import ARCHS, build_model

__all__ = ["FORMAT", "VERSION", "IMAGENET_MEAN", "IMAGENET_STD", "default_meta", "save_checkpoint",
           "load_checkpoint", "load_model", "load_error_reason"]

FORMAT = "jetracer-model"
VERSION = 1
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]

# Last layer of each arch's head: its output count tells how many categories a bare state_dict has.
_HEAD_WEIGHT = {"resnet18": "fc.weight", "resnet34": "fc.weight",
                "mobilenet_v3_small": "classifier.3.weight", "tiny": "head.3.weight",
                "fast": "out.weight"}


def default_meta():
    """What a JetRacer model implies: resnet18, one "apex" category, 224x224 RGB, ImageNet normalisation."""
    return {"arch": "resnet18", "input_size": [224, 224], "categories": ["apex"], "channel_order": "RGB",
            "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "val_loss": None, "dataset": {}}


def save_checkpoint(path, model, meta, half=False):
    """Write ``model``'s weights and ``meta`` atomically. ``half`` stores float weights as fp16 (half the size)."""
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
    full.update({"format": FORMAT, "version": VERSION, "state_dict": state})
    atomic_save_torch(full, path)
    return Path(path)


def _plain(meta):
    """Metadata as JSON types only (a Path or numpy float would stop weights_only loading)."""
    return json.loads(json.dumps(meta, default=_jsonable))


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (tuple, set)):
        return list(value)
    return str(value)


def load_checkpoint(path, map_location="cpu"):
    """``(state_dict, meta)`` from a jetracer checkpoint or a bare state_dict, without building a model."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise ModelError("model file %s not found: pass the .pth written by `jetracer train`" % path)
    obj = _read(torch, path, map_location)
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        if int(obj.get("version", 0)) > VERSION:
            raise ModelError("%s was written by a newer jetracer (format version %s, this one reads %d): "
                             "upgrade jetracer" % (path, obj.get("version"), VERSION))
        meta = default_meta()
        meta.update({k: v for k, v in obj.items() if k != "state_dict"})
        state = obj.get("state_dict")
        if not _is_state_dict(torch, state):
            raise ModelError("%s is a damaged jetracer model (no weights inside): retrain or copy it again" % path)
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


def load_model(path, map_location="cpu"):
    """``(model in eval mode, meta)``; weights in fp16 load into fp32; mismatches are one-line ModelErrors."""
    state, meta = load_checkpoint(path, map_location=map_location)
    arch = meta.get("arch")
    if arch not in ARCHS:
        raise ModelError("%s names arch %r, which this jetracer does not know (it knows %s)" % (
            path, arch, ", ".join(sorted(ARCHS))))
    categories = meta.get("categories") or ["apex"]
    model = build_model(arch, num_categories=len(categories))
    _check_fit(model, state, arch, path)
    model.load_state_dict(state)
    model.float()
    if map_location is not None:
        model.to(map_location)
    return model.eval(), meta


def _read(torch, path, map_location):
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "pickle protocol 4" chatter on foreign pickles
            try:
                return torch.load(str(path), map_location=map_location, weights_only=True)
            except TypeError:  # torch < 1.13
                return torch.load(str(path), map_location=map_location)
    except Exception as exc:  # pickle, zip, EOF, unsafe global...: all mean "not a file we can read"
        raise ModelError("%s is not a model file torch can read (%s): expected a .pth from `jetracer train` "
                         "or a JetRacer state_dict" % (path, load_error_reason(exc))) from None


def load_error_reason(exc):
    """The informative line of a ``torch.load`` failure (its messages run to a dozen lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for line in lines:
        if "WeightsUnpickler error" in line:
            return line.replace("WeightsUnpickler error: ", "")[:120]
    return (lines[0] if lines else type(exc).__name__)[:120]


def _is_state_dict(torch, obj):
    return (isinstance(obj, dict) and len(obj) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()))


def _strip_prefix(state):
    """Weights saved from a DataParallel/DDP wrapper carry a ``module.`` prefix; drop it."""
    if all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def _guess_arch(state, path):
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


def _default_categories(state, arch, path):
    outputs = state[_HEAD_WEIGHT[arch]].shape[0]
    if outputs % 2:
        raise ModelError("%s: the head has %d outputs, not (x, y) pairs: this is not a road-following model "
                         "(JetRacer's has fc = Linear(512, 2))" % (path, outputs))
    n = outputs // 2
    return ["apex"] if n == 1 else ["category%d" % i for i in range(n)]


def _check_fit(model, state, arch, path):
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
