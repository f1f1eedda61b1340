"""A model's input convention: the image size, channel order and normalisation it was trained on.

Every model file says what its network expects, because the same weights fed another convention
steer differently (red and blue swapped is still a road, but a worse one). Two conventions matter:

* JetRacer's: the camera frame as OpenCV/JetCam deliver it (BGR), never swapped, scaled to [0, 1]
  and normalised with the ImageNet mean/std *in RGB order* (0.485 on the blue channel). Its
  notebooks do ``PIL.Image.fromarray(camera.value)`` and its dataset ``cv2.imread``, both BGR. A
  plain state_dict (what JetRacer's ``torch.save(model.state_dict())`` writes) carries no metadata,
  so it is read as this.
* Ours (``jetracer train``): RGB (the dataset reads JPEGs with Pillow), the same statistics, each
  on its own colour. Our checkpoints record it.

``mean[i]``/``std[i]`` always belong to the network's input channel ``i``, i.e. to the colour
``channel_order[i]``. Torch-free, so the command line and metadata readers use it without torch.
"""

import math

from ..errors import ModelError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "JETRACER", "OURS", "RULES", "DEFAULT_CATEGORY", "default_categories",
           "input_convention", "describe", "same_convention"]

#: Bumped whenever the reading of a model's convention changes (2: plain state_dicts are JetRacer's BGR),
#: so engines cached under the old reading are rebuilt instead of reused.
RULES = "input-convention-2"

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: The category of a model (or dataset folder) that does not name one: JetRacer's road-following
#: notebooks collect into ``apex``. Checkpoints, engines, exports and the profile's dataset settings use it.
DEFAULT_CATEGORY = "apex"


def default_categories(pairs):
    """Category names for a head with ``pairs`` (x, y) outputs that names none: JetRacer's one
    category, or ``category0``, ``category1``... for several."""
    return [DEFAULT_CATEGORY] if pairs == 1 else ["category%d" % i for i in range(pairs)]


#: JetRacer's notebooks (and every plain state_dict): BGR frame, statistics listed in RGB order.
JETRACER = {"channel_order": "BGR", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}
#: What ``jetracer train`` writes: RGB, each colour with its own ImageNet statistics.
OURS = {"channel_order": "RGB", "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)}


def input_convention(meta):
    """``{"input_size", "channel_order", "mean", "std"}`` from a model's metadata, checked.

    Missing keys take JetRacer's convention (the only one a file without them can be in).
    A malformed one is a one-line ModelError naming it.
    """
    meta = dict(meta or {})
    order = str(meta.get("channel_order") or JETRACER["channel_order"]).upper()
    if sorted(order) != ["B", "G", "R"]:
        raise ModelError("model channel_order %r is not a permutation of RGB (e.g. 'RGB' or 'BGR')"
                         % (meta.get("channel_order"),))
    out = {"channel_order": order}
    for key in ("mean", "std"):
        values = meta.get(key)
        if values is None:
            values = JETRACER[key]
        try:
            values = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ModelError("model %s %r is not three numbers" % (key, values)) from None
        if len(values) != 3 or not all(math.isfinite(v) for v in values) or (key == "std" and min(values) <= 0):
            raise ModelError("model %s %r must be three finite numbers%s" % (
                key, values, " above 0" if key == "std" else ""))
        out[key] = values
    size = meta.get("input_size") or (224, 224)
    try:
        size = [int(v) for v in size]
    except (TypeError, ValueError):
        raise ModelError("model input_size %r is not [height, width]" % (size,)) from None
    if len(size) != 2 or min(size) < 8 or max(size) > 4096:
        raise ModelError("model input_size %r is not [height, width] between 8 and 4096 pixels" % (size,))
    out["input_size"] = size
    return out


def same_convention(a, b, tol=1e-6):
    """Whether two metadata dicts describe the same preprocessing (channel order and statistics)."""
    a, b = input_convention(a), input_convention(b)
    return a["channel_order"] == b["channel_order"] and all(
        abs(x - y) <= tol for k in ("mean", "std") for x, y in zip(a[k], b[k]))


def describe(meta):
    """One line for logs, ``--help`` and ONNX docs, e.g. ``224x224 BGR (JetRacer's), mean ..., std ...``."""
    c = input_convention(meta)
    name = " (JetRacer's)" if same_convention(c, JETRACER) else " (jetracer train's)" if same_convention(c, OURS) \
        else ""
    return "%dx%d %s%s, pixels / 255 then (x - mean) / std per channel with mean %s std %s" % (
        c["input_size"][1], c["input_size"][0], c["channel_order"], name,
        ", ".join("%.3f" % v for v in c["mean"]), ", ".join("%.3f" % v for v in c["std"]))
