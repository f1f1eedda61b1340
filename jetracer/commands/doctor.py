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

    profile = profile_from_args(args)
    sim = args.sim or profile.camera["type"] == "sim"
    sim_bus = world = None
    if sim:
        from ..sim.devices import make_sim_bus

        sim_bus = make_sim_bus(profile)
    grab = None
    if args.grab:
        from ..camera import make_camera

        if profile.camera["type"] == "sim":
            from ..sim.world import SimWorld

            world = SimWorld(profile)  # built before the timing starts: the grab times the camera alone

        def grab():
            return make_camera(profile, world=world)

    try:
        checks = run_checks(profile, sim_bus=sim_bus, grab=grab)
    finally:
        if world is not None:
            world.close()
    print(report_json(checks) if args.json else format_report(checks))
    return exit_code(checks)
