"""`jetracer web`: the car's own web app: drive, label and curate a dataset from a phone or laptop.

Open ``http://CAR:8887/`` and log in with the install's token (printed once when it is made, kept
in ``~/.config/jetracer/web-token``, shown on the OLED, or ``[web] token`` in the profile). One page
drives at a time; a silent, hidden or closed page puts the car at neutral (see
:mod:`jetracer.web.session`). The watchdogs of a drive guard its control loop (the pilot's deadline
thread, the guardian process, systemd's ``WatchdogSec``: :mod:`jetracer.web.watchdogs`), and it
takes the car's drive lock: ``jetracer stop`` stops it, and a drive and the web app never own the
same car at once. Needs tornado: ``pip install jetracer[web]``.
"""

import logging

from ._common import add_profile_argument, add_sim_argument, number_in, profile_from_args

log = logging.getLogger(__name__)


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)
    parser.add_argument("--port", type=number_in(int, 1, 65535), default=None,
                        help="TCP port (default: the profile's [web] port, 8887)")
    parser.add_argument("--host", default=None,
                        help="address to listen on (default: the profile's [web] host, 0.0.0.0; 127.0.0.1 for "
                             "this machine only)")
    parser.add_argument("--track", metavar="T", help="simulator track (built-in name, JSON path or random:SEED)")
    parser.add_argument("--pilot", choices=["auto", "none", "model", "expert"], default="auto",
                        help="who drives in steer/auto modes (auto: the expert with --sim, the model when its file "
                             "exists)")
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="XY dataset folder of the Label and Data pages (default: the profile's [web] dataset_dir)")
    parser.add_argument("--runs", metavar="DIR", default=None,
                        help="telemetry folder (default: the profile's [web] runs_dir)")


def _tornado():
    try:
        import tornado  # noqa: F401
    except ImportError:
        from ..errors import JetracerError

        raise JetracerError("`jetracer web` needs tornado: pip install 'jetracer[web]' (or pip install tornado)") \
            from None


def _announce(token, path):
    print("web login token (shown once; also on the OLED, kept in %s): %s" % (path, token))


def _addresses(host):
    """What to type in the phone's browser: the car's addresses when listening on all of them."""
    if host not in ("0.0.0.0", "", "::"):
        return [host]
    from ..status.sysinfo import SystemInfo

    try:
        ips = [ip for _, ip in SystemInfo().ip_addresses()]
    except Exception:  # noqa: BLE001 - only a hint
        ips = []
    return ips or ["127.0.0.1"]


def run(args):
    _tornado()
    from ..drive.runlock import lock_car
    from ..drive.signals import install_signal_handlers
    from ..rig import wants_sim
    from ..web.auth import load_or_create_token, token_path
    from ..web.dataset import DatasetFolder
    from ..web.session import default_telemetry_path

    install_signal_handlers()
    profile = profile_from_args(args)
    web = profile.web
    sim = wants_sim(profile, args.sim)  # the lock's name; the rig decides the same way
    host = args.host if args.host is not None else web["host"]
    port = args.port if args.port is not None else web["port"]
    if web["token"]:
        token, where = web["token"], "the profile's [web] token"
    else:
        token, _ = load_or_create_token(announce=_announce)
        where = str(token_path())
    runs_dir = args.runs or web["runs_dir"]
    dataset = DatasetFolder(args.data or web["dataset_dir"])
    telemetry_path = default_telemetry_path(runs_dir)
    lock = lock_car(profile, sim, command="web")  # before the car is made: making it writes neutral
    try:
        _serve(args, profile, sim, (host, port), (token, where), dataset, runs_dir, telemetry_path)
    finally:
        lock.release()  # last: `jetracer stop` waits for this, then writes neutral itself
    print("web stopped: car at neutral")
    return 0


def _serve(args, profile, sim, address, login, dataset, runs_dir, telemetry_path):
    """The parts, the session and its watchdogs, the server; neutral and closed on every way out."""
    from ..drive.signals import StopSignal
    from ..web.auth import LoginGate
    from ..web.frames import FrameStream
    from ..web.runs import default_run_folders
    from ..web.server import WebApp, serve
    from ..web.session import WebSession, assemble
    from ..web.watchdogs import LoopWatchdogs

    (host, port), (token, where) = address, login
    web = profile.web
    parts = assemble(profile, sim, track=args.track, pilot=args.pilot, telemetry_path=telemetry_path)
    session = frames = None
    try:
        session = WebSession(parts, deadman_s=web["deadman_s"], max_throttle=web["max_throttle"],
                             throttle_cap=web["throttle_cap"],
                             watchdogs=LoopWatchdogs.from_profile(profile, parts.pilot))
        frames = FrameStream(parts.camera, quality=web["jpeg_quality"]).start()
        app = WebApp(session, frames, LoginGate(token, max_failures=web["login_attempts"]), dataset,
                     default_run_folders(profile, runs_dir), category=web["category"])
        session.start()
        print("jetracer web on %s (%s; pilot %s; data %s); login token: %s; Ctrl-C to stop" % (
            " ".join("http://%s:%d/" % (ip, port) for ip in _addresses(host)),
            "simulator" if parts.rig.sim else profile.name, parts.pilot_name, dataset.root, where), flush=True)
        try:
            serve(app, host, port)
        except (StopSignal, KeyboardInterrupt) as exc:  # the signal handler already wrote neutral
            print("stopping: %s" % (exc or "interrupted"))
        except OSError as exc:
            from ..errors import JetracerError

            raise JetracerError("cannot listen on %s:%d: %s (another `jetracer web`? try --port)" % (
                host, port, exc.strerror or exc)) from None
    finally:
        if frames is not None:
            frames.stop()
        if session is not None:
            session.close()
        else:
            parts.close()
