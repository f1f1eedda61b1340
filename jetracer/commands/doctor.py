"""`jetracer doctor`: check a car's bring-up in one command (board, libraries, camera, I2C chips,
groups, power, disk, engine, services), one line each with the fix. Reads only: it never moves
the car. Exit 0 when nothing is a problem (warnings are fine), 3 when something is."""

from ._common import add_profile_argument, add_sim_argument, profile_from_args


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the checks as JSON")
    parser.add_argument("--grab", action="store_true",
                        help="open the camera and time one frame (stop a running drive service first)")


def run(args):
    from ..doctor import exit_code, format_report, report_json, run_checks
    from ..rig import Rig

    profile = profile_from_args(args)
    # the chips to read: the simulated ones with --sim (the rig's bus; None on the car, whose bus
    # the checks open themselves); nothing is built that could write to them
    with Rig(profile, sim=args.sim, world=False, car=False, camera=False, battery=False) as chips:
        grab = None
        camera = None
        if args.grab:
            # the camera the profile names (--sim stands in for the chips, not for a camera the car
            # has); its simulator is built before the timing starts: the grab times the camera alone
            camera = Rig(profile, car=False, camera=False, battery=False, persistent_bus=False)
            grab = lambda: camera.open_camera(start=False)  # noqa: E731
        try:
            checks = run_checks(profile, sim_bus=chips.bus, grab=grab)
        finally:
            if camera is not None:
                camera.close()
    print(report_json(checks) if args.json else format_report(checks))
    return exit_code(checks)
