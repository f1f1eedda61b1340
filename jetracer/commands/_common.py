"""Arguments and set-up shared by several commands."""

from ..profile import load_profile

__all__ = ["add_profile_argument", "add_sim_argument", "profile_from_args", "not_yet"]


def add_profile_argument(parser):
    parser.add_argument("--profile", metavar="P", default=None,
                        help="car profile name or TOML path (default: $JETRACER_PROFILE, or sim when no car)")


def add_sim_argument(parser):
    parser.add_argument("--sim", action="store_true", help="use the simulated car instead of hardware")


def profile_from_args(args):
    return load_profile(args.profile, sim=getattr(args, "sim", False))


def not_yet(name, issue):
    from ..errors import JetracerError

    raise JetracerError("`jetracer %s` is not available in this build yet (%s)" % (name, issue))
