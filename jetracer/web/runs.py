"""The Runs page's data: the pilot's telemetry logs (JSONL), reduced to what a plot needs.

A log is one JSON object per line: per-frame records (``t``, ``steering``, ``throttle``,
``latency_ms``, ``mode``...) and events (``{"event": "estop"|"fault"|"mode"|"stop", ...}``), as
:class:`~jetracer.drive.telemetry.Telemetry` writes them; rotated logs (``.jsonl.1``...) count too.
Logs are other programs' files in any state: only the last ``max_bytes`` are read, a line that is
not JSON (a torn last line, a stray byte) is counted and skipped, never an error.
"""

import json
import math
import os
import re
from pathlib import Path

__all__ = ["list_runs", "load_run", "RunNotFound"]

_RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}\.jsonl(\.\d{1,3})?$")
MAX_POINTS = 1500


class RunNotFound(ValueError):
    pass


def list_runs(folders):
    """Newest first: ``[{"name", "bytes", "mtime"}]`` of the logs in ``folders`` (names unique)."""
    seen = {}
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if _RUN_NAME.match(path.name) and path.is_file() and not path.is_symlink() and path.name not in seen:
                st = path.stat()
                seen[path.name] = {"name": path.name, "bytes": st.st_size, "mtime": st.st_mtime}
    return sorted(seen.values(), key=lambda r: -r["mtime"])


def _find(folders, name):
    if not isinstance(name, str) or not _RUN_NAME.match(name):
        raise RunNotFound("not a telemetry log name: %r" % (name,))
    for folder in folders:
        path = Path(folder) / name
        if path.is_file() and not path.is_symlink():
            return path
    raise RunNotFound("no run named %s" % name)


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def load_run(folders, name, max_bytes=8000000):
    """``{"t", "steering", "throttle", "latency_ms", "fps", "events", "stop_reason", "bad_lines"}``."""
    path = _find(folders, name)
    size = path.stat().st_size
    with open(str(path), "rb") as f:
        if size > max_bytes:
            f.seek(size - max_bytes)
            f.readline()  # drop the partial first line
        data = f.read()
    series = {"t": [], "steering": [], "throttle": [], "latency_ms": []}
    events, bad = [], 0
    for raw in data.splitlines():
        try:
            rec = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            bad += 1
            continue
        if not isinstance(rec, dict):
            bad += 1
            continue
        if "event" in rec:
            events.append({k: v for k, v in rec.items() if isinstance(v, (str, int, float)) and k != "t"})
            continue
        if not _finite(rec.get("t")):
            bad += 1
            continue
        for key in series:
            value = rec.get(key)
            series[key].append(round(float(value), 4) if _finite(value) else None)
    series["fps"] = _fps(series["t"])
    step = max(1, int(math.ceil(len(series["t"]) / float(MAX_POINTS))))
    out = {key: values[::step] for key, values in series.items()}
    out.update(name=name, frames=len(series["t"]), events=events[-200:], bad_lines=bad,
               stop_reason=_stop_reason(events))
    return out


def _fps(times, window=15):
    """Frames per second over the last ``window`` frames at each frame."""
    out = []
    for i, t in enumerate(times):
        j = max(0, i - window)
        dt = t - times[j]
        out.append(round((i - j) / dt, 2) if dt > 0 else None)
    return out


def _stop_reason(events):
    for event in reversed(events):
        if event.get("event") in ("fault", "stop", "estop"):
            return str(event.get("reason", event.get("event")))
    return ""


def default_run_folders(profile, runs_dir):
    """Where logs are looked for: the web app's ``runs_dir`` and the folder of ``[pilot] log_path``."""
    folders = [Path(runs_dir)]
    if profile.pilot["log_path"]:
        folders.append(Path(os.path.dirname(os.path.abspath(profile.pilot["log_path"]))))
    return folders
