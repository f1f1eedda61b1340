"""Per-frame telemetry: stage timings with p50/p99, a rotating JSONL log, a terminal status line."""

import itertools
import json
import logging
import logging.handlers
import sys
import time

from .util.stats import Window

__all__ = ["Telemetry", "STAGES"]

log = logging.getLogger(__name__)
_LOGGER_IDS = itertools.count()

#: capture_age: frame capture -> the pilot picked it up; then the pilot's own stages.
STAGES = ("capture_age_ms", "preprocess_ms", "inference_ms", "control_ms", "actuation_ms", "latency_ms")


class _OnceReportingHandler(logging.handlers.RotatingFileHandler):
    """A rotating JSONL file whose write failures (disk full, card pulled) are reported once, as one
    line, and then stop: a log must never flood the terminal or slow the driving loop."""

    def handleError(self, record):
        exc = sys.exc_info()[1]
        if not getattr(self, "_failed", False):
            self._failed = True
            from .util.atomic import describe_os_error

            why = describe_os_error(exc, self.baseFilename) if isinstance(exc, OSError) else "%s: %s" % (
                type(exc).__name__, exc)
            log.error("telemetry log stopped: %s", why)

    def emit(self, record):
        if not getattr(self, "_failed", False):
            super().emit(record)

    def close(self):
        try:
            super().close()
        except OSError as exc:  # the last flush hit the same full disk
            if not getattr(self, "_failed", False):
                self._failed = True
                from .util.atomic import describe_os_error

                log.error("telemetry log stopped: %s", describe_os_error(exc, self.baseFilename))


class Telemetry:
    """Collects one record per processed frame; writes JSONL if ``log_path`` is set."""

    def __init__(self, log_path="", status_period_s=5.0, stream=None, max_bytes=20_000_000, backups=3):
        self.stages = {name: Window() for name in STAGES}
        self.status_period_s = status_period_s
        self.stream = stream if stream is not None else sys.stderr
        self._last_status = time.monotonic()
        self._jsonl = None
        if log_path:
            from .util.atomic import check_output_file, output_error

            check_output_file(log_path, "telemetry log")
            try:
                handler = _OnceReportingHandler(log_path, maxBytes=max_bytes, backupCount=backups)
            except OSError as exc:
                raise output_error(exc, log_path) from None
            handler.setFormatter(logging.Formatter("%(message)s"))
            self._jsonl = logging.getLogger("jetracer.telemetry.jsonl.%d" % next(_LOGGER_IDS))
            self._jsonl.propagate = False
            self._jsonl.setLevel(logging.INFO)
            self._jsonl.addHandler(handler)

    def record(self, rec):
        for name, window in self.stages.items():
            value = rec.get(name)
            if value is not None:
                window.add(value)
        if self._jsonl is not None:
            self._jsonl.info(json.dumps(rec, separators=(",", ":")))

    def event(self, kind, **fields):
        """A non-frame event (mode change, fault) in the JSONL log."""
        if self._jsonl is not None:
            self._jsonl.info(json.dumps(dict(event=kind, t=time.time(), **fields), separators=(",", ":")))

    def maybe_status(self, line_fn):
        """Print ``line_fn()`` when the status period has passed (wall clock)."""
        if not self.status_period_s:
            return
        now = time.monotonic()
        if now - self._last_status >= self.status_period_s:
            self._last_status = now
            self.stream.write(line_fn() + "\n")
            self.stream.flush()

    def summary(self):
        return {name: window.summary() for name, window in self.stages.items()}

    def close(self):
        if self._jsonl is not None:
            for handler in list(self._jsonl.handlers):
                handler.close()
                self._jsonl.removeHandler(handler)
