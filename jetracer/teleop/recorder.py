"""Recording while driving by hand: camera frames with the commands, as an XY dataset.

Each frame becomes ``ROOT/CATEGORY/{x}_{y}_{uuid}.jpg`` (written atomically by
:func:`jetracer.data.xy.save_sample`), so laps driven by a person train with ``jetracer train``
like any collected dataset. The label is the image point the pilot's control law would have to
see to reproduce the person's steering. The pilot steers with ``steering = x_n * gain + bias``
(``x_n`` in [-1, 1] across the image), so (:func:`jetracer.drive.control.x_from_steering`)::

    x_n = clamp((steering - bias) / gain, -1, 1)
    x   = width / 2 + x_n * width / 2          # pixel column, i.e. centre + steering/gain * half-width
    y   = round(lookahead * height)            # a fixed look-ahead row (0.4: a bit above the middle)

With the default gain 0.75, full right stick (+1) labels the right edge; 0.375 labels halfway
between the centre and the right edge. Every saved frame also gets one line in
``ROOT/commands.jsonl`` with the raw commands (steering, throttle, mode, scale, times, file).
That log is appended and flushed per line (fsync'd each second and at the end): after a power
cut only its last line can be torn, and :func:`read_commands` skips such a line.
"""

import json
import logging
import os
import time
import uuid
from pathlib import Path

from ..data.xy import save_sample
from ..drive.control import x_from_steering
from ..profile import defaults

__all__ = ["TeleopRecorder", "steering_to_label", "read_commands"]

log = logging.getLogger(__name__)

#: the profile schema's defaults (the recorder built without a profile labels as the default profile)
_PILOT, _TELEOP = defaults("pilot"), defaults("teleop")


def steering_to_label(steering, width, height, gain=_PILOT["steering_gain"],
                      bias=_PILOT["steering_bias"], lookahead=_TELEOP["record_lookahead"]):
    """Pixel (x, y) for a steering command (see the module docstring for the mapping)."""
    x_n = x_from_steering(steering, gain, bias)
    x = int(round(width / 2.0 + x_n * width / 2.0))
    y = int(round(lookahead * height))
    return min(max(x, 0), width - 1), min(max(y, 0), height - 1)


class TeleopRecorder:
    """Writes frames and commands under ``root``; ``record(frame, ...)`` per camera frame.

    Frames with zero throttle are skipped unless ``record_stopped``: a car standing still
    teaches nothing and fills the disk.
    """

    def __init__(self, root, category=_TELEOP["record_category"], gain=_PILOT["steering_gain"],
                 bias=_PILOT["steering_bias"], lookahead=_TELEOP["record_lookahead"],
                 record_stopped=False, fsync_period_s=1.0):
        self.root = Path(root)
        self.category = category
        self.gain, self.bias, self.lookahead = gain, bias, lookahead
        self.record_stopped = record_stopped
        self.session = uuid.uuid4().hex[:8]
        self.count = 0
        self.fsync_period_s = fsync_period_s
        self.root.mkdir(parents=True, exist_ok=True)
        log_path = self.root / "commands.jsonl"
        torn = _ends_mid_line(log_path)
        self._log = open(str(log_path), "a", encoding="utf-8")
        if torn:  # a power cut tore the last line: start ours on a line of its own
            self._log.write("\n")
            self._log.flush()
        self._last_sync = time.monotonic()
        self._last_seq = None

    @classmethod
    def from_profile(cls, profile, root=None):
        t = profile.teleop
        return cls(root or t["record_dir"], category=t["record_category"], gain=profile.pilot["steering_gain"],
                   bias=profile.pilot["steering_bias"], lookahead=t["record_lookahead"])

    def record(self, frame, steering, throttle, mode="manual", scale=None):
        """Save one frame labelled from ``steering``; returns the image path, or None if skipped
        (no throttle, or the same frame as last time)."""
        if throttle == 0.0 and not self.record_stopped:
            return None
        seq = getattr(frame, "seq", None)
        if seq is not None and seq == self._last_seq:
            return None
        self._last_seq = seq
        image = frame.image if hasattr(frame, "image") else frame
        height, width = image.shape[:2]
        x, y = steering_to_label(steering, width, height, self.gain, self.bias, self.lookahead)
        path = save_sample(self.root, self.category, image, x, y)
        line = {"session": self.session, "file": str(path.relative_to(self.root)), "seq": seq,
                "t": getattr(frame, "timestamp", None), "wall": round(time.time(), 3),
                "steering": round(float(steering), 5), "throttle": round(float(throttle), 5),
                "mode": mode, "x": x, "y": y}
        if scale is not None:
            line["scale"] = round(float(scale), 4)
        self._log.write(json.dumps(line) + "\n")
        self._log.flush()
        now = time.monotonic()
        if now - self._last_sync >= self.fsync_period_s:
            os.fsync(self._log.fileno())
            self._last_sync = now
        self.count += 1
        return path

    def close(self):
        if self._log.closed:
            return
        self._log.flush()
        os.fsync(self._log.fileno())
        self._log.close()
        log.info("recorded %d frames to %s", self.count, self.root)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _ends_mid_line(path):
    """True when ``path`` exists, is not empty and its last byte is not a newline."""
    try:
        with open(str(path), "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def read_commands(path):
    """The command log's records; a torn last line (power cut mid-write) is skipped."""
    out = []
    with open(str(path), encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except ValueError:
                log.warning("skipping a torn line in %s", path)
    return out
