"""Which process drives this car: a lock file per car (I2C bus + address), in the runtime folder.

A drive (``jetracer drive``, ``jetracer web``) holds an exclusive ``flock`` on its lock file for as
long as it runs and writes its pid and command in it. ``jetracer stop`` finds a running drive by
trying that lock (a lock cannot outlive its process, so a stale file or a recycled pid is never
mistaken for a drive), asks it to stop, and only then writes neutral itself; a second drive on the
same car is refused instead of fighting the first.
"""

import errno
import fcntl
import json
import os
import tempfile
from pathlib import Path

from ..errors import JetracerError

__all__ = ["runtime_dirs", "lock_path", "lock_paths", "DriveLock", "running_drive", "find_running_drive", "lock_car",
           "holder_name"]

#: what each locking command is called in messages
_NAMES = {"drive": "drive", "web": "web app"}


def holder_name(holder):
    """"drive" or "web app": who holds a lock, from its info (older locks name no command: a drive)."""
    return _NAMES.get((holder or {}).get("command"), "drive")


def _refusal(holder, path):
    return JetracerError("a %s is already running on this car (pid %s, %s): stop it first with `jetracer stop`" % (
        holder_name(holder), holder.get("pid", "?"), path))


def runtime_dirs():
    """Where drive locks live, in order: ``/run/jetracer`` when writable (the drive unit's
    ``RuntimeDirectory``), ``$XDG_RUNTIME_DIR/jetracer`` (a login shell), a per-user temp folder. A
    drive locks in the first; ``jetracer stop`` looks in all (a service has no XDG_RUNTIME_DIR,
    the shell you run ``jetracer stop`` from has one)."""
    dirs = []
    run = Path("/run/jetracer")
    if run.is_dir() and os.access(str(run), os.W_OK):
        dirs.append(run)
    if os.environ.get("XDG_RUNTIME_DIR"):
        dirs.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "jetracer")
    dirs.append(Path(tempfile.gettempdir()) / ("jetracer-%d" % os.getuid()))
    return dirs


def lock_paths(profile, sim=False):
    """Every place the lock of the car ``profile`` describes may be (the simulator's lives beside
    its chips); the first is where a drive takes it."""
    car = profile.car
    if sim:
        from ..sim.devices import sim_state_dir

        return [sim_state_dir() / ("drive-0x%02x.lock" % car["i2c_address"])]
    name = "drive-i2c%d-0x%02x.lock" % (car["i2c_bus"], car["i2c_address"])
    return [d / name for d in runtime_dirs()]


def lock_path(profile, sim=False):
    return lock_paths(profile, sim)[0]


def _read_info(fd):
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        return json.loads(os.read(fd, 4096).decode("utf-8") or "{}")
    except ValueError:
        return {}


class DriveLock:
    """Held by a running drive; ``acquire`` refuses when another process holds it."""

    def __init__(self, path):
        self.path = Path(path)
        self._fd = None

    def acquire(self, **info):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_info(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise _refusal(holder, self.path) from None
        info = dict(info, pid=os.getpid())
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(info) + "\n").encode("utf-8"))  # in place: the lock is on this inode
        self._fd = fd
        return self

    def release(self):
        if self._fd is None:
            return
        try:
            os.unlink(str(self.path))
        except OSError:
            pass
        os.close(self._fd)  # closing drops the lock
        self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


def lock_car(profile, sim, command="drive"):
    """Take the car described by ``profile`` for ``command`` ("drive", "web"): refused with one line
    naming the pid when a drive or the web app already holds it, wherever its lock lives."""
    paths = lock_paths(profile, sim=sim)
    path, holder = find_running_drive(paths[1:])
    if holder is not None:
        raise _refusal(holder, path)
    return DriveLock(paths[0]).acquire(profile=profile.name, sim=bool(sim), command=command)


def find_running_drive(paths):
    """``(path, {"pid": ...})`` of the first running drive among ``paths``, or ``(None, None)``."""
    for path in paths:
        holder = running_drive(path)
        if holder is not None:
            return path, holder
    return None, None


def running_drive(path):
    """``{"pid": ...}`` of the drive holding the lock at ``path``, or None when none runs."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            info = _read_info(fd)
            return info if isinstance(info.get("pid"), int) else {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)
