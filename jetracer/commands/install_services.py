"""`jetracer install-services`: write and enable the systemd units (drive, display, JupyterLab).

--dry-run prints every file and command instead. JupyterLab gets the token you pass with
--jupyter-token, or a fresh random one printed once; there is no default password.
"""

import getpass
import os
import secrets
import subprocess
from pathlib import Path

from ..errors import JetracerError
from ..profile import default_profile_name
from ..services import ON_DEMAND_UNITS, render_units


def add_arguments(parser):
    parser.add_argument("--user", default=None, help="user the services run as (default: the invoking user)")
    parser.add_argument("--profile", default=None, help="car profile the services use")
    parser.add_argument("--workdir", default=None, help="the jetracer checkout (default: current folder)")
    parser.add_argument("--unit-dir", default="/etc/systemd/system", help="where unit files go")
    parser.add_argument("--jupyter-token", default=None, help="JupyterLab token (default: a random one, printed)")
    parser.add_argument("--no-enable", action="store_true", help="write the units but do not enable them")
    parser.add_argument("--mode", choices=("stopped", "steer", "auto"), default=None,
                        help="start mode of the drive service (default: the profile's pilot.mode; "
                             "steer needs a person to set the throttle, auto drives on its own)")
    parser.add_argument("--dry-run", action="store_true", help="print what would be written and run")


def run(args):
    from ..util.atomic import atomic_write_bytes

    user = args.user or os.environ.get("SUDO_USER") or getpass.getuser()
    profile = args.profile or default_profile_name()
    workdir = str(Path(args.workdir or os.getcwd()).resolve())
    token_file = "/etc/jetracer/jupyter.env"
    units = render_units(user, profile, workdir, token_file=token_file, mode=args.mode)
    token = args.jupyter_token or secrets.token_urlsafe(24)
    commands = [["systemctl", "daemon-reload"]]
    if not args.no_enable:
        commands.append(["systemctl", "enable", "--now"] + [u for u in units if u not in ON_DEMAND_UNITS])
    if args.dry_run:
        for name, text in units.items():
            print("# %s/%s\n%s" % (args.unit_dir, name, text))
        print("# %s (mode 600)\nJUPYTER_TOKEN=<%s>\n" % (token_file, "your token" if args.jupyter_token else "random"))
        for cmd in commands:
            print("$ " + " ".join(cmd))
        return 0
    if os.geteuid() != 0:
        raise JetracerError("installing services writes to %s: run with sudo (or use --dry-run)" % args.unit_dir)
    for name, text in units.items():
        atomic_write_bytes(Path(args.unit_dir) / name, text.encode())
    atomic_write_bytes(token_file, ("JUPYTER_TOKEN=%s\n" % token).encode(), mode=0o600)
    for cmd in commands:
        result = subprocess.run(cmd)
        if result.returncode != 0:
            raise JetracerError("`%s` failed (exit %d)" % (" ".join(cmd), result.returncode))
    print("installed %s for user %s, profile %s" % (", ".join(units), user, profile))
    print("the web app is installed, not enabled (it and the drive loop both own the car): "
          "sudo systemctl start jetracer-web (stops jetracer-drive)")
    if not args.jupyter_token:
        print("JupyterLab token (keep it; also in %s): %s" % (token_file, token))
    return 0
