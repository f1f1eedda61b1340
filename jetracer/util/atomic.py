"""Atomic file writes: write to a temp file beside the target, fsync, rename into place.

A crash or power cut mid-write leaves either the old file or the new one, never half of either.
Every way a write can fail (disk full, a folder given for a file or a file for a folder, no
permission, a read-only card) becomes one :class:`~jetracer.errors.OutputError` line naming the
path, and the previous file is left untouched. This is the one place that knows how writes fail:
datasets, checkpoints, engines, metrics, videos and snapshots all go through it.
"""

import contextlib
import errno
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, Optional

from ..errors import FAULT_EXIT, USAGE_EXIT, OutputError
from ..protocols import PathLike

__all__ = ["atomic_write_bytes", "atomic_path", "atomic_save_torch", "check_output_file", "check_output_dir",
           "describe_os_error", "output_error"]

#: errno values that mean "the path is wrong as given" (exit 2) rather than "the write failed" (exit 3)
_USAGE_ERRNOS = {errno.EISDIR, errno.ENOTDIR, errno.ENOENT, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG,
                 errno.EEXIST}


def describe_os_error(exc: OSError, path: Optional[PathLike] = None) -> str:
    """One line for an ``OSError``: what failed, on which path, and what to do."""
    if isinstance(exc, OutputError):
        return str(exc)
    path = path or exc.filename or "?"
    code = exc.errno
    if code == errno.ENOSPC or code == errno.EDQUOT:
        return "disk full writing %s (%s free): free some space and retry" % (
            path, _free_space(path))
    if code == errno.EISDIR:
        return "%s is a folder: give a file name" % path
    if code == errno.ENOTDIR:
        return "%s: a part of this path is a file, not a folder" % path
    if code == errno.ENOENT:
        return "%s: no such file or folder" % path
    if code in (errno.EACCES, errno.EPERM):
        return "%s: permission denied" % path
    if code == errno.EROFS:
        return "%s: the file system is read-only" % path
    if code == errno.EFBIG:
        return "%s: file too large for this file system" % path
    return "%s: %s" % (path, exc.strerror or exc)


def output_error(exc: OSError, path: PathLike) -> OutputError:
    """The :class:`OutputError` for an ``OSError`` raised while writing ``path``."""
    if isinstance(exc, OutputError):
        return exc
    code = USAGE_EXIT if exc.errno in _USAGE_ERRNOS else FAULT_EXIT
    return OutputError(describe_os_error(exc, path), exit_code=code)


def _free_space(path: PathLike) -> str:
    folder = Path(path).parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        st = os.statvfs(str(folder))
    except OSError:
        return "unknown"
    free = st.f_bavail * st.f_frsize
    return "%.1f MB" % (free / 1e6) if free >= 1e5 else "%d bytes" % free


def check_output_dir(folder: PathLike, what: str = "output folder") -> Path:
    """Make ``folder`` (and its parents) or raise one line: it is a file, or cannot be made.

    Called before long work starts, so a wrong path fails in a second, not after an hour of training."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError("%s %s is a file, not a folder: give a folder path" % (what, folder), USAGE_EXIT)
    for parent in folder.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError("%s %s: %s is a file, not a folder" % (what, folder, parent), USAGE_EXIT)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, folder) from None
    if not os.access(str(folder), os.W_OK | os.X_OK):
        raise OutputError("%s %s: permission denied" % (what, folder), USAGE_EXIT)
    return folder


def check_output_file(path: PathLike, what: str = "output file") -> Path:
    """Check ``path`` can be written (not a folder, its folder made and writable) without touching
    an existing file there; raises one :class:`OutputError` line otherwise."""
    path = Path(path)
    if not path.name or path.is_dir():
        raise OutputError("%s %s is a folder: give a file name" % (what, path), USAGE_EXIT)
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise OutputError("cannot write %s %s: %s is a file, not a folder" % (what, path, parent), USAGE_EXIT)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise output_error(exc, path.parent) from None
    return path


@contextlib.contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temp path in the target's folder; on success it is renamed to ``path``.

    The temp name keeps the target's suffix, so writers that choose a format by it (OpenCV, Pillow)
    pick the right one."""
    target = check_output_file(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + target.name + ".", suffix=".tmp" + target.suffix,
                                   dir=str(target.parent))
        os.close(fd)
    except OSError as exc:
        raise output_error(exc, target) from None
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; keep the permissions a plain open() gives
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, str(target))
        _fsync_dir(target.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise output_error(exc, target) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    """The process umask, read without changing it (os.umask(0) would race other threads' files)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022


def _fsync_dir(folder: PathLike) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(str(folder), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: PathLike, data: bytes, mode: Optional[int] = None) -> None:
    """Write ``data`` to ``path`` atomically; ``mode`` (e.g. 0o600 for secrets) is set before the
    file becomes visible under its name."""
    with atomic_path(path) as tmp:
        if mode is not None:
            os.chmod(tmp, mode)
        with open(tmp, "wb") as f:
            f.write(data)


def atomic_save_torch(obj: Any, path: PathLike) -> None:
    """``torch.save`` through a temp file and rename."""
    import torch

    with atomic_path(path) as tmp:
        try:
            torch.save(obj, str(tmp))
        except RuntimeError as exc:  # torch's C++ writer: "file write failed", "unexpected pos 128 vs 0"...
            if _nearly_full(tmp):
                raise OSError(errno.ENOSPC, "No space left on device") from None
            if "write" not in str(exc).lower():
                raise
            raise OSError(errno.EIO, str(exc).split("\n")[0]) from None


def _nearly_full(path: PathLike) -> bool:
    """True when the file system holding ``path`` has (almost) no room left."""
    try:
        st = os.statvfs(str(Path(path).parent))
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < 1 << 20
