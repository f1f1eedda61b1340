"""Hand a model to other tools: JetRacer's notebooks (a plain state_dict) or anything that runs ONNX.

``jetracer`` format: the ``torch.save(model.state_dict())`` file JetRacer's notebooks load with
``model = torchvision.models.resnet18(); model.fc = torch.nn.Linear(512, 2 * len(CATEGORIES));
model.load_state_dict(torch.load(path))``, in JetRacer's input convention (the BGR camera frame,
ImageNet mean/std in RGB order). A model trained here (RGB) has its first convolution converted
(``fold.convert_convention``), so JetRacer's ``preprocess`` steers it as our engines do.

``onnx`` format: the network with its preprocessing folded in, so the input is the camera frame
itself: float32 ``(N, 3, H, W)``, BGR channel order, raw pixel values 0..255 (``frame.transpose(2,
0, 1)[None].astype("float32")``). The output ``xy`` is ``(N, 2 * categories)``: the normalised
aim point per category (``x_n = 2 * (x / W - 0.5)``). The graph carries this as its doc string
and metadata, for trtexec, Triton or onnxruntime elsewhere.
"""

import json
from pathlib import Path

from ..errors import ModelError
from ..models.convention import DEFAULT_CATEGORY
from ..util.atomic import atomic_save_torch, atomic_write_bytes

__all__ = ["FORMATS", "JETRACER_ARCHS", "export_model", "export_jetracer", "export_onnx_file", "ONNX_INPUT",
           "ONNX_OUTPUT"]

FORMATS = ("jetracer", "onnx")
#: What JetRacer's notebook builds: torchvision ResNet with ``fc = Linear(512, outputs)``.
JETRACER_ARCHS = ("resnet18", "resnet34")
ONNX_INPUT = "bgr"
ONNX_OUTPUT = "xy"


def export_model(model_path, fmt, out):
    """Write ``model_path`` (any model this package loads) as ``fmt`` to ``out``; returns a summary line."""
    if fmt == "jetracer":
        return export_jetracer(model_path, out)
    if fmt == "onnx":
        return export_onnx_file(model_path, out)
    raise ModelError("unknown export format %r: choose %s" % (fmt, ", ".join(FORMATS)))


def _load(model_path):
    from .loader import load_model_file

    return load_model_file(model_path)


def export_jetracer(model_path, out):
    """A plain state_dict in JetRacer's convention and layout (fp32, CPU tensors, no metadata)."""
    from .fold import to_jetracer_convention

    model, meta = _load(model_path)
    arch = meta.get("arch")
    if arch not in JETRACER_ARCHS:
        raise ModelError("%s is a %s model; JetRacer's notebooks build %s, so only those export as --format "
                         "jetracer (use --format onnx for this one)" % (model_path, arch, " or ".join(JETRACER_ARCHS)))
    model, meta, was = to_jetracer_convention(model, meta)
    state = {k: v.detach().float().cpu().clone() if v.is_floating_point() else v.detach().cpu().clone()
             for k, v in model.state_dict().items()}
    atomic_save_torch(state, out)
    categories = list(meta.get("categories") or [DEFAULT_CATEGORY])
    notes = []
    if was:
        notes.append("first convolution converted from %s to JetRacer's BGR input" % was)
    if list(meta["input_size"]) != [224, 224]:
        notes.append("trained at %dx%d: JetRacer's notebooks feed 224x224 frames" % (
            meta["input_size"][1], meta["input_size"][0]))
    return ("wrote %s: torchvision %s state_dict, fc = Linear(512, %d) for CATEGORIES = %r%s; load it with "
            "model.load_state_dict(torch.load(%r))" % (out, arch, 2 * len(categories), categories,
                                                       "; " + "; ".join(notes) if notes else "", Path(out).name))


def _padded_raw_model(model, meta):
    """The folded network behind its own border: raw (N, 3, H, W) BGR pixels in, ``xy`` out."""
    import torch

    from .loader import engine_meta, fold_model

    meta = engine_meta(meta)
    folded = fold_model(model, meta)

    class RawBGR(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = folded
            self.register_buffer("fill", torch.tensor(folded.pad_value, dtype=torch.float32).view(1, 3, 1, 1))
            ph, pw = folded.pad
            self.pad = (pw, pw, ph, ph)

        def forward(self, x):
            # the border is the mean pixel (zero once normalised), as the original convolution padded
            x = torch.nn.functional.pad(x - self.fill, self.pad) + self.fill
            return self.net(x)

    return RawBGR().eval(), meta


def export_onnx_file(model_path, out):
    """ONNX with preprocessing folded: input ``bgr`` raw pixels (N, 3, H, W), output ``xy``."""
    import io
    import warnings

    import torch

    from .backends import require
    from .onnx_engine import ONNX_OPSET

    onnx = require("onnx")
    model, meta = _load(model_path)
    wrapped, meta = _padded_raw_model(model, meta)
    h, w = meta["input_size"]
    categories = list(meta["categories"])
    x = torch.zeros((1, 3, h, w), dtype=torch.float32)
    buf = io.BytesIO()
    kwargs = dict(input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT], opset_version=ONNX_OPSET,
                  do_constant_folding=True, dynamic_axes={ONNX_INPUT: {0: "N"}, ONNX_OUTPUT: {0: "N"}})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(wrapped, (x,), buf, dynamo=False, **kwargs)
        except TypeError:  # torch < 2.5 has no `dynamo` argument
            torch.onnx.export(wrapped, (x,), buf, **kwargs)
    proto = onnx.load_model_from_string(buf.getvalue())
    doc = ("road-following network from %s; input %r: float32 [N, 3, %d, %d], the camera frame in BGR channel "
           "order, raw pixel values 0..255 (no scaling, no mean/std: both are folded into the first convolution); "
           "output %r: float32 [N, %d], (x, y) per category %s, normalised as JetRacer does: x_n = 2 * (x / %d - "
           "0.5), y_n = 2 * (y / %d - 0.5)" % (Path(model_path).name, ONNX_INPUT, h, w, ONNX_OUTPUT,
                                               2 * len(categories), categories, w, h))
    proto.doc_string = doc
    info = {"input": ONNX_INPUT, "input_layout": "NCHW", "input_channel_order": "BGR", "input_range": "0..255",
            "input_size": [h, w], "output": ONNX_OUTPUT, "categories": json.dumps(categories),
            "trained_on": json.dumps({k: meta[k] for k in ("channel_order", "mean", "std")})}
    for key, value in info.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = "jetracer." + key, value if isinstance(value, str) else json.dumps(value)
    atomic_write_bytes(out, proto.SerializeToString())
    return "wrote %s: ONNX opset %d; %s" % (out, ONNX_OPSET, doc)
