"""The Python libraries the car runs on: torch and torchvision (a matching pair), CUDA, TensorRT,
torch2trt, onnxruntime, and OpenCV (with GStreamer for the CSI camera)."""

import re

from .report import ok, problem, warning

__all__ = ["software_checks", "torchvision_for", "opencv_has_gstreamer"]

_TLS = "static TLS"


def _version(module):
    return str(getattr(module, "__version__", "?"))


def _minor(version):
    m = re.match(r"(\d+)\.(\d+)", version or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def torchvision_for(torch_version):
    """The torchvision minor release built against a torch release: 1.m -> 0.(m+1), 2.m -> 0.(m+15)."""
    v = _minor(torch_version)
    if v is None:
        return None
    if v[0] == 1 and v[1] >= 4:
        return (0, v[1] + 1)
    if v[0] == 2:
        return (0, v[1] + 15)
    return None


def opencv_has_gstreamer(build_information):
    """True/False from cv2.getBuildInformation()'s 'GStreamer: YES (1.14.5)' line; None if absent."""
    m = re.search(r"^\s*GStreamer:\s*(\S+)", build_information or "", re.MULTILINE)
    if not m:
        return None
    return m.group(1).upper().startswith("YES")


def _import(host, name):
    """(module or None, error text or None)."""
    try:
        return host.module(name), None
    except Exception as exc:  # a broken install can raise anything at import
        return None, "%s: %s" % (type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")


def _import_failed(name, error, jetson):
    if _TLS in error:
        return problem(name, "import fails: %s" % error,
                       "export LD_PRELOAD=/usr/lib/aarch64-linux-gnu/libgomp.so.1 (the Nano's libgomp TLS issue)")
    return problem(name, "import fails: %s" % error, "reinstall %s" % name)


def _torch_checks(host, info):
    jetson = info["jetson"]
    torch, err = _import(host, "torch")
    if err:
        return [_import_failed("torch", err, jetson)], None
    if torch is None:
        return [problem("torch", "not installed", "on a Jetson install NVIDIA's torch wheel for JetPack %s; "
                        "elsewhere pip install torch" % (info["jetpack"] or "?"))], None
    checks = []
    tv_version = None
    tv, err = _import(host, "torchvision")
    if err:
        checks.append(_import_failed("torchvision", err, jetson))
    elif tv is None:
        checks.append(problem("torchvision", "not installed (torch %s)" % _version(torch),
                              "build torchvision 0.%d from source for this torch (NVIDIA's guide), or pip install "
                              "torchvision" % (torchvision_for(_version(torch)) or (0, 0))[1]))
    else:
        tv_version = _version(tv)
    want = torchvision_for(_version(torch))
    if tv_version is not None:
        have = _minor(tv_version)
        if want is not None and have is not None and have != want:
            checks.append(problem("torch", "torch %s with torchvision %s: a mismatched pair (this torch needs "
                                  "torchvision %d.%d); models fail to load with 'operator does not exist'"
                                  % (_version(torch), tv_version, want[0], want[1]),
                                  "install torchvision %d.%d" % want))
        else:
            checks.append(ok("torch", "torch %s, torchvision %s" % (_version(torch), tv_version)))
    cuda_version = getattr(getattr(torch, "version", None), "cuda", None)
    try:
        available = bool(torch.cuda.is_available())
        name = torch.cuda.get_device_name(0) if available else None
    except Exception:  # a broken CUDA install: report, don't crash
        available, name = False, None
    if available:
        checks.append(ok("cuda", "CUDA %s, %s" % (cuda_version or "?", name)))
    elif jetson:
        checks.append(problem("cuda", "torch %s cannot use the GPU (built %s)" % (
            _version(torch), "without CUDA" if not cuda_version else "for CUDA %s" % cuda_version),
            "install NVIDIA's torch wheel for JetPack %s (pip's torch has no Jetson CUDA)" % (info["jetpack"] or "?")))
    else:
        checks.append(ok("cuda", "no CUDA GPU: the CPU runs torch and onnxruntime (fine for the simulator)"))
    return checks, name


def _optional(host, name, missing_status, missing_fix, describe=None):
    module, err = _import(host, name)
    if err:
        return warning(name, "import fails: %s" % err, "reinstall %s" % name)
    if module is None:
        return (problem if missing_status == "problem" else warning if missing_status == "warning" else ok)(
            name, "not installed", *([missing_fix] if missing_status != "ok" else []))
    return ok(name, describe(module) if describe else _version(module))


def _opencv_check(host, info, camera_type):
    cv2, err = _import(host, "cv2")
    if err:
        return _import_failed("opencv", err, info["jetson"])
    if cv2 is None:
        status = problem if camera_type in ("csi", "usb") else warning
        return status("opencv", "not installed: the CSI/USB cameras need it",
                      "sudo apt install python3-opencv (JetPack's has GStreamer)" if info["jetson"]
                      else "pip install opencv-python-headless")
    try:
        gst = opencv_has_gstreamer(cv2.getBuildInformation())
    except Exception:
        gst = None
    text = "OpenCV %s, GStreamer %s" % (_version(cv2), {True: "yes", False: "no", None: "unknown"}[gst])
    if gst is False and camera_type == "csi":
        return problem("opencv", text + ": the CSI camera needs GStreamer (pip's opencv wheels have none)",
                       "pip uninstall opencv-python opencv-python-headless; use JetPack's (sudo apt install "
                       "python3-opencv)")
    if gst is False and info["jetson"]:
        return warning("opencv", text + ": a CSI camera would not open", "use JetPack's OpenCV")
    return ok("opencv", text)


def software_checks(host, info, camera_type):
    """Checks for the libraries, and the GPU name torch reports (None without CUDA)."""
    checks, gpu = _torch_checks(host, info)
    jetson = info["jetson"]
    checks.append(_optional(host, "tensorrt", "warning" if jetson else "ok",
                            "TensorRT comes with JetPack (sudo apt install python3-libnvinfer)"))
    checks.append(_optional(host, "torch2trt", "warning" if jetson else "ok",
                            "git clone https://github.com/NVIDIA-AI-IOT/torch2trt && cd torch2trt && "
                            "python3 setup.py install --user"))

    def ort(module):
        try:
            providers = ", ".join(p.replace("ExecutionProvider", "") for p in module.get_available_providers())
        except Exception:
            providers = "?"
        return "%s (%s)" % (_version(module), providers)

    checks.append(_optional(host, "onnxruntime", "ok", "", describe=ort))
    checks.append(_opencv_check(host, info, camera_type))
    return checks, gpu
