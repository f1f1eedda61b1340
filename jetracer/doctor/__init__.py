"""``jetracer doctor``: bring-up checks, one line each, that never move the car.

The checks run against a :class:`~jetracer.doctor.host.Host` (the real machine, or a fake tree in
tests) and a profile (what the car should have). Modules: ``platform`` (board, Python, groups,
power, disk, libgomp), ``software`` (torch and friends), ``i2c`` (what answers on each bus),
``devices`` (camera, engine file, services), ``report`` (levels, text and JSON, exit code).
"""

from .host import Host
from .report import Check, exit_code, format_report, report_json

__all__ = ["run_checks", "Host", "Check", "exit_code", "format_report", "report_json"]


def _tensorrt_version(host):
    try:
        trt = host.module("tensorrt")
    except Exception:
        return None
    return getattr(trt, "__version__", None) if trt is not None else None


def run_checks(profile, host=None, sim_bus=None, grab=None, python_version=None):
    """All checks for ``profile`` on ``host``, in the order a person bringing up a car fixes them.

    ``sim_bus``: a virtual I2C bus standing in for the car's (``--sim``). ``grab``: a function that
    opens the profile's camera, to grab one frame and time it (None: no grab; opening the camera
    could steal it from a running drive service)."""
    from .devices import camera_checks, engine_check, grab_frame, services_check
    from .i2c import i2c_checks
    from .platform import board, platform_checks
    from .software import software_checks

    host = host or Host()
    info = board(host)
    checks = platform_checks(host, info, python_version)
    library_checks, gpu = software_checks(host, info, profile.camera["type"])
    checks.extend(library_checks)
    checks.extend(i2c_checks(host, profile, info["jetson"], sim_bus=sim_bus))
    checks.extend(camera_checks(host, profile, info))
    if grab is not None:
        checks.append(grab_frame(grab))
    checks.append(engine_check(profile, _tensorrt_version(host), gpu))
    checks.append(services_check(host))
    return checks
