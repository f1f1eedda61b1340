"""Training augmentation that keeps the label honest: whatever moves the picture moves the aim point.

Works on ``(PIL RGB image, x_n, y_n)`` with JetRacer's normalised labels. A horizontal flip mirrors
the road, so the point to steer for mirrors too (``x_n -> -x_n``); a small rotation/shift/zoom moves
the pixel the label names by the same affine map; colour jitter (light, white balance) leaves it alone.
"""

import math
import random

__all__ = ["hflip", "affine", "affine_label", "Augment"]


def hflip(img, x_n, y_n):
    from PIL import Image

    return img.transpose(Image.FLIP_LEFT_RIGHT), -x_n, y_n


def affine_label(lib, x_n, y_n, w, h, angle_rad, translate, scale):
    """Where the forward map p' = c + s R (p - c) + t (pixels, image y down, c the centre, ``translate``
    in fractions of the width/height) sends the normalised label ``(x_n, y_n)``. ``lib`` is ``math`` for
    one label or ``torch`` for a batch (:mod:`jetracer.data.batch_augment`): one formula for both."""
    cx, cy = w / 2.0, h / 2.0
    ca, sa = scale * lib.cos(angle_rad), scale * lib.sin(angle_rad)
    du, dv = (x_n / 2.0 + 0.5) * w - cx, (y_n / 2.0 + 0.5) * h - cy
    u2 = cx + ca * du - sa * dv + translate[0] * w
    v2 = cy + sa * du + ca * dv + translate[1] * h
    return 2.0 * (u2 / w - 0.5), 2.0 * (v2 / h - 0.5)


def affine(img, x_n, y_n, angle_deg=0.0, translate=(0.0, 0.0), scale=1.0):
    """Rotate by ``angle_deg`` about the centre, zoom by ``scale``, shift by ``translate`` (fractions of
    the width/height); returns the image and the label moved by the same map (:func:`affine_label`)."""
    from PIL import Image

    w, h = img.size
    cx, cy = w / 2.0, h / 2.0
    a = math.radians(angle_deg)
    ca, sa = scale * math.cos(a), scale * math.sin(a)
    tx, ty = translate[0] * w, translate[1] * h
    # Pillow wants the inverse map (output pixel -> input pixel): p = c + R^-1 (p' - c - t) / s.
    inv = 1.0 / (scale * scale)
    ia, ib = ca * inv, sa * inv
    # R^-1 / s = [[ca, sa], [-sa, ca]] / s^2
    c0 = cx - ia * (cx + tx) - ib * (cy + ty)
    c1 = cy + ib * (cx + tx) - ia * (cy + ty)
    out = img.transform((w, h), Image.AFFINE, (ia, ib, c0, -ib, ia, c1), resample=Image.BILINEAR)
    x2, y2 = affine_label(math, x_n, y_n, w, h, a, translate, scale)
    return out, x2, y2


class Augment:
    """Random flip + small affine + colour jitter, each drawn per call; picklable for DataLoader workers.

    Hue jitter is off by default: torchvision's PIL hue shift costs three times the rest of the
    augmentation together, and the simulator already repaints colours per episode.
    """

    def __init__(self, flip_p=0.5, max_angle_deg=5.0, max_translate=0.05, scale_range=(0.95, 1.05),
                 brightness=0.3, contrast=0.3, saturation=0.3, hue=0.0):
        self.flip_p = flip_p
        self.max_angle_deg = max_angle_deg
        self.max_translate = max_translate
        self.scale_range = scale_range
        self.jitter = (brightness, contrast, saturation, hue)
        self._color = None

    def __call__(self, img, x_n, y_n):
        if random.random() < self.flip_p:
            img, x_n, y_n = hflip(img, x_n, y_n)
        if self.max_angle_deg or self.max_translate or self.scale_range != (1.0, 1.0):
            img, x_n, y_n = affine(
                img, x_n, y_n,
                angle_deg=random.uniform(-self.max_angle_deg, self.max_angle_deg),
                translate=(random.uniform(-self.max_translate, self.max_translate),
                           random.uniform(-self.max_translate, self.max_translate)),
                scale=random.uniform(*self.scale_range))
        if any(self.jitter):
            if self._color is None:
                from torchvision.transforms import ColorJitter

                self._color = ColorJitter(*self.jitter)
            img = self._color(img)
        return img, x_n, y_n

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_color"] = None
        return state
