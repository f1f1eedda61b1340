""":class:`jetracer.data.augment.Augment`'s draws for a whole batch at once, as tensor ops on the training
device.

Why: with one image at a time, CPU workers decode every JPEG and warp it with Pillow every epoch, about
1.4 ms a frame at 128x128 and 2.5 ms at 224x224 per core, and on a 16-core GPU machine that, not the GPU,
sets the pace of training (``models/README.md``). With ``jetracer train --cache`` the frames are decoded
once (:mod:`jetracer.data.decoded`) and this module augments each batch where the network runs.

The augmentation is Augment's, not a look-alike: the same ranges, a horizontal flip that mirrors the label
(``x_n -> -x_n``), a rotation/zoom/shift about the centre that moves the labelled pixel by the same map as
:func:`jetracer.data.augment.affine` (the forward map is shared, so the two cannot drift apart), black where
the warp uncovers the frame, and brightness/contrast/saturation jitter that leaves the label alone. One
difference: Augment jitters in a random order per image, this in a random order per batch.
"""

import math

from .augment import affine_label

__all__ = ["BatchDraw", "draw", "apply", "augment_batch"]


class BatchDraw:
    """Per-image parameters of one batch's augmentation (tensors of length N on the batch's device)."""

    def __init__(self, flip, angle_deg, translate_x, translate_y, scale, brightness, contrast, saturation, order):
        self.flip, self.angle_deg, self.scale = flip, angle_deg, scale
        self.translate_x, self.translate_y = translate_x, translate_y
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation
        self.order = order  # the colour operations' order for the whole batch, e.g. ("contrast", ...)


def _uniform(torch, n, low, high, device):
    return low + (high - low) * torch.rand(n, device=device)


def draw(torch, n, device, augment):
    """Random parameters for ``n`` images from ``augment``'s ranges (an :class:`Augment`: its defaults
    are the one place the training ranges live)."""
    brightness, contrast, saturation, hue = augment.jitter
    if hue:
        raise ValueError("hue jitter has no batched version (Augment's default leaves it off)")
    max_angle_deg, max_translate = augment.max_angle_deg, augment.max_translate
    ones = torch.ones(n, device=device)
    order = ["brightness", "contrast", "saturation"]
    perm = torch.randperm(3).tolist()
    return BatchDraw(
        flip=torch.rand(n, device=device) < augment.flip_p,
        angle_deg=_uniform(torch, n, -max_angle_deg, max_angle_deg, device),
        translate_x=_uniform(torch, n, -max_translate, max_translate, device),
        translate_y=_uniform(torch, n, -max_translate, max_translate, device),
        scale=_uniform(torch, n, augment.scale_range[0], augment.scale_range[1], device),
        brightness=_uniform(torch, n, 1 - brightness, 1 + brightness, device) if brightness else ones,
        contrast=_uniform(torch, n, 1 - contrast, 1 + contrast, device) if contrast else ones,
        saturation=_uniform(torch, n, 1 - saturation, 1 + saturation, device) if saturation else ones,
        order=tuple(order[i] for i in perm))


def _gray(images):
    """ITU-R 601 luma, as Pillow's ``convert("L")`` (which torchvision's jitter uses on PIL images)."""
    r, g, b = images[:, 0:1], images[:, 1:2], images[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def _colour(images, d):
    for op in d.order:
        if op == "brightness":
            images = images * d.brightness[:, None, None, None]
        elif op == "contrast":
            mean = _gray(images).mean(dim=(1, 2, 3), keepdim=True)
            images = mean + (images - mean) * d.contrast[:, None, None, None]
        else:
            gray = _gray(images)
            images = gray + (images - gray) * d.saturation[:, None, None, None]
        images = images.clamp(0.0, 1.0)
    return images


def apply(torch, images, xy, d):
    """``images`` (N, 3, H, W) float in [0, 1] and labels ``xy`` (N, 2) -> both augmented by ``d``.

    Flip first, then the affine warp, then colour, as Augment does."""
    import torch.nn.functional as F

    h, w = images.shape[-2:]
    images = torch.where(d.flip[:, None, None, None], images.flip(-1), images)
    x = torch.where(d.flip, -xy[:, 0], xy[:, 0])
    y = xy[:, 1]
    # The forward map in pixels is p' = c + s R (p - c) + t (image y down); grid_sample wants, for each
    # output pixel in normalised coordinates n' = D^-1 (p' - c), D = diag(w/2, h/2), the input n it reads:
    # n = D^-1 R^-1 D (n' - D^-1 t) / s.
    a = d.angle_deg * (math.pi / 180.0)
    cos, sin = torch.cos(a), torch.sin(a)
    tx, ty = 2.0 * d.translate_x, 2.0 * d.translate_y  # D^-1 t: a fraction of the width is 2x in n
    k = h / float(w)
    theta = torch.stack([
        torch.stack([cos, sin * k, -(cos * tx + sin * k * ty)], dim=1),
        torch.stack([-sin / k, cos, -(-sin / k * tx + cos * ty)], dim=1)], dim=1) / d.scale[:, None, None]
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    x, y = affine_label(torch, x, y, w, h, a, (d.translate_x, d.translate_y), d.scale)
    images = _colour(images, d)
    return images, torch.stack([x, y], dim=1)


def augment_batch(torch, images, xy, augment):
    """:func:`draw` then :func:`apply`: one batch augmented as ``augment`` would, on ``images``' device."""
    return apply(torch, images, xy, draw(torch, images.shape[0], images.device, augment))
