"""`jetracer stop`: stop a running drive or web app, then neutral throttle and centred steering, now.

It finds a drive (or `jetracer web`) on this car by its lock file (see :mod:`jetracer.drive.runlock`),
asks it to stop (SIGTERM: it writes neutral and exits), kills it when it does not end in time (a
frozen process: SIGSTOP, a C call holding the GIL), then writes neutral itself and reads the pulse
back. systemd's ExecStopPost runs it too, so the car is stopped even after the drive crashed or was
killed.
"""

import os
import signal
import time

from ._common import add_profile_argument, add_sim_argument, profile_from_args

#: how long a drive gets to stop on SIGTERM before it is killed
GRACE_S = 3.0


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)


def _wait_gone(path, timeout):
    from ..drive.runlock import running_drive

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running_drive(path) is None:
            return True
        time.sleep(0.02)
    return running_drive(path) is None


def stop_running_drive(paths, grace_s=GRACE_S):
    """Stop the drive holding one of the lock ``paths``; returns a sentence saying what happened,
    or '' if none ran."""
    from ..drive.runlock import find_running_drive, holder_name
    from ..errors import JetracerError

    path, holder = find_running_drive(paths)
    if holder is None:
        return ""
    pid, what = holder.get("pid"), holder_name(holder)
    if not pid or pid == os.getpid():
        return "a %s holds %s but its pid is unknown: not signalled" % (what, path)
    t0 = time.monotonic()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return "the %s (pid %d) had already ended" % (what, pid)
    except PermissionError:
        raise JetracerError("a %s runs as another user (pid %d): `sudo systemctl stop jetracer-%s` or "
                            "`sudo jetracer stop`" % (what, pid, "web" if what == "web app" else "drive")) from None
    if _wait_gone(path, grace_s):
        return "stopped the running %s (pid %d, SIGTERM) in %.1f s" % (what, pid, time.monotonic() - t0)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _wait_gone(path, 2.0)
    return "the running %s (pid %d) did not stop within %.0f s of SIGTERM (frozen?): killed it (SIGKILL)" % (
        what, pid, grace_s)


def run(args):
    from ..drive.runlock import lock_paths
    from ..rig import Rig, wants_sim

    profile = profile_from_args(args)
    said = stop_running_drive(lock_paths(profile, sim=wants_sim(profile, args.sim)))
    if said:
        print(said)
    # the car alone, on the chips' bus (the simulated one keeps a drive's registers); building it writes neutral
    with Rig(profile, sim=args.sim, world=False, camera=False, battery=False) as rig:
        pulses = rig.car.pulse_widths_us()
    print("neutral written: steering centred, throttle stopped (%s; read back: %s)" % (
        profile.name, ", ".join("%s %s" % (k, v) for k, v in sorted(pulses.items()))))
    return 0
