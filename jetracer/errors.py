"""Errors that reach a user as one line: what went wrong, where, and how to fix it.

The command line prints ``error: <message>`` and exits non-zero for any :class:`JetracerError`,
with no traceback; everything else is a bug and keeps its traceback.
"""

__all__ = ["JetracerError", "HardwareError", "ProfileError", "DataError", "ModelError",
           "EngineError", "BackendMissing", "TrackError", "CameraError"]


class JetracerError(Exception):
    """Base: a problem the user can fix, described in one line."""


class HardwareError(JetracerError):
    """I2C bus or chip missing or failing."""


class ProfileError(JetracerError):
    """A car profile that does not validate (unknown key, wrong type, bad value)."""


class DataError(JetracerError):
    """A dataset that cannot be used (empty, unreadable)."""


class ModelError(JetracerError):
    """A model file that is not a model, or does not fit the requested architecture."""


class EngineError(JetracerError):
    """An inference engine file that cannot be loaded on this machine."""


class BackendMissing(EngineError):
    """An optional inference backend (tensorrt, torch2trt, onnxruntime) is not installed."""


class TrackError(JetracerError):
    """A track file that is malformed or undrivable."""


class CameraError(JetracerError):
    """A camera that will not open or stopped delivering frames."""
