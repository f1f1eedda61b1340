"""The board and its set-up: JetPack/L4T, Python, groups, power mode and clocks, disk, libgomp."""

import re
import sys

from .report import ok, problem, warning

__all__ = ["board", "jetpack_for_l4t", "platform_checks", "L4T_TO_JETPACK", "PYTHON_FOR_JETPACK"]

#: L4T release -> JetPack (NVIDIA's release notes). Looked up by the longest matching prefix.
L4T_TO_JETPACK = {
    "32.4.3": "4.4", "32.4.4": "4.4.1", "32.5": "4.5", "32.5.1": "4.5.1", "32.5.2": "4.5.1", "32.6.1": "4.6",
    "32.7.1": "4.6.1", "32.7.2": "4.6.2", "32.7.3": "4.6.3", "32.7.4": "4.6.4", "32.7.5": "4.6.5",
    "32.7.6": "4.6.6", "35.1": "5.0.2", "35.2.1": "5.1", "35.3.1": "5.1.1", "35.4.1": "5.1.2", "35.5": "5.1.3",
    "35.6": "5.1.4", "36.2": "6.0 DP", "36.3": "6.0", "36.4": "6.1", "36.4.3": "6.2", "36.4.4": "6.2.1",
}

#: The Python each JetPack ships (NVIDIA's torch wheels are built for exactly that one).
PYTHON_FOR_JETPACK = {"4": (3, 6), "5": (3, 8), "6": (3, 10)}

#: Groups a car user needs: I2C (PCA9685, OLED, INA219), cameras, gamepads, GPIO.
WANTED_GROUPS = (("i2c", "the PWM board, OLED and battery monitor"), ("video", "the camera"),
                 ("input", "gamepads"), ("gpio", "GPIO pins"))


def _l4t(host):
    """'32.7.1' from /etc/nv_tegra_release ('# R32 (release), REVISION: 7.1, ...'), or None."""
    text = host.read("/etc/nv_tegra_release") or ""
    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", text)
    if not m:
        return None
    return "%s.%s" % (m.group(1), m.group(2).rstrip("."))


def jetpack_for_l4t(l4t):
    """The JetPack of an L4T version string, or None when unknown."""
    parts = l4t.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in L4T_TO_JETPACK:
            return L4T_TO_JETPACK[candidate]
    return {"32": "4.x", "35": "5.x", "36": "6.x"}.get(parts[0])


def board(host):
    """{"model", "jetson" (bool), "l4t", "jetpack"} of the machine."""
    model = host.read("/proc/device-tree/model") or host.read("/sys/firmware/devicetree/base/model") or ""
    l4t = _l4t(host)
    jetson = "jetson" in model.lower() or l4t is not None
    return {"model": model or None, "jetson": jetson, "l4t": l4t, "jetpack": jetpack_for_l4t(l4t) if l4t else None}


def _board_check(info, host):
    if not info["jetson"]:
        return ok("board", "not a Jetson (%s%s): the simulator and training work here, the car does not" % (
            host.machine, ", " + info["model"] if info["model"] else ""))
    if info["l4t"] is None:
        return warning("board", "%s, but /etc/nv_tegra_release is missing or unreadable" % info["model"],
                       "reflash with NVIDIA's SD card image or SDK Manager so L4T is recorded")
    return ok("board", "%s, L4T %s = JetPack %s" % (info["model"] or "Jetson", info["l4t"], info["jetpack"] or "?"))


def _python_check(info, version):
    text = "Python %d.%d.%d" % tuple(version[:3])
    if tuple(version[:2]) < (3, 6):
        return problem("python", text + ": jetracer needs Python 3.6 or newer", "use python3")
    if info["jetpack"]:
        want = PYTHON_FOR_JETPACK.get(info["jetpack"][0])
        if want and tuple(version[:2]) != want:
            return warning("python", "%s, but JetPack %s ships Python %d.%d: NVIDIA's torch and TensorRT wheels "
                           "are built for that one" % (text, info["jetpack"], want[0], want[1]),
                           "use the system python3 (or a venv made from it with --system-site-packages)")
    return ok("python", text)


def _groups_check(host, info):
    have = set(host.groups())
    missing = [(g, why) for g, why in WANTED_GROUPS if g not in have and host.group_exists(g)]
    if host.user == "root":
        return ok("groups", "running as root")
    if not missing:
        return ok("groups", "%s is in %s" % (host.user, ", ".join(g for g, _ in WANTED_GROUPS if g in have) or
                                             "no hardware groups (none exist here)"))
    text = "%s is not in %s" % (host.user, ", ".join("%s (%s)" % m for m in missing))
    fix = "sudo usermod -aG %s %s, then log out and in again" % (",".join(g for g, _ in missing), host.user)
    return (problem if info["jetson"] and any(g in ("i2c", "video") for g, _ in missing) else warning)(
        "groups", text, fix)


def _read_int(host, path):
    text = host.read(path)
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def _power_checks(host, info):
    if not info["jetson"]:
        return []
    checks = []
    result = host.run(["nvpmodel", "-q"])
    if result is None or result[0] != 0:
        checks.append(warning("power", "nvpmodel not available: power mode unknown", "sudo nvpmodel -q"))
    else:
        m = re.search(r"NV Power Mode:\s*(\S+)", result[1])
        mode = m.group(1) if m else result[1].splitlines()[0] if result[1] else "?"
        if "MAXN" in mode.upper():
            checks.append(ok("power", "power mode %s" % mode))
        else:
            checks.append(warning("power", "power mode %s: the GPU and CPUs are capped" % mode,
                                  "sudo nvpmodel -m 0 for full power (needs a 4 A barrel supply on a Nano)"))
    cur = _read_int(host, "/sys/devices/system/cpu/cpu0/cpufreq/scaling_cur_freq")
    top = _read_int(host, "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    gpu_cur = gpu_max = None
    for folder in host.glob("/sys/class/devfreq/*"):
        if "gpu" in folder or "gv11b" in folder or "ga10b" in folder or "gp10b" in folder:
            gpu_cur = _read_int(host, folder + "/cur_freq")
            gpu_max = _read_int(host, folder + "/max_freq")
            break
    parts = []
    if cur and top:
        parts.append("CPU %d/%d MHz" % (cur // 1000, top // 1000))
    if gpu_cur and gpu_max:
        parts.append("GPU %d/%d MHz" % (gpu_cur // 1000000, gpu_max // 1000000))
    if parts:
        slow = (cur and top and cur < 0.9 * top) or (gpu_cur and gpu_max and gpu_cur < 0.9 * gpu_max)
        if slow:
            checks.append(warning("clocks", ", ".join(parts) + ": clocks scale with load, the first frames are slow",
                                  "sudo jetson_clocks (pins them at the maximum) before timing or racing"))
        else:
            checks.append(ok("clocks", ", ".join(parts)))
    return checks


def _disk_check(host):
    home = host.env.get("HOME") or "/"
    usage = host.disk_free(home)
    if usage is None:
        return warning("disk", "cannot read free space of %s" % home)
    free, total = usage
    gb = free / 1e9
    text = "%.1f GB free of %.1f GB (%s)" % (gb, total / 1e9, home)
    if gb < 0.5:
        return problem("disk", text + ": datasets, engines and logs will fail to write",
                       "free space (old datasets, `sudo apt clean`, ~/.cache/pip)")
    if gb < 2.0:
        return warning("disk", text + ": a few minutes of recording fill it", "free some space")
    return ok("disk", text)


def _libgomp_check(host, info):
    """JetPack 4's torch fails at import with 'cannot allocate memory in static TLS block' unless
    libgomp is preloaded; the services set LD_PRELOAD, a shell or notebook must too."""
    if not (info["jetson"] and info["l4t"] and info["l4t"].startswith("32.")):
        return None
    lib = "/usr/lib/aarch64-linux-gnu/libgomp.so.1"
    preload = host.env.get("LD_PRELOAD", "")
    if "libgomp" in preload:
        return ok("libgomp", "LD_PRELOAD has %s" % preload)
    if not host.exists(lib):
        return ok("libgomp", "%s not present (nothing to preload)" % lib)
    return warning("libgomp", "LD_PRELOAD does not name libgomp: torch (and sklearn) imported after OpenCV fail "
                   "with 'cannot allocate memory in static TLS block' on JetPack 4",
                   "export LD_PRELOAD=%s (in ~/.bashrc; the jetracer services set it)" % lib)


def platform_checks(host, info, python_version=None):
    checks = [_board_check(info, host), _python_check(info, python_version or sys.version_info)]
    gomp = _libgomp_check(host, info)
    if gomp is not None:
        checks.append(gomp)
    checks.append(_groups_check(host, info))
    checks.extend(_power_checks(host, info))
    checks.append(_disk_check(host))
    return checks
