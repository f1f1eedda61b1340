"""`jetracer export-tub DIR... --out TUB`: a JetRacer XY dataset -> a new Donkeycar Tub v2.

``user/angle`` is the steering the pilot gives for each label (the profile's gain and bias);
``user/throttle`` comes from the labels sidecar, else ``--throttle``. JPEGs are copied unchanged."""

from ._common import add_profile_argument, number_in


def add_arguments(parser):
    parser.add_argument("datasets", nargs="+", metavar="DIR", help="XY dataset folders")
    parser.add_argument("--out", required=True, metavar="TUB", help="tub folder to create (must not exist)")
    parser.add_argument("--throttle", type=number_in(float, -1.0, 1.0), default=None,
                        help="user/throttle for images without a sidecar throttle (default: the profile's "
                             "pilot throttle)")
    add_profile_argument(parser)


def run(args):
    from ..data.tub_convert import export_tub
    from ..profile import load_profile

    profile = load_profile(args.profile, sim=True)
    throttle = profile.pilot["throttle"] if args.throttle is None else args.throttle
    result = export_tub(args.datasets, args.out, gain=profile.pilot["steering_gain"],
                        bias=profile.pilot["steering_bias"], throttle=throttle)
    print("exported %d images to the Donkeycar tub %s%s" % (
        result["exported"], result["tub"], " (%d unreadable skipped)" % result["skipped"] if result["skipped"] else ""))
    return 0
