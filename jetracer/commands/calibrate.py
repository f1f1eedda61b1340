"""`jetracer calibrate`: placeholder."""

from ._common import not_yet


def add_arguments(parser):
    pass


def run(args):
    not_yet("calibrate", "in progress")
