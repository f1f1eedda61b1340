"""The camera, the engine file and the systemd services."""

import threading
import time

from .report import ok, problem, warning

__all__ = ["camera_checks", "grab_frame", "engine_check", "services_check"]


def camera_checks(host, profile, info):
    """Devices and, for a CSI camera on a Jetson, the nvargus-daemon that serves it."""
    cfg = profile.camera
    kind = cfg["type"]
    if kind == "sim":
        return [ok("camera", "simulated camera %dx%d" % (cfg["width"], cfg["height"]))]
    if kind == "video":
        path = profile.resolve_path(cfg["path"]) if cfg["path"] else None
        if path is None or not path.exists():
            return [problem("camera", "video camera file %s not found" % (cfg["path"] or "(camera.path empty)"),
                            "set [camera] path to a video file or image folder")]
        return [ok("camera", "video replay of %s" % path)]
    devices = host.glob("/dev/video*")
    checks = []
    if kind == "usb":
        if cfg["device"] not in devices:
            checks.append(problem("camera", "USB camera %s not found (video devices: %s)" % (
                cfg["device"], ", ".join(devices) or "none"), "plug it in, or set [camera] device"))
        else:
            checks.append(ok("camera", "USB camera %s" % cfg["device"]))
        return checks
    if not devices:
        checks.append(problem("camera", "no /dev/video* device: the CSI camera is not detected",
                              "power off, reseat the ribbon cable (contacts the right way round, latch pushed home), "
                              "and check `dmesg | grep -i imx`"))
    else:
        checks.append(ok("camera", "CSI camera, video devices: %s" % ", ".join(devices)))
    if info["jetson"]:
        result = host.run(["systemctl", "is-active", "nvargus-daemon"])
        state = result[1] if result else "unknown"
        if state == "active":
            checks.append(ok("nvargus", "nvargus-daemon active"))
        else:
            checks.append(problem("nvargus", "nvargus-daemon is %s: the CSI camera cannot open" % (state or "?"),
                                  "sudo systemctl restart nvargus-daemon"))
    return checks


def grab_frame(open_camera, timeout_s=10.0):
    """Check: open the camera, read one frame within ``timeout_s`` (a hung GStreamer pipeline
    cannot hang the doctor: the read runs in a daemon thread)."""
    result = {}

    def work():
        start = time.monotonic()
        camera = None
        try:
            camera = open_camera()
            frame = camera.read()
            result["shape"] = getattr(frame, "shape", None)
            result["seconds"] = time.monotonic() - start
        except Exception as exc:  # any camera failure becomes one line
            result["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        finally:
            if camera is not None:
                try:
                    camera.close()
                except Exception:
                    pass

    thread = threading.Thread(target=work, name="doctor-camera", daemon=True)
    thread.start()
    thread.join(timeout_s)
    fix = "sudo systemctl restart nvargus-daemon (CSI), check the cable, or another program holds the camera"
    if thread.is_alive():
        return problem("frame", "no frame within %.0f s" % timeout_s, fix)
    if "error" in result:
        return problem("frame", "could not grab a frame: %s" % result["error"], fix)
    shape = result.get("shape")
    if shape is None:
        return problem("frame", "the camera returned no image", fix)
    return ok("frame", "one %dx%d frame in %.0f ms (open + first frame)" % (
        shape[1], shape[0], result["seconds"] * 1000.0))


def engine_check(profile, tensorrt_version, gpu_name):
    """The profile's engine or model file: present, readable, and (TensorRT) built for this device."""
    path = profile.engine["path"]
    if not path:
        return warning("engine", "the profile names no model or engine ([engine] path)",
                       "train one (`jetracer train`) and set [engine] path")
    resolved = profile.resolve_path(path)
    if not resolved.is_file():
        return problem("engine", "%s not found" % resolved, "set [engine] path, or copy the model there")
    from ..engine.fileformat import is_engine_file, read_engine_header
    from ..errors import EngineError

    try:
        if not is_engine_file(resolved):
            return ok("engine", "%s is a model: `jetracer optimize` builds the engine for this device" % path)
        header = read_engine_header(resolved)
    except (OSError, EngineError) as exc:
        return problem("engine", str(exc).splitlines()[0], "rebuild it with `jetracer optimize`")
    backend = header.get("backend", "?")
    if backend != "tensorrt":
        return ok("engine", "%s: %s %s engine" % (path, backend, header.get("precision", "")))
    built = (header.get("tensorrt"), header.get("gpu"))
    here = (tensorrt_version, gpu_name)
    if built != here:
        return problem("engine", "%s was built with TensorRT %s for %s; this device has TensorRT %s on %s" % (
            path, built[0], built[1], here[0] or "none", here[1] or "no GPU"),
            "rebuild it here: jetracer optimize MODEL.pth --backend tensorrt --out %s" % path)
    return ok("engine", "%s: TensorRT %s engine for %s" % (path, built[0], built[1]))


def services_check(host):
    from ..services import UNIT_NAMES

    states = []
    failed = []
    for unit in UNIT_NAMES:
        enabled = host.run(["systemctl", "is-enabled", unit])
        if enabled is None:
            return ok("services", "systemd not available: no services")
        if enabled[1] in ("", "not-found") or "No such file" in enabled[1]:
            continue
        active = host.run(["systemctl", "is-active", unit])
        state = active[1] if active else "unknown"
        states.append("%s %s/%s" % (unit.replace(".service", ""), enabled[1], state))
        if state == "failed":
            failed.append(unit)
    if failed:
        return warning("services", ", ".join(states), "journalctl -u %s -n 50 says why" % failed[0])
    if not states:
        return ok("services", "none installed (`sudo jetracer install-services` starts driving on boot)")
    return ok("services", ", ".join(states))
