"""Errors that reach a user as one line: what went wrong, where, and how to fix it.

The command line (:func:`jetracer.cli.main`) prints ``error: <message>`` as one line and exits with
the error's :attr:`~JetracerError.exit_code`: 2 when what was asked cannot be done as asked (an
argument, a profile, a track, a dataset or model file that is wrong: fix the input and rerun), 3 for
a fault while doing it (hardware, a full disk: systemd's ``Restart=on-failure`` retries those). Each
layer raises its own type below, so a new command gets the mapping for free. Anything else that
escapes a command is a bug: one line too, exit 3, the traceback with ``-v``.
"""

__all__ = ["JetracerError", "UsageError", "HardwareError", "ProfileError", "DataError", "ModelError",
           "EngineError", "EngineBuildError", "BackendMissing", "TrackError", "CameraError", "OutputError",
           "USAGE_EXIT", "FAULT_EXIT"]

#: exit status of a usage error (bad argument, bad input file) and of a fault (hardware, disk)
USAGE_EXIT = 2
FAULT_EXIT = 3


class JetracerError(Exception):
    """Base: a problem the user can fix, described in one line."""

    exit_code = USAGE_EXIT


class UsageError(JetracerError):
    """Arguments that do not fit together (``--laps`` without ``--sim``...)."""


class HardwareError(JetracerError):
    """I2C bus or chip missing or failing."""

    exit_code = FAULT_EXIT


class ProfileError(JetracerError):
    """A car profile that does not validate (unknown key, wrong type, bad value)."""


class DataError(JetracerError):
    """A dataset that cannot be used (empty, unreadable)."""


class ModelError(JetracerError):
    """A model file that is not a model, or does not fit the requested architecture."""


class EngineError(JetracerError):
    """An inference engine file that cannot be loaded on this machine."""


class EngineBuildError(EngineError):
    """An engine build this device could not finish (out of memory, a layer its TensorRT lacks): a fault."""

    exit_code = FAULT_EXIT


class BackendMissing(EngineError):
    """An optional inference backend (tensorrt, torch2trt, onnxruntime) is not installed."""


class TrackError(JetracerError):
    """A track file that is malformed or undrivable."""


class CameraError(JetracerError):
    """A camera that will not open or stopped delivering frames."""

    exit_code = FAULT_EXIT


class OutputError(JetracerError, OSError):
    """A file or folder that cannot be written (disk full, a folder given for a file, no permission).

    Also an ``OSError``, so code that already handles failed writes keeps handling these. A full disk
    or an I/O error is a fault (exit 3); a path that is wrong as given is a usage error (exit 2)."""

    def __init__(self, message, exit_code=FAULT_EXIT):
        super().__init__(message)
        self.exit_code = exit_code

    def __str__(self):
        return self.args[0] if self.args else ""
