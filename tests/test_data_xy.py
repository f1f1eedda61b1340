"""The XY dataset on disk: JetRacer's names and label normalisation, atomic saves, bad files skipped."""

import logging
import os

import numpy as np
import pytest
from PIL import Image

from jetracer.cli import main
from jetracer.data.augment import affine, hflip
from jetracer.data.xy import XYDataset, list_samples, parse_sample_name, sample_name, save_sample
from jetracer.errors import DataError


def _dot_image(x, y, size=(224, 224)):
    """A dark frame with a bright dot at pixel (x, y): a stand-in for the road's aim point."""
    img = np.full((size[1], size[0], 3), 30, np.uint8)
    img[max(0, y - 3):y + 4, max(0, x - 3):x + 4] = 250
    return img


def test_names_round_trip_and_jetracer_names():
    name = sample_name(12.4, 100.6)
    assert name.endswith(".jpg")
    assert parse_sample_name(name) == (12, 101)
    # A file NVIDIA's data collection notebook wrote (x_y_uuid1.jpg):
    assert parse_sample_name("112_87_0b1c6a5e-9d3f-11ee-8c90-0242ac120002.jpg") == (112, 87)
    assert parse_sample_name("-3_7_abc.JPG") == (-3, 7)
    for bad in ("notes.txt", "12_abc.jpg", "x_1_2.jpg", "12_34.jpg", "12_34_u.gif"):
        assert parse_sample_name(bad) is None, bad


def test_saved_sample_loads_with_jetracer_normalisation(tmp_path):
    save_sample(tmp_path, "apex", _dot_image(0, 112), 0, 112)
    save_sample(tmp_path, "apex", _dot_image(168, 56), 168, 56)
    # A sample from a camera of another size is normalised by its own size, as JetRacer does.
    save_sample(tmp_path, "apex", _dot_image(320, 60, size=(320, 240)), 320, 60)
    ds = XYDataset([tmp_path], input_size=(64, 64))
    labels = sorted(tuple(round(v, 4) for v in ds[i][2].tolist()) for i in range(len(ds)))
    assert labels == sorted([(-1.0, 0.0), (0.5, -0.5), (1.0, -0.5)])
    image, category, _ = ds[0]
    assert tuple(image.shape) == (3, 64, 64) and category == 0
    files = sorted(os.listdir(tmp_path / "apex"))
    assert len(files) == 3 and all(parse_sample_name(f) for f in files)


def test_categories_are_sorted_subfolders_or_given(tmp_path):
    save_sample(tmp_path, "bottleneck", _dot_image(10, 10), 10, 10)
    save_sample(tmp_path, "apex", _dot_image(20, 20), 20, 20)
    samples, categories, _ = list_samples([tmp_path])
    assert categories == ["apex", "bottleneck"]
    assert sorted(s.category for s in samples) == [0, 1]
    ds = XYDataset([tmp_path], categories=["bottleneck"])
    assert len(ds) == 1 and ds.categories == ["bottleneck"]
    # A category folder passed directly is a dataset of that one category.
    assert XYDataset([tmp_path / "apex"]).categories == ["apex"]


def test_failed_save_leaves_previous_samples_intact(tmp_path, monkeypatch):
    first = save_sample(tmp_path, "apex", _dot_image(50, 60), 50, 60)
    before = sorted(os.listdir(tmp_path / "apex"))

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        save_sample(tmp_path, "apex", _dot_image(70, 80), 70, 80)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path / "apex")) == before  # no partial file, no temp left behind
    assert Image.open(first).size == (224, 224)


def test_in_flight_temp_file_is_invisible(tmp_path, caplog):
    save_sample(tmp_path, "apex", _dot_image(50, 60), 50, 60)
    # What a save in progress (or killed mid-write) leaves: a hidden temp beside the samples.
    (tmp_path / "apex" / ".7_8_x.jpg.ab12.tmp").write_bytes(b"\xff\xd8 half a jpeg")
    with caplog.at_level(logging.WARNING):
        samples, _, skipped = list_samples([tmp_path])
    assert len(samples) == 1 and skipped == [] and not caplog.records


def test_corrupt_image_and_bad_name_are_skipped_with_a_warning(tmp_path, caplog):
    import torch

    for i in range(4):
        save_sample(tmp_path, "apex", _dot_image(40 + i, 50), 40 + i, 50)
    corrupt = tmp_path / "apex" / "10_20_corrupt.jpg"
    corrupt.write_bytes(b"this is not a jpeg")
    good = save_sample(tmp_path, "apex", _dot_image(90, 90), 90, 90)
    truncated = tmp_path / "apex" / "11_21_truncated.jpg"
    truncated.write_bytes(good.read_bytes()[:300])
    stray = tmp_path / "apex" / "IMG_0001.jpg"
    stray.write_bytes(good.read_bytes())
    with caplog.at_level(logging.WARNING):
        ds = XYDataset([tmp_path], input_size=(32, 32))
    assert len(ds) == 5  # the stray name never enters; the bad images are found by the scan
    text = caplog.text
    assert str(stray) in text and str(corrupt) in text and str(truncated) in text
    assert ds.summary()["skipped_files"] == 3
    assert ds.summary()["skipped"] == {"name": 1, "unreadable": 2}
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # unscanned, the bad images are found when read
        ds = XYDataset([tmp_path], input_size=(32, 32), check=False)
        assert len(ds) == 7
        loader = torch.utils.data.DataLoader(ds, batch_size=3, shuffle=False)
        batches = list(loader)
    assert sum(b[0].shape[0] for b in batches) == 7  # a whole epoch, substitutes for the bad two
    assert str(corrupt) in caplog.text and str(truncated) in caplog.text
    assert ds.summary()["skipped_files"] == 3


def test_empty_dataset_is_one_line_error(tmp_path, capsys):
    (tmp_path / "apex").mkdir()
    with pytest.raises(DataError, match="no samples in"):
        XYDataset([tmp_path])
    with pytest.raises(DataError, match="not found"):
        XYDataset([tmp_path / "missing"])
    assert main(["train", str(tmp_path), "--arch", "tiny", "--out", str(tmp_path / "m.pth")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no samples in") and err.count("\n") == 1
    assert not (tmp_path / "m.pth").exists()


def test_flip_negates_x_and_mirrors_the_picture():
    img = Image.fromarray(_dot_image(40, 100)[:, :, ::-1].copy())
    flipped, x_n, y_n = hflip(img, -0.6, 0.1)
    assert (x_n, y_n) == (0.6, 0.1)
    a = np.asarray(flipped)[:, :, 0]
    assert a[100, 224 - 1 - 40] == 250 and a[100, 40] == 30


@pytest.mark.parametrize("angle,shift,scale", [(8.0, (0.0, 0.0), 1.0), (0.0, (0.1, -0.05), 1.0),
                                               (-5.0, (0.04, 0.03), 1.08)])
def test_affine_moves_the_label_with_the_picture(angle, shift, scale):
    x, y = 150, 80
    img = Image.fromarray(_dot_image(x, y))
    x_n, y_n = 2 * ((x + 0.5) / 224 - 0.5), 2 * ((y + 0.5) / 224 - 0.5)
    out, x2, y2 = affine(img, x_n, y_n, angle, shift, scale)
    a = np.asarray(out)[:, :, 0].astype(float)
    vs, us = np.nonzero(a > 140)
    u, v = us.mean() + 0.5, vs.mean() + 0.5  # where the dot went
    assert abs((x2 / 2 + 0.5) * 224 - u) < 1.5 and abs((y2 / 2 + 0.5) * 224 - v) < 1.5
