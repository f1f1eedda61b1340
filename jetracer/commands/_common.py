"""Arguments and set-up shared by several commands."""

from ..profile import load_profile

__all__ = ["add_profile_argument", "add_sim_argument", "profile_from_args", "not_yet", "number_in", "positive_int",
           "positive_float", "seed_int", "duration_s", "MAX_COUNT", "MAX_SECONDS", "MAX_SEED"]


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
    """An argparse ``type=`` that parses ``kind`` (int or float) and checks low <= value <= high.

    NaN and infinities are always refused (``--duration nan`` would never end), and so are values
    past ``high``: give every count, size and duration a bound, so no flag can exhaust the machine."""
    import argparse
    import math

    def describe():
        if what:
            return what
        name = "an integer" if kind is int else "a number"
        fmt = "%d" if kind is int else "%g"
        if low is not None and high is not None:
            return ("%s in [" + fmt + ", " + fmt + "]") % (name, low, high)
        if low is not None:
            return ("%s >= " + fmt) % (name, low)
        return name

    def parse(text):
        try:
            value = kind(text)
        except (ValueError, OverflowError):
            raise argparse.ArgumentTypeError("expected %s, got %r" % (describe(), text)) from None
        if (not math.isfinite(value) or (low is not None and not value >= low)
                or (high is not None and not value <= high)):
            raise argparse.ArgumentTypeError("expected %s, got %r" % (describe(), text))
        return value

    parse.__name__ = "int" if kind is int else "float"  # argparse names the type in its own messages
    return parse


#: The stated bounds of the flags several commands share (one place; the profile's live in profile.py).
MAX_COUNT = 10 ** 7           # frames, samples, lines: more than a day of camera frames at 30 fps
MAX_SECONDS = 7 * 24 * 3600.0  # durations: a week
MAX_SEED = 2 ** 32 - 1         # numpy's SeedSequence takes non-negative integers; 32 bits is plenty

#: argparse types used by several commands
positive_int = number_in(int, 1, MAX_COUNT, what="a positive integer up to %d" % MAX_COUNT)
positive_float = number_in(float, 1e-12, 1e9, what="a positive number")
seed_int = number_in(int, 0, MAX_SEED, what="a seed in [0, 2**32 - 1]")
duration_s = number_in(float, 1e-3, MAX_SECONDS, what="a number of seconds in (0, %d]" % MAX_SECONDS)
