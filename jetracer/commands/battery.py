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
    from ..errors import HardwareError
    from ..rig import Rig

    profile = profile_from_args(args)
    try:  # the monitor alone, on the chips' bus; asked for even when the profile has it off
        rig = Rig(profile, sim=args.sim, world=False, car=False, camera=False, battery=True, persistent_bus=False)
    except HardwareError as exc:
        if not profile.battery["enabled"]:
            raise HardwareError("%s (battery monitoring is off in profile %s: set [battery] enabled = true)" % (
                exc, profile.name)) from None
        raise
    with rig:
        monitor = rig.battery
        where = "INA219 0x%02x on I2C bus %s" % (monitor.address, monitor.bus_name)
        print("%s  [%s]" % (monitor.describe(), where), flush=True)
        if args.watch:
            _watch(rig, args.interval, args.count)
    return 0


def _watch(rig, interval, count):
    """A line every ``interval`` seconds, ``count`` lines in all (the first is printed already)."""
    from ..errors import HardwareError

    lines = 1
    try:
        while not count or lines < count:
            time.sleep(interval)
            try:
                rig.read_battery()
                print(rig.battery.describe(), flush=True)
            except HardwareError as exc:
                print("error: %s" % exc, flush=True)
            lines += 1
    except KeyboardInterrupt:
        pass
