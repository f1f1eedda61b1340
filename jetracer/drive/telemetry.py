"""Per-frame telemetry: stage timings with p50/p99, a rotating JSONL log, a terminal status line.

Anything else that wants every frame's record (the drive's video recorder, a web page's plot)
registers a sink with :meth:`Telemetry.add_sink` instead of wrapping ``record``: the pilot then
calls one method, and a sink can be removed again without unwinding someone else's wrapper.
"""

import itertools
import json
import logging
import logging.handlers
import sys
import time

from ..util.stats import Window

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
            from ..util.atomic import describe_os_error

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
                from ..util.atomic import describe_os_error

                log.error("telemetry log stopped: %s", describe_os_error(exc, self.baseFilename))


class Telemetry:
    """Collects one record per processed frame; writes JSONL if ``log_path`` is set, and hands
    each record to the sinks (:meth:`add_sink`) in the order they were added."""

    def __init__(self, log_path="", status_period_s=5.0, stream=None, max_bytes=20_000_000, backups=3):
        self.stages = {name: Window() for name in STAGES}
        self.status_period_s = status_period_s
        self.stream = stream if stream is not None else sys.stderr
        self._last_status = time.monotonic()
        self._jsonl = None
        self._sinks = []
        if log_path:
            from ..util.atomic import check_output_file, output_error

            check_output_file(log_path, "telemetry log")
            try:
                handler = _OnceReportingHandler(log_path, maxBytes=max_bytes, backupCount=backups)
            except OSError as exc:
                raise output_error(exc, log_path) from None
            handler.setFormatter(logging.Formatter("%(message)s"))
            self._jsonl = logging.getLogger("jetracer.drive.telemetry.jsonl.%d" % next(_LOGGER_IDS))
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
        for sink in tuple(self._sinks):
            sink(rec)

    def add_sink(self, fn):
        """Call ``fn(record)`` for every frame's record from now on, after the timings and the log
        have it; returns ``fn``. A sink that raises stops the frame as the pilot's own code would,
        so a sink that must not stop the car catches its own errors (the video recorder does)."""
        if not callable(fn):
            raise TypeError("a telemetry sink must be callable, got %r" % (fn,))
        self._sinks.append(fn)
        return fn

    def remove_sink(self, fn):
        """Stop calling ``fn`` (a no-op when it is not a sink)."""
        try:
            self._sinks.remove(fn)
        except ValueError:
            pass

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
        """Close the log and drop the sinks (safe to call twice)."""
        self._sinks = []
        if self._jsonl is not None:
            for handler in list(self._jsonl.handlers):
                handler.close()
                self._jsonl.removeHandler(handler)
