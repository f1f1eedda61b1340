"""`jetracer import-tub TUB... --out DIR`: Donkeycar Tub v2 data -> a JetRacer XY dataset.

Each live record (deleted ones are left out) becomes ``DIR/CATEGORY/{x}_{y}_{uuid}.jpg`` labelled
from ``user/angle`` as `jetracer teleop --record` labels (the profile's steering gain and bias, the
teleop look-ahead row); throttle, mode and source go in the category's ``labels.json`` sidecar."""

from ._common import add_profile_argument


def add_arguments(parser):
    parser.add_argument("tubs", nargs="+", metavar="TUB", help="Donkeycar tub folders (with manifest.json)")
    parser.add_argument("--out", required=True, metavar="DIR", help="XY dataset folder to write into")
    parser.add_argument("--category", default=None, help="category folder (default: the profile's record_category)")
    add_profile_argument(parser)


def run(args):
    from ..data.tub_convert import import_tubs
    from ..profile import load_profile

    profile = load_profile(args.profile, sim=True)
    category = args.category or profile.teleop["record_category"]
    totals = import_tubs(args.tubs, args.out, category=category, gain=profile.pilot["steering_gain"],
                         bias=profile.pilot["steering_bias"], lookahead=profile.teleop["record_lookahead"])
    print("imported %d records from %d tub%s into %s/%s (%d deleted in the tub left out, %d skipped)" % (
        totals["imported"], totals["tubs"], "" if totals["tubs"] == 1 else "s", args.out, category,
        totals["deleted"], totals["skipped"]))
    return 0
