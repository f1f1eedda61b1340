"""systemd units for the car: the driving loop, the web app, the OLED display and JupyterLab.

Rendered from templates with this machine's paths, so the units run the jetracer that was
installed (venv or system). The drive unit writes neutral after every stop, crash or SIGKILL
(``ExecStopPost=jetracer stop``), restarts only after faults, is ``Type=notify`` with a
``WatchdogSec=`` fed by the driving loop itself (a frozen loop is killed, then ExecStopPost writes
neutral; the guardian process has usually written it already; it counts from ``READY=1``, and
the start may take minutes while a TensorRT engine is built, hence ``TimeoutStartSec=900``), and
carries the Jetson Nano's libgomp ``LD_PRELOAD`` work-around (torch on JetPack 4 fails with
"cannot allocate memory in static TLS block" without it). The web unit is the same kind of
service: notify, keep-alives from its control loop, the same lock folder, neutral after every stop
(its start loads the camera and the model: ``TimeoutStartSec=300``).
"""

import shlex
import sys
from pathlib import Path

__all__ = ["render_units", "UNIT_NAMES"]

UNIT_NAMES = ("jetracer-drive.service", "jetracer-web.service", "jetracer-display.service",
              "jetracer-jupyter.service")
#: installed but not enabled: the web app and the driving loop both own the car, so one runs at a time
ON_DEMAND_UNITS = ("jetracer-web.service",)

_COMMON_SERVICE = """\
User={user}
SupplementaryGroups={groups}
WorkingDirectory={workdir}
Environment=PYTHONUNBUFFERED=1
Environment=JETRACER_PROFILE={profile}
"""

#: the [Service] lines of the two units that own the car (drive, web): systemd's watchdog fed from the
#: control loop, the drive lock's folder, the Nano's libgomp work-around, neutral before every start, and
#: no restart after a usage error (exit 2: a bad profile or engine path would only fail again)
_OWNS_THE_CAR = """\
Type=notify
NotifyAccess=main
WatchdogSec={watchdog_sec}
RuntimeDirectory=jetracer
{common}Environment=LD_PRELOAD={libgomp}
ExecStartPre={jetracer} stop --profile {profile}
RestartPreventExitStatus=2
"""

DRIVE = """\
[Unit]
Description=jetracer autonomous driving loop ({profile})
Documentation=file://{workdir}/README.md
After=network.target nvargus-daemon.service
Wants=nvargus-daemon.service
StartLimitIntervalSec=120
StartLimitBurst=5

[Service]
TimeoutStartSec=900
{owns_the_car}ExecStart={jetracer} drive --profile {profile}{mode}
ExecStopPost={jetracer} stop --profile {profile}
KillSignal=SIGTERM
TimeoutStopSec=5
Restart=on-failure
RestartSec=3

[Install]
WantedBy=multi-user.target
"""

WEB = """\
[Unit]
Description=jetracer web app: drive, label and curate from a browser ({profile})
Documentation=file://{workdir}/README.md
After=network.target nvargus-daemon.service
Wants=nvargus-daemon.service
Conflicts=jetracer-drive.service
StartLimitIntervalSec=120
StartLimitBurst=5

[Service]
TimeoutStartSec=300
{owns_the_car}ExecStart={jetracer} web --profile {profile} --port {web_port}
ExecStopPost={jetracer} stop --profile {profile}
KillSignal=SIGTERM
TimeoutStopSec=5
Restart=on-failure
RestartSec=3

[Install]
WantedBy=multi-user.target
"""

DISPLAY = """\
[Unit]
Description=jetracer OLED status display ({profile})
After=network.target

[Service]
Type=simple
{common}ExecStart={jetracer} display --profile {profile}
Restart=on-failure
RestartSec=5
Nice=10

[Install]
WantedBy=multi-user.target
"""

JUPYTER = """\
[Unit]
Description=JupyterLab serving the jetracer notebooks
After=network.target

[Service]
Type=simple
{common}Environment=LD_PRELOAD={libgomp}
EnvironmentFile={token_file}
ExecStart={python} -m jupyterlab --no-browser --ip=0.0.0.0 --port={port} "--ServerApp.root_dir={workdir}/notebooks"
Restart=on-failure
RestartSec=5

[Install]
WantedBy=multi-user.target
"""

LIBGOMP = "/usr/lib/aarch64-linux-gnu/libgomp.so.1"


def _jetracer_command():
    """How to run this installation's jetracer (the console script beside this Python)."""
    script = Path(sys.executable).with_name("jetracer")
    if script.exists():
        return str(script)
    return "%s -m jetracer" % shlex.quote(sys.executable)


#: groups the services need for I2C, the camera, gamepads and GPIO (those that exist on this machine:
#: systemd refuses to start a unit naming a group that does not exist)
WANTED_GROUPS = ("i2c", "video", "input", "gpio")


def existing_groups(names=WANTED_GROUPS):
    import grp

    found = []
    for name in names:
        try:
            grp.getgrnam(name)
            found.append(name)
        except KeyError:
            pass
    return found


#: systemd's watchdog for the drive and the web app: the last layer (the pilot's deadline thread and
#: the guardian process act within pilot.watchdog_s); long enough for a slow frame, short enough to matter
WATCHDOG_SEC = 2


def render_units(user, profile, workdir, token_file="/etc/jetracer/jupyter.env", port=8888, mode=None,
                 groups=None, web_port=8887, watchdog_sec=WATCHDOG_SEC):
    """{unit name: text} for the units. ``mode`` overrides the profile's start mode."""
    groups = existing_groups() if groups is None else groups
    fields = dict(user=user, profile=profile, workdir=workdir, jetracer=_jetracer_command(), python=sys.executable,
                  libgomp=LIBGOMP, token_file=token_file, port=port, mode=" --mode %s" % mode if mode else "",
                  groups=" ".join(groups), web_port=web_port, watchdog_sec=watchdog_sec)
    fields["common"] = _COMMON_SERVICE.format(**fields)
    fields["owns_the_car"] = _OWNS_THE_CAR.format(**fields)
    return {"jetracer-drive.service": DRIVE.format(**fields),
            "jetracer-web.service": WEB.format(**fields),
            "jetracer-display.service": DISPLAY.format(**fields),
            "jetracer-jupyter.service": JUPYTER.format(**fields)}
