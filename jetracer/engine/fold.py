"""Fold the input normalisation into the network's first convolution, so an engine eats raw pixels.

The road-following network was trained on RGB images scaled to [0, 1] and normalised with the
ImageNet mean and std. Per channel that is an affine map, ``n = (r / 255 - mean) / std``, and the
first layer is a convolution, which is linear: so the map can live in that convolution's weights
and bias, and the channel swap (the camera gives BGR) is a permutation of its input channels.
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

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "RawPixelModel", "fold_preprocessing", "find_input_conv",
           "pad_raw_frames", "normalise_frames"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


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
    x = torch.zeros(1, 3, int(input_size[0]), int(input_size[1]))
    found = []

    def hook(module, inputs, output):
        if not found and inputs and inputs[0] is x:
            found.append(module)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
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
