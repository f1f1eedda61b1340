"""`jetracer battery`: read the pack's voltage, current, charge and state from the INA219."""

import time

from ._common import MAX_COUNT, add_profile_argument, add_sim_argument, number_in, profile_from_args


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)
    parser.add_argument("--watch", action="store_true", help="keep printing a line every --interval seconds")
    parser.add_argument("--interval", type=number_in(float, 0.01, 3600.0), default=1.0, metavar="S",
                        help="seconds between lines (--watch)")
    parser.add_argument("--count", type=number_in(int, 0, MAX_COUNT), default=0, metavar="N",
                        help="stop after N lines (--watch; 0: forever)")


def run(args):
    from ..battery import BatteryMonitor
    from ..errors import HardwareError
    from .display import is_sim

    profile = profile_from_args(args)
    sim = is_sim(args, profile)
    bus = pack = None
    if sim:
        from ..sim.battery import sim_battery_for
        from ..sim.devices import make_sim_bus

        bus = make_sim_bus(profile, persistent=False)
        if profile.battery["i2c_address"] in bus.scan():
            pack = sim_battery_for(bus, profile)
    try:
        monitor = BatteryMonitor.from_profile(profile, i2c=bus)
    except HardwareError as exc:
        if not profile.battery["enabled"]:
            raise HardwareError("%s (battery monitoring is off in profile %s: set [battery] enabled = true)" % (
                exc, profile.name)) from None
        raise
    where = "INA219 0x%02x on I2C bus %s" % (monitor.address, monitor.bus_name)
    print("%s  [%s]" % (monitor.describe(), where), flush=True)
    if not args.watch:
        return 0
    lines = 1
    last = time.monotonic()
    try:
        while not args.count or lines < args.count:
            time.sleep(args.interval)
            now = time.monotonic()
            if pack is not None:
                pack.advance(now - last)
            last = now
            try:
                monitor.update(now)
                print(monitor.describe(), flush=True)
            except HardwareError as exc:
                print("error: %s" % exc, flush=True)
            lines += 1
    except KeyboardInterrupt:
        pass
    return 0
