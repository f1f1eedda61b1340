"""What the OLED reports about the computer: IP addresses, CPU/GPU load, memory, temperature.

Jetsons expose GPU load and the SoC's thermal zones in sysfs (the GPU's load is nowhere else);
other machines fall back to psutil. Every reading may be ``None`` (not available here) and none of
them raises: a status screen that crashes on a missing file would be worse than no screen.
"""

import glob
import logging
import os
import socket

__all__ = ["SystemInfo", "GPU_LOAD_FILES"]

log = logging.getLogger(__name__)

#: GPU load (0-1000) by Jetson generation: Nano/TX1, Xavier (gv11b), Orin (ga10b), newer L4T paths.
GPU_LOAD_FILES = (
    "sys/devices/gpu.0/load",
    "sys/devices/platform/gpu.0/load",
    "sys/devices/17000000.gv11b/load",
    "sys/devices/17000000.ga10b/load",
    "sys/devices/platform/17000000.ga10b/load",
    "sys/devices/platform/bus@0/17000000.gpu/load",
)

#: Thermal zones that don't say how hot the SoC is (the Nano's PMIC zone always reads 100 C).
_IGNORED_ZONES = ("pmic", "fan", "tboard", "tdiode")

#: Interfaces that aren't a way to reach the car.
_IGNORED_INTERFACES = ("lo", "docker", "veth", "br-", "virbr", "dummy", "tun", "tailscale")


def _psutil():
    try:
        import psutil
    except ImportError:
        return None
    return psutil


def _interface_rank(name):
    if name.startswith(("wlan", "wlp", "wl")):
        return 0
    if name.startswith(("eth", "enp", "eno", "ens", "en")):
        return 1
    return 2


class SystemInfo:
    """Readings from ``root`` (``/`` on the car; tests point it at a fake sysfs tree)."""

    def __init__(self, root="/"):
        self.root = root
        self._warned = False
        self._gpu_file = None
        self._zones = None

    def _path(self, rel):
        return os.path.join(self.root, rel)

    def _no_psutil(self):
        if not self._warned:
            log.warning("psutil is not installed: the status display shows no CPU/memory/network "
                        "(pip install psutil)")
            self._warned = True

    def ip_addresses(self):
        """[(interface, IPv4 address)], Wi-Fi first, then Ethernet, then the rest (e.g. the
        Jetson's USB gadget l4tbr0 at 192.168.55.1)."""
        psutil = _psutil()
        if psutil is None:
            self._no_psutil()
            return []
        found = []
        try:
            addrs = psutil.net_if_addrs()
        except OSError:
            return []
        for name, entries in addrs.items():
            if name.startswith(_IGNORED_INTERFACES):
                continue
            for entry in entries:
                if entry.family == socket.AF_INET and not entry.address.startswith("127."):
                    found.append((name, entry.address))
        found.sort(key=lambda item: (_interface_rank(item[0]), item[0]))
        return found

    def cpu_percent(self):
        psutil = _psutil()
        if psutil is None:
            return None
        return float(psutil.cpu_percent(interval=None))  # since the previous call: no blocking

    def gpu_percent(self):
        if self._gpu_file is None:
            self._gpu_file = next((p for p in map(self._path, GPU_LOAD_FILES) if os.path.exists(p)), "")
        if not self._gpu_file:
            return None
        try:
            with open(self._gpu_file) as f:
                return int(f.read().strip()) / 10.0
        except (OSError, ValueError):
            return None

    def memory(self):
        """(used bytes, total bytes), or None."""
        psutil = _psutil()
        if psutil is None:
            return None
        vm = psutil.virtual_memory()
        return vm.total - vm.available, vm.total

    def temperature_c(self):
        """The hottest SoC thermal zone in C (sysfs), else psutil's sensors, else None."""
        if self._zones is None:
            self._zones = []
            for zone in sorted(glob.glob(self._path("sys/class/thermal/thermal_zone*"))):
                try:
                    with open(os.path.join(zone, "type")) as f:
                        kind = f.read().strip().lower()
                except OSError:
                    continue
                if not any(word in kind for word in _IGNORED_ZONES):
                    self._zones.append(os.path.join(zone, "temp"))
        temps = []
        for path in self._zones:
            try:
                with open(path) as f:
                    value = int(f.read().strip())
            except (OSError, ValueError):
                continue
            temps.append(value / 1000.0 if abs(value) > 1000 else float(value))
        if temps:
            return max(temps)
        psutil = _psutil()
        sensors = getattr(psutil, "sensors_temperatures", None) if psutil else None
        if sensors is None:
            return None
        try:
            readings = [t.current for entries in sensors().values() for t in entries if t.current]
        except (OSError, AttributeError):
            return None
        return max(readings) if readings else None

    def snapshot(self):
        """All readings in one dict (keys: ips, cpu, gpu, memory, temperature)."""
        return {"ips": self.ip_addresses(), "cpu": self.cpu_percent(), "gpu": self.gpu_percent(),
                "memory": self.memory(), "temperature": self.temperature_c()}
