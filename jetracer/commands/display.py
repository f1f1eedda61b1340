"""`jetracer display`: the OLED status screen (IP, mode, battery, load), until stopped.

The display systemd unit runs this on boot. A missing OLED is not fatal here either: it is logged
once and retried, so the unit doesn't flap when the screen is unplugged. ``--once`` and
``--snapshot`` draw one frame and exit (``--snapshot`` writes it as a PNG: the simulated OLED's
glass with ``--sim``, the frame that was sent on a car).
"""

import logging
import signal

from ._common import add_profile_argument, add_sim_argument, number_in, profile_from_args

log = logging.getLogger(__name__)


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)
    parser.add_argument("--snapshot", metavar="F.png", default=None,
                        help="draw one frame, write what the OLED shows to this PNG, and exit")
    parser.add_argument("--scale", type=number_in(int, 1, 16), default=1, metavar="N",
                        help="enlarge the snapshot N times (pixels stay sharp; default 1)")
    parser.add_argument("--once", action="store_true", help="draw one frame and exit")


def run(args):
    from ..rig import Rig

    if args.snapshot:  # a wrong path fails before the display is touched
        from ..util.atomic import check_output_file

        check_output_file(args.snapshot, "--snapshot")
    profile = profile_from_args(args)
    if not profile.display["enabled"] and not (args.once or args.snapshot):
        print("the display is off in profile %s ([display] enabled = false); nothing to do" % profile.name)
        return 0
    # the OLED and (as the profile says; a missing chip is a warning) the battery monitor, on the chips' bus
    with Rig(profile, sim=args.sim, world=False, car=False, camera=False, persistent_bus=False, display=True,
             optional=("battery",)) as rig:
        once = bool(args.once or args.snapshot)
        display = rig.display
        display.outage_log_level = logging.DEBUG if once else logging.WARNING
        display.web_login = _web_login(profile)
        if once:
            return _show_once(rig, args)
        _show_until_stopped(rig)
    return 0


def _show_once(rig, args):
    from ..errors import HardwareError

    display = rig.display
    shown = display.refresh()
    display.close(keep=True)  # the frame stays on the OLED after the command ends
    if args.snapshot:
        _write_snapshot(args.snapshot, display, rig.bus, args.scale, shown)  # the bus: the simulated chips' only
    if not shown:
        raise HardwareError(display.last_error or "the OLED did not take the frame")
    if not args.snapshot:
        print("status shown on the OLED at 0x%02x" % display.address)
    return 0


def _show_until_stopped(rig):
    """Battery reading and a frame every refresh (longer while the OLED is missing), in this
    thread, until SIGTERM (systemd stopping the unit) or Ctrl-C; then a goodbye on the screen."""
    from ..errors import HardwareError
    from ..util.periodic import Periodic

    display = rig.display

    def refresh():
        now = display.clock()
        try:
            rig.read_battery(now)
        except HardwareError as exc:
            log.debug("%s", exc)
        display.refresh(now)

    worker = Periodic("status-display", refresh, display.next_wait, call_first=True, what="status display",
                      logger=log)
    previous = signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    try:
        worker.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        display.close(message="jetracer display off")


def _web_login(profile):
    """(port, token) for the OLED's web page: the profile's token, else the install's if one was made."""
    from ..web.auth import token_path

    token = profile.web["token"]
    if not token:
        try:
            token = token_path().read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return None
    return (profile.web["port"], token) if token else None


def _write_snapshot(path, display, sim_bus, scale, shown):
    from PIL import Image

    from ..util.atomic import atomic_path

    if sim_bus is not None and shown:
        sim_bus.device(display.address).save_png(path, scale=scale)
        print("wrote %s (the simulated OLED's screen)" % path)
        return
    img = display.last_image
    if img is None:  # nothing was drawn: say why, in one line
        from ..errors import HardwareError

        raise HardwareError(display.last_error or "the status page could not be drawn")
    if scale != 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    with atomic_path(path) as tmp:
        img.save(str(tmp), format="PNG")
    print("wrote %s (the frame drawn for the OLED)" % path)
