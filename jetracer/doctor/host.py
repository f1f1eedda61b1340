"""The machine the doctor examines, behind one object so that tests can hand it a fake one.

Everything the checks learn comes through here: files under ``root`` (``/etc``, ``/proc``, ``/sys``,
``/dev``), programs run with a timeout (``nvpmodel``, ``systemctl``), Python modules imported by
name, the user and their groups (from ``root/etc/passwd`` and ``root/etc/group``), the environment,
disk space, and I2C buses opened read-only. A test builds a tree for a Nano, an Orin or a PC in a
temporary folder, a dict of fake modules and a bus of register twins, and runs the real checks on it.
"""

import glob
import importlib
import os
import shutil
import subprocess

__all__ = ["Host", "MISSING"]

#: ``Host.module(name)`` for a module that is not installed (a fake host maps a name to it).
MISSING = None


class Host:
    """``root``: where the file system starts (``/``). ``modules``: {name: module or exception} that
    replaces importing (an exception instance is raised as the import error would be). ``commands``:
    {program: (returncode, output)} that replaces running programs (a program not in it is not
    installed). ``user``/``env``: the account and environment (default: this process's).
    ``open_i2c``: ``bus_number -> bus object`` (default: ``/dev/i2c-N`` through ioctl reads)."""

    def __init__(self, root="/", modules=None, commands=None, user=None, env=None, open_i2c=None,
                 machine=None):
        self.root = root
        self._modules = modules
        self._commands = commands
        self.env = dict(os.environ) if env is None else env
        self.user = user or self.env.get("USER") or _login_name()
        self._open_i2c = open_i2c
        self._machine = machine
        self._imported = {}

    # -- files -----------------------------------------------------------------------------------
    def path(self, absolute):
        """``/sys/x`` -> the same path under this host's root."""
        return os.path.join(self.root, absolute.lstrip("/"))

    def read(self, absolute, limit=65536):
        """A file's text (stripped, NULs removed as device-tree strings have them), or None."""
        try:
            with open(self.path(absolute), "rb") as f:
                data = f.read(limit)
        except OSError:
            return None
        return data.replace(b"\x00", b"").decode("utf-8", "replace").strip()

    def exists(self, absolute):
        return os.path.exists(self.path(absolute))

    def glob(self, pattern):
        """Absolute paths (as seen on the host) matching ``pattern``."""
        base = self.path("/")
        return sorted("/" + os.path.relpath(p, base) for p in glob.glob(self.path(pattern)))

    def disk_free(self, absolute):
        """(free bytes, total bytes) of the file system holding ``absolute``, or None."""
        path = self.path(absolute)
        while path and not os.path.exists(path):
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
        try:
            usage = shutil.disk_usage(path)
        except OSError:
            return None
        return usage.free, usage.total

    @property
    def machine(self):
        """The CPU architecture (``aarch64``, ``x86_64``)."""
        if self._machine is None:
            self._machine = os.uname().machine
        return self._machine

    # -- programs --------------------------------------------------------------------------------
    def run(self, argv, timeout=5.0):
        """(returncode, output text) of a program, or None when it is not installed or hangs."""
        if self._commands is not None:
            return self._commands.get(" ".join(argv), self._commands.get(argv[0]))
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError:
            return None
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return None
        return proc.returncode, out.decode("utf-8", "replace").strip()

    # -- Python modules --------------------------------------------------------------------------
    def module(self, name):
        """The imported module, or None when it is not installed. An import that fails for another
        reason (the Nano's libgomp TLS error, a broken wheel) raises that ImportError/OSError."""
        if self._modules is not None:
            value = self._modules.get(name, MISSING)
            if isinstance(value, BaseException):
                raise value
            return value
        if name not in self._imported:
            try:
                self._imported[name] = importlib.import_module(name)
            except ImportError as exc:
                if getattr(exc, "name", None) == name.split(".")[0] and "No module named" in str(exc):
                    self._imported[name] = MISSING
                else:
                    self._imported[name] = exc
            except Exception as exc:  # a broken install raises anything at import; report it, don't crash
                self._imported[name] = exc
        value = self._imported[name]
        if isinstance(value, BaseException):
            raise value
        return value

    # -- accounts --------------------------------------------------------------------------------
    def groups(self):
        """Names of the groups ``self.user`` belongs to, from ``etc/group`` and ``etc/passwd``."""
        primary = None
        for line in (self.read("/etc/passwd") or "").splitlines():
            fields = line.split(":")
            if len(fields) >= 4 and fields[0] == self.user:
                primary = fields[3]
        names = []
        for line in (self.read("/etc/group") or "").splitlines():
            fields = line.split(":")
            if len(fields) < 4:
                continue
            members = [m.strip() for m in fields[3].split(",") if m.strip()]
            if self.user in members or (primary is not None and fields[2] == primary):
                names.append(fields[0])
        return names

    def group_exists(self, name):
        return any(line.split(":")[0] == name for line in (self.read("/etc/group") or "").splitlines())

    # -- I2C -------------------------------------------------------------------------------------
    def open_i2c(self, number):
        """A bus object with ``readfrom_into``/``writeto_then_readfrom`` for I2C bus ``number``."""
        if self._open_i2c is not None:
            return self._open_i2c(number)
        from .i2c import DevI2C

        return DevI2C(self.path("/dev/i2c-%d" % number))


def _login_name():
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return ""
