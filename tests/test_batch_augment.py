"""`jetracer train --cache`: frames decoded once, augmented a batch at a time on the training device, with
the label still naming the pixel it named before (the whole point of augmenting a regression target)."""

import math

import numpy as np
import pytest
import torch
from PIL import Image

from jetracer.cli import main
from jetracer.data import batch_augment as BA
from jetracer.data.augment import Augment, affine
from jetracer.data.decoded import CachedLoader, DecodedFrames
from jetracer.data.xy import XYDataset
from jetracer.models import load_model


def _dots(n, h, w, seed=0):
    """Dark frames with one bright 3x3 spot each; the label is the spot's centre (normalised)."""
    rng = np.random.default_rng(seed)
    images = torch.full((n, 3, h, w), 0.1)
    xy = torch.empty(n, 2)
    for i in range(n):
        u, v = int(rng.integers(w // 4, 3 * w // 4)), int(rng.integers(h // 4, 3 * h // 4))
        images[i, :, v - 1:v + 2, u - 1:u + 2] = 1.0
        xy[i] = torch.tensor([2 * ((u + 0.5) / w - 0.5), 2 * ((v + 0.5) / h - 0.5)])
    return images, xy


def _spot(image):
    """Brightness-weighted centre of the pixels clearly above the background, in pixel units."""
    g = image.mean(0)
    mask = (g > 0.45).float() * g
    v, u = torch.meshgrid(torch.arange(g.shape[0]).float(), torch.arange(g.shape[1]).float(), indexing="ij")
    total = mask.sum()
    return float((mask * u).sum() / total) + 0.5, float((mask * v).sum() / total) + 0.5


@pytest.mark.parametrize("h,w", [(64, 64), (48, 80)])
def test_the_spot_ends_where_the_augmented_label_says(h, w):
    torch.manual_seed(0)
    images, xy = _dots(64, h, w)
    out, xy2 = BA.augment_batch(torch, images, xy, Augment(brightness=0.0, contrast=0.0, saturation=0.0,
                                                           max_angle_deg=10.0, max_translate=0.1))
    moved = 0
    for i in range(len(out)):
        u, v = _spot(out[i])
        lu, lv = (xy2[i, 0].item() / 2 + 0.5) * w, (xy2[i, 1].item() / 2 + 0.5) * h
        assert abs(u - lu) < 0.75 and abs(v - lv) < 0.75, (i, (u, v), (lu, lv))
        moved += float(torch.dist(xy2[i], xy[i])) > 0.05
    assert moved > 32  # the draws really move the frames (and half of them are mirrored)


def test_a_flip_mirrors_the_frame_and_negates_x_only():
    images, xy = _dots(8, 32, 32)
    d = BA.draw(torch, 8, "cpu", Augment(max_angle_deg=0.0, max_translate=0.0, scale_range=(1.0, 1.0),
                                         brightness=0.0, contrast=0.0, saturation=0.0))
    d.flip = torch.tensor([True, False] * 4)
    out, xy2 = BA.apply(torch, images, xy, d)
    assert torch.allclose(out[0], images[0].flip(-1), atol=1e-5) and torch.allclose(out[1], images[1], atol=1e-5)
    assert torch.allclose(xy2[0], torch.tensor([-xy[0, 0], xy[0, 1]])) and torch.allclose(xy2[1], xy[1])


def test_the_warp_is_augments_warp():
    # the same rotation, zoom and shift through Pillow (Augment's path) and through grid_sample
    rng = np.random.default_rng(1)
    frame = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    frame = np.asarray(Image.fromarray(frame).resize((16, 12)).resize((64, 48), Image.BILINEAR))  # smooth
    angle, shift, scale = 4.0, (0.03, -0.04), 1.04
    pil, px, py = affine(Image.fromarray(frame), 0.3, -0.2, angle_deg=angle, translate=shift, scale=scale)
    batch = torch.from_numpy(frame.copy()).permute(2, 0, 1)[None].float() / 255.0
    d = BA.draw(torch, 1, "cpu", Augment(brightness=0.0, contrast=0.0, saturation=0.0))
    d.flip[:] = False
    d.angle_deg[:], d.translate_x[:], d.translate_y[:], d.scale[:] = angle, shift[0], shift[1], scale
    out, xy2 = BA.apply(torch, batch, torch.tensor([[0.3, -0.2]]), d)
    assert math.isclose(xy2[0, 0].item(), px, abs_tol=1e-5) and math.isclose(xy2[0, 1].item(), py, abs_tol=1e-5)
    ours = out[0].permute(1, 2, 0).numpy() * 255.0
    theirs = np.asarray(pil).astype(np.float32)
    inner = (slice(6, -6), slice(6, -6))  # the borders differ by where each fills black
    assert np.abs(ours[inner] - theirs[inner]).mean() < 3.0


def test_colour_jitter_stays_in_range_and_leaves_the_label():
    torch.manual_seed(2)
    images = torch.rand(32, 3, 16, 16)
    xy = torch.rand(32, 2) - 0.5
    d = BA.draw(torch, 32, "cpu", Augment(max_angle_deg=0.0, max_translate=0.0, scale_range=(1.0, 1.0)))
    d.flip[:] = False
    out, xy2 = BA.apply(torch, images, xy, d)
    assert torch.allclose(xy2, xy, atol=1e-6)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert (out - images).abs().mean() > 0.02  # it did change the light


def test_decoded_frames_are_the_datasets_frames_exactly(dots):
    ds = XYDataset([dots], categories=["apex"], input_size=(64, 64))
    frames = DecodedFrames(torch, ds, list(range(10)), "cpu")
    for i in range(10):
        img, _, x_n, y_n = ds.load(i)
        assert torch.equal(frames.images[i], torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1))
        assert torch.allclose(frames.targets[i], torch.tensor([x_n, y_n], dtype=torch.float32))
    item = ds[3][0]
    assert torch.allclose(frames.normalised(frames.images[3:4].float() / 255.0)[0], item, atol=1e-5)
    loader = CachedLoader(torch, frames, 4, shuffle=True, generator=torch.Generator().manual_seed(0))
    seen = torch.cat([t for _, _, t in loader])
    assert len(loader) == 3 and seen.shape == (10, 2)
    assert sorted(seen[:, 0].tolist()) == sorted(frames.targets[:, 0].tolist())  # every frame once


def test_train_with_cache_learns_like_without(dots, tmp_path, capsys):
    torch.set_num_threads(1)
    out = tmp_path / "m.pth"
    assert main(["train", str(dots), "--arch", "tiny", "--epochs", "12", "--batch-size", "16", "--lr", "3e-3",
                 "--cache", "--workers", "0", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "decoding 160 frames once" in err and "epoch 12/12" in err
    model, meta = load_model(out)
    assert meta["training"]["cache"] is True
    assert meta["val_loss"] < 0.1  # predicting the centre every time would score about 0.22
    for x, sign in ((40, -1), (184, 1)):
        img = np.full((64, 64, 3), 40, np.float32)
        u = int(x * 64 / 224)
        img[25:37, u - 4:u + 5] = (255, 230, 0)  # RGB of the BGR (0, 230, 255) blob
        t = (torch.from_numpy(img / 255.0).permute(2, 0, 1) - torch.tensor(meta["mean"])[:, None, None]) / \
            torch.tensor(meta["std"])[:, None, None]
        with torch.no_grad():
            assert np.sign(model(t[None].float())[0, 0].item()) == sign


def test_augmenting_a_cached_batch_moves_the_aim_point_and_keeps_the_throttle_label(dots):
    ds = XYDataset([dots], categories=["apex"], input_size=(64, 64))
    frames = DecodedFrames(torch, ds, list(range(16)), "cpu")
    throttle = torch.linspace(-0.5, 0.9, 16)
    frames.targets = torch.cat([frames.targets, throttle[:, None], torch.ones(16, 1)], dim=1)  # as ThrottleXYDataset
    torch.manual_seed(3)
    images, _, targets = next(iter(CachedLoader(torch, frames, 16, augment=Augment())))
    assert torch.equal(targets[:, 2], throttle) and torch.equal(targets[:, 3], torch.ones(16))
    assert (targets[:, :2] - frames.targets[:, :2]).abs().max() > 0.01  # the aim points moved with the frames
    assert torch.equal(frames.targets[:, 2], throttle)  # and the cache itself is untouched
    assert images.dtype == torch.float32 and images.shape == (16, 3, 64, 64)


def test_a_cache_that_does_not_fit_is_one_line_naming_the_memory():
    from jetracer.errors import DataError

    class Huge:
        input_size, mean, std = (1024, 1024), [0.5] * 3, [0.25] * 3

    with pytest.raises(DataError, match=r"--cache needs 31457\.3 GB for 10000000 frames at 1024x1024 on cpu"):
        DecodedFrames(torch, Huge(), range(10 ** 7), "cpu")
