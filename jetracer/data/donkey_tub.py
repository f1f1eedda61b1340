"""Donkeycar's Tub v2 on disk: reading its records, and writing a tub Donkeycar reads back.

The format, as Donkeycar's ``datastore_v2`` writes it (facts only; no code of theirs here)::

    TUB/manifest.json            five JSON lines:
        1  ["cam/image_array", "user/angle", ...]      the record keys (inputs)
        2  ["image_array", "float", ...]               their types
        3  {...}                                       user metadata
        4  {"created_at": t, "sessions": {"all_full_ids": [...], "last_id": n, "last_full_id": "yy-mm-dd_n"}}
        5  {"paths": ["catalog_0.catalog", ...], "current_index": N, "max_len": M, "deleted_indexes": [...]}
    TUB/catalog_K.catalog        one JSON record per line (keys sorted), max_len records per catalog:
        {"_index": i, "_session_id": "yy-mm-dd_n", "_timestamp_ms": t, "cam/image_array": "i_cam_image_array_.jpg",
         "user/angle": a, "user/mode": "user", "user/throttle": t}
    TUB/catalog_K.catalog_manifest   one JSON line: {"created_at", "line_lengths": [...], "path": its own
                                 file name, "start_index"}
    TUB/images/                  the image files the records name

Deleting a record in Donkeycar only lists its index in ``deleted_indexes``; readers skip it.
``user/angle`` and ``user/throttle`` are in [-1, 1]; angle +1 is full right.
"""

import json
import logging
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

from ..errors import DataError
from ..util.atomic import atomic_write_bytes

__all__ = ["TubRecord", "read_tub", "TubWriter", "IMAGE_KEY", "ANGLE_KEY", "THROTTLE_KEY", "MODE_KEY"]

log = logging.getLogger(__name__)

IMAGE_KEY, ANGLE_KEY, THROTTLE_KEY, MODE_KEY = "cam/image_array", "user/angle", "user/throttle", "user/mode"
_MANIFEST = "manifest.json"


class TubRecord:
    """One live record: its index, session, time, image path and driving commands (None if absent)."""

    __slots__ = ("index", "session", "timestamp_ms", "image", "angle", "throttle", "mode", "raw")

    def __init__(self, index, session, timestamp_ms, image, angle, throttle, mode, raw):
        self.index, self.session, self.timestamp_ms = index, session, timestamp_ms
        self.image, self.angle, self.throttle, self.mode, self.raw = image, angle, throttle, mode, raw

    def __repr__(self):
        return "TubRecord(%d, angle=%r, throttle=%r)" % (self.index, self.angle, self.throttle)


def _manifest(tub):
    path = Path(tub) / _MANIFEST
    if not Path(tub).is_dir():
        raise DataError("%s is not a folder: pass a Donkeycar tub folder (the one holding manifest.json)" % tub)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataError("%s has no manifest.json: not a Donkeycar Tub v2 (a v1 tub has record_*.json files: "
                        "convert it with Donkeycar first; an XY dataset goes the other way, with export-tub)"
                        % tub) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError("cannot read %s: %s" % (path, exc)) from None
    lines = [line for line in text.splitlines() if line.strip()]
    try:
        parsed = [json.loads(line) for line in lines[:5]]
    except ValueError:
        raise DataError("%s is damaged (a line is not JSON)" % path) from None
    if len(parsed) < 5 or not isinstance(parsed[4], dict) or "paths" not in parsed[4]:
        raise DataError("%s is not a Tub v2 manifest (expected 5 JSON lines, the last with the catalog paths)" % path)
    return parsed


def _number(value):
    """A finite float, or None for missing, NaN, infinite or non-numeric values."""
    if isinstance(value, bool):
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def read_tub(tub, image_key=IMAGE_KEY, angle_key=ANGLE_KEY, throttle_key=THROTTLE_KEY, mode_key=MODE_KEY):
    """``(records, info)``: the live records of a tub, in order, and what was skipped.

    Deleted records (``deleted_indexes``) are left out, as Donkeycar's own reader does. A line that
    is not JSON (a torn last write) is skipped with a warning; so is a record whose image is missing.
    ``info``: {"inputs", "sessions", "deleted", "damaged", "missing_images", "metadata"}."""
    tub = Path(tub)
    inputs, types, metadata, manifest_meta, catalogs = _manifest(tub)
    listed = catalogs.get("deleted_indexes")
    deleted = set(i for i in listed if isinstance(i, int)) if isinstance(listed, list) else set()
    if not isinstance(catalogs["paths"], list):
        raise DataError("%s is damaged (the catalog paths are not a list)" % (tub / _MANIFEST))
    info = {"inputs": dict(zip(inputs, types)) if isinstance(inputs, list) else {}, "metadata": metadata,
            "sessions": (manifest_meta.get("sessions") or {}).get("all_full_ids", []) if isinstance(
                manifest_meta, dict) else [], "deleted": 0, "damaged": 0, "missing_images": 0}
    records = []
    position = 0
    for name in catalogs["paths"]:
        path = tub / str(name)
        if os.sep in str(name) or str(name).startswith(".."):
            raise DataError("%s names a catalog outside the tub (%r)" % (tub / _MANIFEST, name))
        try:
            with open(str(path), "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except FileNotFoundError:
            log.warning("%s: catalog %s is missing; its records are skipped", tub, name)
            continue
        for line in lines:
            if not line.strip():
                continue
            here = position
            position += 1
            try:
                raw = json.loads(line)
            except ValueError:
                info["damaged"] += 1
                log.warning("%s: skipping a damaged record in %s", tub, name)
                continue
            if not isinstance(raw, dict):
                info["damaged"] += 1
                continue
            index = raw.get("_index", here)
            index = index if isinstance(index, int) else here
            if index in deleted:
                info["deleted"] += 1
                continue
            image = raw.get(image_key)
            image_path = tub / "images" / str(image) if isinstance(image, str) and image else None
            if image_path is None or "/" in str(image) or not image_path.is_file():
                info["missing_images"] += 1
                log.warning("%s: record %d has no image file (%s); skipped", tub, index, image)
                continue
            mode = raw.get(mode_key)
            records.append(TubRecord(index, raw.get("_session_id"), raw.get("_timestamp_ms"), image_path,
                                     _number(raw.get(angle_key)), _number(raw.get(throttle_key)),
                                     mode if isinstance(mode, str) else None, raw))
    return records, info


def _line(obj, sort_keys=False):
    return json.dumps(obj, allow_nan=False, sort_keys=sort_keys) + "\n"


class TubWriter:
    """Writes a new Tub v2 at ``path`` that Donkeycar opens, appends to and trains on.

    Built in a temporary folder beside ``path`` and renamed into place by :meth:`close`, so an
    interrupted export leaves no half tub; an existing ``path`` is refused (never overwritten)."""

    INPUTS = [IMAGE_KEY, ANGLE_KEY, THROTTLE_KEY, MODE_KEY]
    TYPES = ["image_array", "float", "float", "str"]

    def __init__(self, path, max_len=1000, metadata=None, clock=time.time):
        self.path = Path(path)
        if self.path.exists() and (not self.path.is_dir() or any(self.path.iterdir())):
            raise DataError("%s already exists: export-tub writes a new tub (pick another --out, or remove it)"
                            % self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = Path(tempfile.mkdtemp(prefix="." + self.path.name + ".", dir=str(self.path.parent)))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(str(self._tmp), 0o777 & ~umask)  # mkdtemp makes 0700; a tub is shared like any folder
        (self._tmp / "images").mkdir()
        self.max_len = int(max_len)
        self.metadata = dict(metadata or {})
        self.clock = clock
        self.created_at = clock()
        self.session = time.strftime("%y-%m-%d", time.localtime(self.created_at)) + "_0"
        self.count = 0
        self._catalogs = []  # [name, start index, [line lengths], [lines]]

    def add(self, image_bytes, angle, throttle, mode="user", suffix=".jpg", timestamp_ms=None):
        """Append one record with an encoded image (JPEG bytes as they are: no re-encoding);
        ``timestamp_ms`` when the frame was taken (default now)."""
        angle, throttle = _number(angle), _number(throttle)
        if angle is None or throttle is None:
            raise DataError("a tub record needs finite angle and throttle, got %r, %r" % (angle, throttle))
        if self.count % self.max_len == 0:
            self._catalogs.append(["catalog_%d.catalog" % len(self._catalogs), self.count, [], []])
        name = "%d_cam_image_array_%s" % (self.count, suffix)  # Donkeycar's own naming, underscore included
        (self._tmp / "images" / name).write_bytes(image_bytes)
        record = {"_index": self.count, "_session_id": self.session,
                  "_timestamp_ms": int(round(self.clock() * 1000)) if timestamp_ms is None else int(timestamp_ms),
                  IMAGE_KEY: name,
                  ANGLE_KEY: max(-1.0, min(1.0, angle)), THROTTLE_KEY: max(-1.0, min(1.0, throttle)), MODE_KEY: mode}
        line = _line(record, sort_keys=True)
        catalog = self._catalogs[-1]
        catalog[2].append(len(line))
        catalog[3].append(line)
        self.count += 1

    def close(self):
        """Write the catalogs and manifest, then move the tub into place; returns its path."""
        if not self._catalogs:
            self._catalogs.append(["catalog_0.catalog", 0, [], []])
        for name, start, lengths, lines in self._catalogs:
            (self._tmp / name).write_text("".join(lines), encoding="utf-8")
            stem = name[:-len(".catalog")]
            meta = {"created_at": self.created_at, "line_lengths": lengths, "path": stem + ".catalog_manifest",
                    "start_index": start}
            (self._tmp / (stem + ".catalog_manifest")).write_text(_line(meta, sort_keys=True), encoding="utf-8")
        sessions = {"all_full_ids": [self.session], "last_id": 0, "last_full_id": self.session}
        manifest = [self.INPUTS, self.TYPES, self.metadata, {"created_at": self.created_at, "sessions": sessions},
                    {"paths": [c[0] for c in self._catalogs], "current_index": self.count, "max_len": self.max_len,
                     "deleted_indexes": []}]
        atomic_write_bytes(self._tmp / _MANIFEST, "".join(_line(m) for m in manifest).encode("utf-8"))
        if self.path.is_dir():
            self.path.rmdir()  # empty (checked at start); a rename cannot replace a folder
        os.replace(str(self._tmp), str(self.path))
        return self.path

    def abort(self):
        shutil.rmtree(str(self._tmp), ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            self.abort()
