"""Training and optimising from a notebook: live progress and loss plot, prediction previews.

The plot is drawn with Pillow into an ``ipywidgets.Image`` (no matplotlib on the car), and the
training itself is :func:`jetracer.models.train.train`, the same as ``jetracer train``.
"""

import math

import numpy as np

from .env import require

__all__ = ["TrainingMonitor", "loss_plot_png", "prediction_grid", "train_with_monitor", "validation_samples"]


def loss_plot_png(train_losses, val_losses=(), width=420, height=220):
    """PNG bytes of the loss curves per epoch (log scale): train blue, validation orange."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 48, width - 10, 10, height - 24
    draw.rectangle([left, top, right, bottom], outline=(160, 160, 160))
    series = [(list(train_losses), (31, 119, 180)), ([v for v in val_losses], (255, 127, 14))]
    values = [v for s, _ in series for v in s if v is not None and v > 0 and math.isfinite(v)]
    n = max(len(train_losses), len(val_losses))
    if not values or n == 0:
        draw.text((left + 8, top + 8), "no epochs yet", fill=(90, 90, 90))
    else:
        lo, hi = math.log10(min(values)), math.log10(max(values))
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5

        def xy(i, v):
            x = left + (right - left) * (i / float(max(1, n - 1)) if n > 1 else 0.5)
            y = bottom - (bottom - top) * (math.log10(v) - lo) / (hi - lo)
            return x, y

        for data, color in series:
            points = [xy(i, v) for i, v in enumerate(data) if v is not None and v > 0 and math.isfinite(v)]
            if len(points) > 1:
                draw.line(points, fill=color, width=2)
            for x, y in points:
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=color)
        draw.text((4, top), "%.3g" % 10 ** hi, fill=(60, 60, 60))
        draw.text((4, bottom - 10), "%.3g" % 10 ** lo, fill=(60, 60, 60))
        draw.text((left, bottom + 6), "epoch 1", fill=(60, 60, 60))
        draw.text((right - 50, bottom + 6), "epoch %d" % n, fill=(60, 60, 60))
    draw.text((left + 8, bottom - 16), "train", fill=series[0][1])
    draw.text((left + 50, bottom - 16), "validation", fill=series[1][1])
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


class TrainingMonitor:
    """Progress bar, status line and loss plot, updated by :meth:`on_epoch` (the trainer's hook)."""

    def __init__(self, epochs):
        ipywidgets = require("ipywidgets")

        self.history = []
        self.progress = ipywidgets.IntProgress(value=0, min=0, max=int(epochs), description="epochs")
        self.status = ipywidgets.Label("waiting for the first epoch")
        self.plot = ipywidgets.Image(format="png", value=loss_plot_png([]))
        self.widget = ipywidgets.VBox([ipywidgets.HBox([self.progress, self.status]), self.plot])

    def on_epoch(self, info):
        """``info``: epoch, epochs, train_loss, val_loss (None without a validation split), improved."""
        self.history.append(dict(info))
        self.progress.max = int(info.get("epochs", self.progress.max))
        self.progress.value = int(info["epoch"])
        val = info.get("val_loss")
        self.status.value = "epoch %d/%d  train %.4f  val %s%s" % (
            info["epoch"], info.get("epochs", 0), info["train_loss"], "%.4f" % val if val is not None else "-",
            "  (best so far, saved)" if info.get("improved") else "")
        self.plot.value = loss_plot_png([h["train_loss"] for h in self.history],
                                        [h.get("val_loss") for h in self.history])


def train_with_monitor(config, monitor=None):
    """:func:`jetracer.models.train.train` with ``monitor.on_epoch`` as its per-epoch hook."""
    from ..models.train import train

    if monitor is not None:
        config.on_epoch = monitor.on_epoch
    return train(config)


def prediction_grid(engine, samples, columns=3, tile=160):
    """PNG bytes: each sample's image with the label (red) and the engine's prediction (green),
    and the list of errors ``|prediction - label|`` in normalised units (1.0 = half the image).

    ``samples``: :class:`jetracer.data.xy.Sample` rows (``path``, ``x``, ``y`` in pixels).
    """
    import io

    from PIL import Image, ImageDraw

    from ..data.xy import load_rgb, normalise_xy

    tiles, errors = [], []
    for sample in samples:
        rgb = np.asarray(load_rgb(sample.path))
        h, w = rgb.shape[:2]
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])
        px, py = engine(bgr)
        lx, ly = normalise_xy(sample.x, sample.y, w, h)
        errors.append(math.hypot(px - lx, py - ly))
        img = Image.fromarray(rgb).resize((tile, tile))
        draw = ImageDraw.Draw(img)
        for (nx, ny), color in (((lx, ly), (255, 40, 40)), ((px, py), (40, 255, 40))):
            cx, cy = (nx / 2 + 0.5) * tile, (ny / 2 + 0.5) * tile
            draw.ellipse([cx - 5, cy - 5, cx + 5, cy + 5], outline=color, width=2)
        draw.text((4, 4), "err %.3f" % errors[-1], fill=(255, 255, 0))
        tiles.append(img)
    rows = max(1, int(math.ceil(len(tiles) / float(columns))))
    sheet = Image.new("RGB", (columns * tile, rows * tile), (0, 0, 0))
    for i, img in enumerate(tiles):
        sheet.paste(img, ((i % columns) * tile, (i // columns) * tile))
    out = io.BytesIO()
    sheet.save(out, format="PNG")
    return out.getvalue(), errors


def validation_samples(roots, val_fraction=0.1, seed=0, limit=6):
    """Up to ``limit`` of the samples training held out for validation (same split as
    :func:`jetracer.models.train.train` with the same ``val_fraction`` and ``seed``)."""
    from ..data.xy import list_samples
    from ..models.train import _split

    samples, _, _ = list_samples(roots)
    _, val_idx = _split(len(samples), val_fraction, seed)
    return [samples[i] for i in (val_idx or range(len(samples)))][:limit]
