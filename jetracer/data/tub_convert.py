"""Donkeycar tubs <-> JetRacer XY datasets, so Donkeycar users bring their laps and take ours back.

Import labels each frame as ``jetracer teleop --record`` does (:func:`steering_to_label`): the image
point the pilot's control law (``steering = x_n * gain + bias``) would have to see to reproduce the
person's ``user/angle``, on a fixed look-ahead row. The JPEG is copied byte for byte (no
re-encoding). What the file name cannot hold (throttle, mode, where it came from) goes in the
category's labels sidecar. Export inverts the label (``steering = x_n * gain + bias``) and takes
the throttle from the sidecar, else a constant.
"""

import logging
import math
from pathlib import Path

from ..drive.control import steering_from_x
from ..errors import DataError
from ..profile import defaults
from ..teleop.recorder import steering_to_label
from ..util.atomic import atomic_write_bytes
from .donkey_tub import TubWriter, read_tub
from .xy import list_samples, normalise_xy, sample_name

__all__ = ["import_tubs", "export_tub", "write_extra_labels", "read_extra_labels"]

log = logging.getLogger(__name__)

#: the profile schema's defaults: the label mapping is the default profile's unless told otherwise
_PILOT, _TELEOP = defaults("pilot"), defaults("teleop")

_SIDECAR = "labels.json"
_FORMAT = "jetracer-labels"


def write_extra_labels(folder, entries):
    """Merge {image name: {label: value}} into ``folder``'s labels sidecar (``labels.json``).

    Uses :mod:`jetracer.data.sidecar` when this build has it; until then an equivalent writer of
    the same file format (``{"format": "jetracer-labels", "version": 1, "labels": {...}}``)."""
    try:
        from . import sidecar
    except ImportError:
        sidecar = None
    if sidecar is not None:
        sidecar.update_labels(folder, entries)
        return
    import json

    labels = read_extra_labels(folder)
    for name, values in entries.items():
        labels.setdefault(name, {}).update(values)
    body = {"format": _FORMAT, "version": 1, "labels": {k: labels[k] for k in sorted(labels)}}
    atomic_write_bytes(Path(folder) / _SIDECAR, (json.dumps(body, indent=0, sort_keys=True) + "\n").encode("utf-8"))


def read_extra_labels(folder):
    """{image name: {label: value}} of ``folder``'s sidecar ({} without one)."""
    try:
        from . import sidecar
    except ImportError:
        sidecar = None
    if sidecar is not None:
        return sidecar.read_labels(folder)
    import json

    path = Path(folder) / _SIDECAR
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError("%s is not a readable labels file (%s)" % (path, exc)) from None
    labels = data.get("labels") if isinstance(data, dict) else None
    if data.get("format") != _FORMAT or not isinstance(labels, dict):
        raise DataError("%s is not a jetracer labels file" % path)
    return {str(k): dict(v) for k, v in labels.items() if isinstance(v, dict)}


def _capture_time(sample):
    """When a sample was taken: the time in its uuid1 name (JetRacer's notebooks and jetracer use
    uuid1), else the file's modification time."""
    import uuid

    stem = sample.path.stem.split("_", 2)[-1]
    try:
        value = uuid.UUID(stem)
        if value.version == 1:
            return (value.time - 0x01B21DD213814000) / 1e7  # 100 ns ticks since 1582 -> Unix seconds
    except ValueError:
        pass
    try:
        return sample.path.stat().st_mtime
    except OSError:
        return 0.0


def _image_size(path):
    """(width, height) of a readable image; raises OSError/ValueError for a damaged one."""
    from PIL import Image

    with Image.open(str(path)) as img:
        img.load()
        return img.size


def import_tubs(tubs, out, category=_TELEOP["record_category"], gain=_PILOT["steering_gain"],
                bias=_PILOT["steering_bias"], lookahead=_TELEOP["record_lookahead"]):
    """Turn Donkeycar tubs into ``out/category/{x}_{y}_{uuid}.jpg`` plus sidecar labels.

    Returns {"imported", "deleted", "skipped", "tubs"}: records written, records the tubs mark
    deleted (left out), and records skipped (no finite angle, missing or unreadable image)."""
    if not tubs:
        raise DataError("no tub given: pass one or more Donkeycar tub folders")
    if not category or "/" in category or category.startswith("."):
        raise DataError("bad category name %r: use a plain folder name such as 'apex'" % (category,))
    folder = Path(out) / category
    for path in (Path(out), folder):
        if path.exists() and not path.is_dir():
            raise DataError("--out %s: %s is a file, not a folder" % (out, path))
    totals = {"imported": 0, "deleted": 0, "skipped": 0, "tubs": len(tubs)}
    try:
        _import_into(tubs, folder, totals, gain, bias, lookahead)
    except OSError as exc:  # disk full, read-only, permissions: one line, the samples written so far stay
        raise DataError("writing %s failed after %d records: %s" % (
            folder, totals["imported"], exc.strerror or exc)) from None
    if not totals["imported"]:
        raise DataError("no usable records in %s (%d deleted, %d skipped)" % (
            ", ".join(str(t) for t in tubs), totals["deleted"], totals["skipped"]))
    return totals


def _import_into(tubs, folder, totals, gain, bias, lookahead):
    for tub in tubs:
        records, info = read_tub(tub)
        totals["deleted"] += info["deleted"]
        totals["skipped"] += info["damaged"] + info["missing_images"]
        entries = {}
        for record in records:
            if record.angle is None:
                totals["skipped"] += 1
                log.warning("%s: record %d has no finite %s; skipped", tub, record.index, "user/angle")
                continue
            try:
                width, height = _image_size(record.image)
            except (OSError, ValueError, SyntaxError) as exc:
                totals["skipped"] += 1
                log.warning("skipping %s: cannot read the image (%s)", record.image, exc)
                continue
            x, y = steering_to_label(max(-1.0, min(1.0, record.angle)), width, height, gain, bias, lookahead)
            name = sample_name(x, y)
            if record.image.suffix.lower() in (".jpg", ".jpeg"):
                atomic_write_bytes(folder / name, record.image.read_bytes())
            else:  # a PNG (or other) frame: JetRacer's names end in .jpg, so re-encode it once
                import numpy as np
                from PIL import Image

                from .xy import encode_jpeg

                with Image.open(str(record.image)) as img:
                    rgb = np.asarray(img.convert("RGB"))
                atomic_write_bytes(folder / name, encode_jpeg(rgb[:, :, ::-1].copy()))
            values = {"steering": round(record.angle, 5),
                      "source": "donkeycar:%s#%d" % (Path(tub).name, record.index)}
            if record.throttle is not None:
                values["throttle"] = round(record.throttle, 5)
            if record.mode:
                values["mode"] = record.mode
            if record.session:
                values["session"] = str(record.session)
            entries[name] = values
            totals["imported"] += 1
        if entries:
            write_extra_labels(folder, entries)


def export_tub(datasets, out, gain=_PILOT["steering_gain"], bias=_PILOT["steering_bias"],
               throttle=_PILOT["throttle"], max_len=1000):
    """Write the XY datasets ``datasets`` as one new Donkeycar Tub v2 at ``out``.

    ``user/angle`` = clamp(x_n * gain + bias), the steering the pilot would give for the label;
    the sidecar's exact ``steering`` instead where it gives the same label column (an imported
    tub's angles beyond the gain survive the round trip); ``user/throttle`` from the sidecar's
    ``throttle`` when present, else ``throttle``."""
    if not (isinstance(throttle, (int, float)) and math.isfinite(throttle) and -1.0 <= throttle <= 1.0):
        raise DataError("--throttle must be a number in [-1, 1], got %r" % (throttle,))
    for folder in datasets:
        if (Path(folder) / "manifest.json").is_file():
            raise DataError("%s is a Donkeycar tub, not an XY dataset: `jetracer import-tub %s --out DIR` reads it"
                            % (folder, folder))
    samples, _, _ = list_samples(datasets)
    samples = sorted(samples, key=_capture_time)  # a tub is a time series: Donkeycar splits and sequences by order
    try:
        return _export_into(samples, out, gain, bias, throttle, max_len)
    except OSError as exc:
        raise DataError("writing the tub %s failed: %s (nothing was left half-written)" % (
            out, exc.strerror or exc)) from None


def _export_into(samples, out, gain, bias, throttle, max_len):
    sidecars = {}
    written = skipped = 0
    with TubWriter(out, max_len=max_len, metadata={"exported_by": "jetracer"}) as tub:
        for sample in samples:
            folder = sample.path.parent
            if folder not in sidecars:
                sidecars[folder] = read_extra_labels(folder)
            try:
                width, height = _image_size(sample.path)
                data = sample.path.read_bytes()
            except (OSError, ValueError, SyntaxError) as exc:
                skipped += 1
                log.warning("skipping %s: cannot read the image (%s)", sample.path, exc)
                continue
            x_n, _ = normalise_xy(sample.x, sample.y, width, height)
            angle = max(-1.0, min(1.0, steering_from_x(x_n, gain, bias)))
            extra = sidecars[folder].get(sample.path.name, {})
            exact = extra.get("steering")
            if (isinstance(exact, (int, float)) and not isinstance(exact, bool) and math.isfinite(exact)
                    and steering_to_label(exact, width, height, gain, bias)[0] == sample.x):
                angle = max(-1.0, min(1.0, float(exact)))  # the recorded command, where the label still agrees
            value = extra.get("throttle", throttle)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                value = throttle
            tub.add(data, angle, value, mode=str(extra.get("mode", "user")), suffix=".jpg",
                    timestamp_ms=int(round(_capture_time(sample) * 1000)))
            written += 1
    return {"exported": written, "skipped": skipped, "tub": str(out)}
