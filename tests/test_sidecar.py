"""Speed and throttle labels live beside a JetRacer dataset in labels.json; old datasets are untouched."""

import json
import logging
import math

import numpy as np
import pytest

from jetracer.data.sidecar import SIDECAR_NAME, LabelWriter, label_for, read_labels, update_labels, write_labels
from jetracer.data.xy import XYDataset, list_samples, save_sample
from jetracer.errors import DataError


def test_round_trip_and_merge(tmp_path):
    assert read_labels(tmp_path) == {}  # no sidecar: no extra labels
    write_labels(tmp_path, {"10_20_a.jpg": {"speed_mps": 2.5, "source": "sim-racer"}})
    update_labels(tmp_path, {"10_20_a.jpg": {"throttle": 0.4}, "30_40_b.jpg": {"throttle": -0.1}})
    labels = read_labels(tmp_path)
    assert labels == {"10_20_a.jpg": {"speed_mps": 2.5, "source": "sim-racer", "throttle": 0.4},
                      "30_40_b.jpg": {"throttle": -0.1}}
    assert label_for(labels, tmp_path / "30_40_b.jpg", "throttle") == -0.1
    assert label_for(labels, "nope.jpg", "throttle", 0.0) == 0.0
    assert json.loads((tmp_path / SIDECAR_NAME).read_text())["format"] == "jetracer-labels"
    assert not [p for p in tmp_path.iterdir() if p.name != SIDECAR_NAME]  # no temp file left behind


def test_buffered_writer_flushes_on_close_and_keeps_earlier_entries(tmp_path):
    write_labels(tmp_path, {"1_1_old.jpg": {"speed_mps": 1.0}})
    with LabelWriter(tmp_path, flush_every=3) as writer:
        for i in range(4):
            writer.set("%d_0_x.jpg" % i, speed_mps=float(i))
        assert len(read_labels(tmp_path)) == 4  # one flush after three entries
    labels = read_labels(tmp_path)
    assert len(labels) == 5 and labels["3_0_x.jpg"] == {"speed_mps": 3.0}


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), None, [1, 2]])
def test_non_finite_or_odd_values_are_refused(tmp_path, bad):
    with pytest.raises(DataError):
        write_labels(tmp_path, {"1_1_a.jpg": {"speed_mps": bad}})
    with pytest.raises(DataError):
        write_labels(tmp_path, {"../1_1_a.jpg": {"speed_mps": 1.0}})
    assert not (tmp_path / SIDECAR_NAME).exists()


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8", b"{\"labels\": 3}", b"[1, 2]", b""])
def test_a_damaged_sidecar_is_one_line_naming_it(tmp_path, content):
    (tmp_path / SIDECAR_NAME).write_bytes(content)
    with pytest.raises(DataError, match=SIDECAR_NAME):
        read_labels(tmp_path)


def test_sidecar_is_not_a_stray_sample_and_old_datasets_need_none(tmp_path, caplog):
    image = np.zeros((224, 224, 3), np.uint8)
    path = save_sample(tmp_path, "apex", image, 100, 50)
    with caplog.at_level(logging.WARNING):
        samples, _, skipped = list_samples(tmp_path)
    assert len(samples) == 1 and not skipped  # no sidecar: an ordinary JetRacer dataset
    write_labels(tmp_path / "apex", {path.name: {"speed_mps": 1.5}})
    with caplog.at_level(logging.WARNING):
        samples, _, skipped = list_samples(tmp_path)
    assert len(samples) == 1 and not skipped and SIDECAR_NAME not in caplog.text
    assert len(XYDataset(tmp_path, input_size=(32, 32))) == 1


def test_collect_labels_every_image_with_the_racers_speed(tmp_path):
    from jetracer.data.sim_collect import collect

    collect(tmp_path, 12, track="oval", seed=3)
    images = sorted(p.name for p in (tmp_path / "apex").glob("*.jpg"))
    labels = read_labels(tmp_path / "apex")
    assert sorted(labels) == images and len(images) == 12
    for entry in labels.values():
        assert entry["source"] == "sim-racer"
        assert 0.3 < entry["speed_mps"] <= 6.0 and math.isfinite(entry["speed_mps"])
        assert 0.0 < entry["throttle"] <= 1.0
