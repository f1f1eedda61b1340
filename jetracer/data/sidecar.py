"""Extra labels beside a JetRacer XY dataset: ``DIR/CATEGORY/labels.json``.

JetRacer's file names carry only the clicked pixel (``{x}_{y}_{uuid}.jpg``) and its code globs the
``*.jpg`` files, so anything more (the speed the racer wanted, the throttle a person drove with, where
a sample came from) lives in one JSON file per category folder, keyed by image file name::

    {"format": "jetracer-labels", "version": 1,
     "labels": {"112_80_5f0c....jpg": {"speed_mps": 2.4, "throttle": 0.41, "source": "sim-racer"}}}

A dataset without the file is an ordinary dataset (no extra labels); an image without an entry has
none. The file is always rewritten whole and atomically, so a crash leaves the previous version.

The API is three functions and one class:

- ``read_labels(folder) -> {name: {key: value}}`` (empty when there is no sidecar);
- ``write_labels(folder, labels)`` replaces the sidecar atomically;
- ``update_labels(folder, {name: {key: value}})`` merges entries in (read, merge, write);
- ``LabelWriter(folder)`` collects entries in memory (``set(name, **values)``) and writes them with
  ``flush()`` (every ``flush_every`` entries and on ``close()``): the way to label thousands of frames
  without rewriting the file for each.

Values are JSON numbers, strings or booleans; a non-finite number is refused (it would poison training).
"""

import json
import logging
import math
from pathlib import Path

from ..errors import DataError
from ..util.atomic import atomic_write_bytes

__all__ = ["SIDECAR_NAME", "FORMAT", "read_labels", "write_labels", "update_labels", "LabelWriter",
           "label_for"]

log = logging.getLogger(__name__)

SIDECAR_NAME = "labels.json"
FORMAT = "jetracer-labels"
VERSION = 1


def _path(folder):
    return Path(folder) / SIDECAR_NAME


def read_labels(folder):
    """``{image name: {label: value}}`` of a category folder; ``{}`` when it has no sidecar.

    A damaged sidecar is a one-line DataError naming it (the images themselves are still fine)."""
    path = _path(folder)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError("%s is not a readable labels file (%s): fix or delete it (the images are unaffected)"
                        % (path, exc)) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("labels"), dict):
        raise DataError("%s is not a jetracer labels file (expected {\"format\": \"%s\", \"labels\": {...}})"
                        % (path, FORMAT))
    if int(data.get("version", 0) or 0) > VERSION:
        raise DataError("%s was written by a newer jetracer (labels version %s): upgrade jetracer" % (
            path, data.get("version")))
    return {str(k): dict(v) for k, v in data["labels"].items() if isinstance(v, dict)}


def _check(name, values):
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise DataError("a label key is an image file name inside the category folder, got %r" % (name,))
    for key, value in values.items():
        if isinstance(value, bool) or isinstance(value, str):
            continue
        if isinstance(value, (int, float)) and math.isfinite(value):
            continue
        raise DataError("label %s=%r for %s is not a finite number, string or boolean" % (key, value, name))


def write_labels(folder, labels):
    """Replace ``folder``'s sidecar with ``labels`` ({name: {label: value}}), atomically."""
    for name, values in labels.items():
        _check(name, values)
    body = {"format": FORMAT, "version": VERSION, "labels": {k: labels[k] for k in sorted(labels)}}
    atomic_write_bytes(_path(folder), (json.dumps(body, indent=0, sort_keys=True) + "\n").encode("utf-8"))


def update_labels(folder, entries):
    """Merge ``entries`` ({name: {label: value}}) into ``folder``'s sidecar; returns the merged labels."""
    labels = read_labels(folder)
    for name, values in entries.items():
        labels.setdefault(name, {}).update(values)
    write_labels(folder, labels)
    return labels


def label_for(labels, image_path, key, default=None):
    """``labels[name][key]`` for an image path (its file name), or ``default``."""
    return labels.get(Path(image_path).name, {}).get(key, default)


class LabelWriter:
    """Buffered labels for one category folder; merges into what is on disk at each flush."""

    def __init__(self, folder, flush_every=500):
        self.folder = Path(folder)
        self.flush_every = int(flush_every)
        self._pending = {}

    def set(self, name, **values):
        _check(name, values)
        self._pending.setdefault(name, {}).update(values)
        if self.flush_every and len(self._pending) >= self.flush_every:
            self.flush()

    def flush(self):
        if self._pending:
            update_labels(self.folder, self._pending)
            self._pending = {}

    def close(self):
        self.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
