"""`jetracer stop`: neutral throttle and centred steering, now. systemd's ExecStopPost runs it so
the car is stopped even after the driving process crashed or was killed."""

from ._common import add_profile_argument, add_sim_argument, profile_from_args


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)


def run(args):
    from ..profile import make_car

    profile = profile_from_args(args)
    bus = None
    if args.sim or profile.camera["type"] == "sim":
        from ..sim.devices import make_sim_bus

        bus = make_sim_bus(profile)
    car = make_car(profile, i2c=bus)  # construction writes neutral
    car.close()
    print("neutral written: steering centred, throttle stopped (%s)" % profile.name)
    return 0
