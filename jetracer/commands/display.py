"""`jetracer display`: the OLED status screen (IP, mode, battery, load), until stopped.

The display systemd unit runs this on boot. A missing OLED is not fatal here either: it is logged
once and retried, so the unit doesn't flap when the screen is unplugged. ``--once`` and
``--snapshot`` draw one frame and exit (``--snapshot`` writes it as a PNG: the simulated OLED's
glass with ``--sim``, the frame that was sent on a car).
"""

import logging
import signal
import threading

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


def is_sim(args, profile):
    return bool(args.sim or profile.camera["type"] == "sim")


def open_status_hardware(profile, sim):
    """(bus or None, battery monitor or None, sim pack or None) for the display/battery commands."""
    from ..battery import BatteryMonitor
    from ..errors import HardwareError

    bus = pack = None
    if sim:
        from ..sim.battery import sim_battery_for
        from ..sim.devices import make_sim_bus

        bus = make_sim_bus(profile, persistent=False)
        if profile.battery["enabled"]:
            pack = sim_battery_for(bus, profile)
    battery = None
    if profile.battery["enabled"]:
        try:
            battery = BatteryMonitor.from_profile(profile, i2c=bus)
        except HardwareError as exc:
            log.warning("%s; showing no battery", exc)
    return bus, battery, pack


def run(args):
    from ..display import StatusDisplay
    from ..errors import HardwareError

    if args.snapshot:  # a wrong path fails before the display is touched
        from ..util.atomic import check_output_file

        check_output_file(args.snapshot, "--snapshot")
    profile = profile_from_args(args)
    sim = is_sim(args, profile)
    if not profile.display["enabled"] and not (args.once or args.snapshot):
        print("the display is off in profile %s ([display] enabled = false); nothing to do" % profile.name)
        return 0
    bus, battery, pack = open_status_hardware(profile, sim)
    once = bool(args.once or args.snapshot)
    display = StatusDisplay.from_profile(profile, i2c=bus, battery=battery,
                                         outage_log_level=logging.DEBUG if once else logging.WARNING)
    display.web_login = _web_login(profile)
    if sim and not profile.display["enabled"]:
        from ..i2c.ssd1306 import SSD1306Twin

        bus.attach(SSD1306Twin(profile.display["i2c_address"], width=display.width, height=display.height))
    if once:
        shown = display.refresh()
        if args.snapshot:
            _write_snapshot(args.snapshot, display, bus if sim else None, args.scale, shown)
        if not shown:
            raise HardwareError(display.last_error or "the OLED did not take the frame")
        if not args.snapshot:
            print("status shown on the OLED at 0x%02x" % display.address)
        return 0
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    last = display.clock()
    try:
        while not stop.is_set():
            now = display.clock()
            if pack is not None:
                pack.advance(now - last)
            last = now
            if battery is not None:
                try:
                    battery.update(now)
                except HardwareError as exc:
                    log.debug("%s", exc)
            display.refresh(now)
            stop.wait(display.next_wait())
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        display.close(message="jetracer display off")
    return 0


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
