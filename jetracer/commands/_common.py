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


def number_in(kind, low=None, high=None, what=None):
    """An argparse ``type=`` that parses ``kind`` (int or float) and checks low <= value <= high."""
    import argparse

    def describe():
        if what:
            return what
        name = "an integer" if kind is int else "a number"
        if low is not None and high is not None:
            return "%s in [%g, %g]" % (name, low, high)
        if low is not None:
            return "%s >= %g" % (name, low)
        return name

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError("expected %s, got %r" % (describe(), text)) from None
        if (low is not None and not value >= low) or (high is not None and not value <= high):
            raise argparse.ArgumentTypeError("expected %s, got %r" % (describe(), text))
        return value

    return parse


#: argparse types used by several commands
positive_int = number_in(int, 1, what="a positive integer")
positive_float = number_in(float, 1e-12, what="a positive number")
