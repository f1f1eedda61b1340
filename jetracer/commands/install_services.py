"""`jetracer install-services`: placeholder until its issue lands."""

from ._common import not_yet


def add_arguments(parser):
    pass


def run(args):
    not_yet("install-services", "in progress")
