"""Does an engine steer like the model it was built from? Compare on real frames.

The reference is the unfolded fp32 model fed the preprocessing its metadata records (its channel
order, /255, its mean/std: for a JetRacer model the BGR frame unswapped) in torch, so the
comparison covers everything an engine changes: the folding, the
export, the precision. Both sides see the same resized frame; resizing is not under test.
"""

import numpy as np

from .base import Resizer
from .fold import normalise_frames

__all__ = ["reference_outputs", "engine_outputs", "parity_report", "check_parity"]


def reference_outputs(model, meta, frames, batch=8):
    """(N, categories, 2) from the fp32 torch model with normalised input."""
    import torch

    resize = Resizer(meta["input_size"])
    model = model.float().cpu().eval()
    out = []
    with torch.no_grad():
        for i in range(0, len(frames), batch):
            chunk = np.stack([resize(f).copy() for f in frames[i:i + batch]])
            x = normalise_frames(chunk, meta["mean"], meta["std"], meta["channel_order"])
            out.append(model(torch.from_numpy(x)).numpy())
    return np.concatenate(out).reshape(len(frames), -1, 2)


def engine_outputs(engine, frames, timings=None):
    """(N, categories, 2) from the engine; appends each frame's ``last_timings`` to ``timings``."""
    out = []
    for f in frames:
        out.append(engine.predict(f))
        if timings is not None:
            timings.append(dict(engine.last_timings))
    return np.stack(out)


def parity_report(reference, outputs):
    """Max and mean |dx|, |dy| in normalised image units (1.0 = half the image width)."""
    diff = np.abs(np.asarray(outputs, dtype=np.float64) - np.asarray(reference, dtype=np.float64))
    return {"frames": int(diff.shape[0]),
            "max_dx": float(diff[..., 0].max()), "mean_dx": float(diff[..., 0].mean()),
            "max_dy": float(diff[..., 1].max()), "mean_dy": float(diff[..., 1].mean())}


def check_parity(model, meta, engine, frames, timings=None):
    return parity_report(reference_outputs(model, meta, frames), engine_outputs(engine, frames, timings))
