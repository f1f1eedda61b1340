"""Atomic file writes: write to a temp file beside the target, fsync, rename into place.

A crash or power cut mid-write leaves either the old file or the new one, never half of either.
A full disk raises a one-line ``OSError`` message and leaves the previous file untouched.
"""

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "atomic_path", "atomic_save_torch"]


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temp path in the target's folder; on success it is renamed to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=str(path.parent))
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; keep the permissions a plain open() gives
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, str(path))
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask():
    """The process umask, read without changing it (os.umask(0) would race other threads' files)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync_dir(folder):
    with contextlib.suppress(OSError):
        fd = os.open(str(folder), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path, data, mode=None):
    """Write ``data`` to ``path`` atomically; ``mode`` (e.g. 0o600 for secrets) is set before the
    file becomes visible under its name."""
    with atomic_path(path) as tmp:
        if mode is not None:
            os.chmod(tmp, mode)
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_save_torch(obj, path):
    """``torch.save`` through a temp file and rename."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, str(tmp))
