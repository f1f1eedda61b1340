"""Fold the input normalisation into the network's first convolution, so an engine eats raw pixels.

The road-following network was trained on images scaled to [0, 1] and normalised with the
ImageNet mean and std, in the channel order its file records (RGB for ``jetracer train``, BGR for a
JetRacer state_dict: see ``jetracer.models.convention``). Per channel that is an affine map,
``n = (r / 255 - mean) / std``, and the first layer is a convolution, which is linear: so the map
can live in that convolution's weights and bias, and any channel swap (the camera gives BGR) is a
permutation of its input channels.
Preprocessing then costs nothing: the engine feeds raw BGR pixel values, 0..255.

One subtlety makes this exact instead of approximate: the original convolution zero-pads its
*normalised* input, and zero in normalised space is the pixel value ``255 * mean``, not 0. So the
folded convolution is unpadded, and the engine's input buffer carries the padding, filled once (at
allocation) with the per-channel mean pixel. Borders then match to float rounding.
"""

import copy

import numpy as np
import torch

from ..errors import ModelError
from ..models.convention import IMAGENET_MEAN, IMAGENET_STD, input_convention

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "RawPixelModel", "fold_preprocessing", "find_input_conv",
           "pad_raw_frames", "normalise_frames", "convert_convention", "to_jetracer_convention"]


class RawPixelModel(torch.nn.Module):
    """``model`` with its first convolution folded: the input is raw pixels in ``input_order``, as
    float NCHW ``(N, 3, H + 2*pad[0], W + 2*pad[1])`` whose border holds ``pad_value`` (one raw value
    per input channel)."""

    def __init__(self, model, pad, pad_value, input_order="BGR"):
        super().__init__()
        self.model = model
        self.pad = tuple(int(p) for p in pad)
        self.pad_value = tuple(float(v) for v in pad_value)
        self.input_order = input_order

    def forward(self, x):
        return self.model(x)


def find_input_conv(model, input_size=(224, 224)):
    """The name and module of the convolution that reads the network's input.

    Found by running a dummy image and watching which Conv2d first sees that very tensor, so it
    works for any torchvision-style network (``conv1`` in ResNet, ``features.0.0`` in MobileNet).
    """
    x = _dummy_input(input_size)
    found = []

    def hook(module, inputs, output):
        if not found and inputs and inputs[0] is x:
            found.append(module)

    _run_watched(model, x, [(m, hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)])
    if not found:
        raise ModelError("cannot fold preprocessing: no Conv2d reads the network input directly; "
                         "engines need a network that starts with a convolution (ResNet, MobileNet, tiny)")
    for name, module in model.named_modules():
        if module is found[0]:
            return name, module
    raise ModelError("cannot fold preprocessing: the input convolution is not a named submodule")


def _set_submodule(root, name, module):
    parent = root
    parts = name.split(".")
    for part in parts[:-1]:
        parent = getattr(parent, part)
    setattr(parent, parts[-1], module)


def fold_preprocessing(model, mean=IMAGENET_MEAN, std=IMAGENET_STD, channel_order="RGB", input_order="BGR",
                       input_size=(224, 224)):
    """A copy of ``model`` (eval mode, fp32, CPU) that takes raw pixels in ``input_order``.

    ``channel_order``/``mean``/``std`` describe what ``model`` was trained on (pixels / 255, then
    normalised). The result's first convolution is unpadded; its ``pad`` and ``pad_value`` say how
    the engine's input buffer must be padded (see the module docstring).
    """
    model = copy.deepcopy(model).float().cpu().eval()
    name, conv = find_input_conv(model, input_size)
    if conv.in_channels != 3 or conv.groups != 1:
        raise ModelError("cannot fold preprocessing into %s: it has %d input channels and %d groups, expected 3 and 1"
                         % (name, conv.in_channels, conv.groups))
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise ModelError("cannot fold preprocessing into %s: padding %r/%s is not plain zero padding"
                         % (name, conv.padding, conv.padding_mode))
    channel_order = channel_order.upper()
    input_order = input_order.upper()
    if sorted(channel_order) != ["B", "G", "R"] or sorted(input_order) != ["B", "G", "R"]:
        raise ModelError("channel orders must be permutations of RGB, got %r and %r" % (channel_order, input_order))
    # perm[i] = index in the model's channel order of the engine's input channel i
    perm = [channel_order.index(c) for c in input_order]
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    w = conv.weight.detach().double()                      # (out, 3, kh, kw) in model order
    b = conv.bias.detach().double() if conv.bias is not None else torch.zeros(conv.out_channels, dtype=torch.float64)
    scale = torch.from_numpy(1.0 / (255.0 * std))          # d n / d r per model channel
    shift = torch.from_numpy(mean / std)                   # n = r * scale - shift
    new_w = (w * scale[None, :, None, None])[:, perm]
    new_b = b - (w * shift[None, :, None, None]).sum(dim=(1, 2, 3))
    folded = torch.nn.Conv2d(3, conv.out_channels, conv.kernel_size, stride=conv.stride, padding=0,
                             dilation=conv.dilation, groups=1, bias=True)
    with torch.no_grad():
        folded.weight.copy_(new_w.float())
        folded.bias.copy_(new_b.float())
    _set_submodule(model, name, folded)
    pad_value = [255.0 * mean[p] for p in perm]            # the pixel that normalises to 0
    return RawPixelModel(model.eval(), conv.padding, pad_value, input_order).eval()


def pad_raw_frames(frames, pad, pad_value, dtype=np.float32):
    """Raw uint8 HxWx3 frames -> the folded model's padded float NCHW input (tests, calibration)."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    n, h, w, _ = frames.shape
    ph, pw = pad
    out = np.empty((n, 3, h + 2 * ph, w + 2 * pw), dtype=dtype)
    out[:] = np.asarray(pad_value, dtype=dtype)[None, :, None, None]
    out[:, :, ph:ph + h, pw:pw + w] = frames.transpose(0, 3, 1, 2)
    return out


def normalise_frames(frames_bgr, mean=IMAGENET_MEAN, std=IMAGENET_STD, channel_order="RGB"):
    """What the unfolded model expects: BGR uint8 NHWC -> normalised float32 NCHW in ``channel_order``."""
    frames = np.asarray(frames_bgr)
    if frames.ndim == 3:
        frames = frames[None]
    idx = ["BGR".index(c) for c in channel_order.upper()]
    x = frames[..., idx].astype(np.float32).transpose(0, 3, 1, 2) / np.float32(255.0)
    m = np.asarray(mean, dtype=np.float32)[None, :, None, None]
    s = np.asarray(std, dtype=np.float32)[None, :, None, None]
    return np.ascontiguousarray((x - m) / s)


def _consumer_batchnorm(model, conv, input_size):
    """The BatchNorm2d that normalises ``conv``'s output directly (``bn1`` after ResNet's ``conv1``), or None."""
    produced, found = [], []

    def conv_hook(module, inputs, output):
        produced.append(output)

    def bn_hook(module, inputs, output):
        if not found and produced and inputs and inputs[0] is produced[0]:
            found.append(module)

    watched = [(conv, conv_hook)] + [(m, bn_hook) for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    _run_watched(model, _dummy_input(input_size), watched)
    return found[0] if found else None


def _dummy_input(input_size):
    return torch.zeros(1, 3, int(input_size[0]), int(input_size[1]))


def _run_watched(model, x, watched):
    """Run ``model(x)`` once without gradients, with each ``(module, hook)`` of ``watched`` as a forward
    hook: how the folding code finds which layer reads what, for any network layout."""
    handles = [module.register_forward_hook(hook) for module, hook in watched]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()


def convert_convention(model, source, target, input_size=(224, 224)):
    """A copy of ``model`` (trained on the ``source`` convention) whose outputs match when it is fed
    ``target``'s preprocessing instead, with the same parameter names and shapes.

    ``source``/``target``: metadata with ``channel_order``, ``mean``, ``std`` (see
    ``jetracer.models.convention``). Per colour, target-normalised input is an affine map of the
    source-normalised input, so the input convolution's weights take the scale (and the channel
    permutation) and the constant goes into its bias, or, when it has none (ResNet's ``conv1``),
    into the running mean of the BatchNorm that follows. Exact away from the image border; in the
    outermost ring of the first layer the zero padding stands for another pixel value in each
    convention (the mean pixel), so outputs differ by a little there (about 1e-4 of steering on a
    trained ResNet-18).
    """
    src, dst = input_convention(source), input_convention(target)
    model = copy.deepcopy(model).float().cpu().eval()
    name, conv = find_input_conv(model, input_size)
    if conv.in_channels != 3 or conv.groups != 1:
        raise ModelError("cannot convert %s: it has %d input channels and %d groups, expected 3 and 1"
                         % (name, conv.in_channels, conv.groups))
    s_mean, s_std = np.asarray(src["mean"], np.float64), np.asarray(src["std"], np.float64)
    d_mean, d_std = np.asarray(dst["mean"], np.float64), np.asarray(dst["std"], np.float64)
    w = conv.weight.detach().double()                       # (out, 3, kh, kw) in source channel order
    new_w = torch.empty_like(w)
    shift = torch.zeros(conv.out_channels, dtype=torch.float64)
    for j, colour in enumerate(dst["channel_order"]):
        c = src["channel_order"].index(colour)
        # n_src[c] = n_dst[j] * d_std[j] / s_std[c] + (d_mean[j] - s_mean[c]) / s_std[c]
        new_w[:, j] = w[:, c] * (d_std[j] / s_std[c])
        shift += w[:, c].sum(dim=(1, 2)) * ((d_mean[j] - s_mean[c]) / s_std[c])
    bn = None if conv.bias is not None else _consumer_batchnorm(model, conv, input_size)
    if conv.bias is None and bn is None:
        raise ModelError("cannot convert %s: it has no bias and no BatchNorm follows it to take the mean shift" % name)
    with torch.no_grad():
        conv.weight.copy_(new_w.float())
        if conv.bias is not None:
            conv.bias.add_(shift.float())
        else:
            bn.running_mean.sub_(shift.float())
    return model


def to_jetracer_convention(model, meta):
    """``(model, meta, was)``: the model as JetRacer's notebooks must be given it (BGR frame, ImageNet
    statistics in RGB order), converted when ``meta`` records another convention. ``was`` is the
    original channel order when it was converted, else None (the model is returned as it is)."""
    from ..models.convention import JETRACER, same_convention

    convention = input_convention(meta)
    if same_convention(convention, JETRACER):
        return model, dict(meta, **convention), None
    model = convert_convention(model, convention, JETRACER, input_size=convention["input_size"])
    return model, dict(meta, input_size=convention["input_size"], **JETRACER), convention["channel_order"]
