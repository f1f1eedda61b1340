"""The ``jetracer`` command. Each subcommand lives in ``jetracer.commands.<name>`` with
``add_arguments(parser)`` and ``run(args) -> int``; modules are imported only when used so
``jetracer --help`` stays fast and works without torch, OpenCV or a car.
"""

import argparse
import importlib
import logging
import sys
import traceback

from .drive.signals import StopSignal
from .errors import FAULT_EXIT, JetracerError

__all__ = ["main", "COMMANDS"]

#: name -> (module, one-line help)
COMMANDS = {
    "drive": ("drive", "drive the car (or the simulated car) with a model or the expert"),
    "collect": ("collect", "record an expert-labelled XY dataset in the simulator"),
    "train": ("train", "train the road-following model on XY datasets"),
    "optimize": ("optimize", "build an inference engine (TensorRT, onnxruntime, torch) from a model"),
    "bench": ("bench", "time the reference pipeline against ours, per stage"),
    "export": ("export", "write a model for JetRacer's notebooks (plain state_dict) or as ONNX"),
    "teleop": ("teleop", "drive by hand with a gamepad"),
    "display": ("display", "run the OLED status display"),
    "battery": ("battery", "read the battery monitor"),
    "stop": ("stop", "write neutral throttle and centred steering now"),
    "calibrate": ("calibrate", "find steering centre/limits and throttle neutral, save to the profile"),
    "web": ("web", "the car's web app: drive, label and curate from a browser"),
    "install-services": ("install_services", "install the systemd units (drive, web, display, jupyter)"),
    "doctor": ("doctor", "check the car's bring-up (board, libraries, camera, I2C, groups), never moves it"),
    "import-tub": ("import_tub", "turn Donkeycar Tub v2 data into an XY dataset"),
    "export-tub": ("export_tub", "write XY datasets as a Donkeycar Tub v2"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """Bad arguments: one line, exit 2."""
        sys.stderr.write("%s: error: %s (see --help)\n" % (self.prog, message))
        sys.exit(2)


def build_parser():
    parser = _Parser(prog="jetracer", description="Autonomous racecar stack for NVIDIA Jetson.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        _load(module).add_arguments(p)
    return parser


def _load(module):
    return importlib.import_module("jetracer.commands." + module)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help()
        return 2
    try:
        return int(_load(args._module).run(args) or 0)
    except JetracerError as exc:
        return _one_line_error(str(exc), exc.exit_code)
    except (KeyboardInterrupt, StopSignal) as exc:
        # a signal outside a driving loop (start-up, calibration): the handler already wrote neutral
        sys.stderr.write("stopped: %s\n" % (exc or "interrupted"))
        return 0 if isinstance(exc, StopSignal) else 130
    except OSError as exc:  # a file or device the command touched: say which and why
        from .util.atomic import describe_os_error

        return _one_line_error(describe_os_error(exc), FAULT_EXIT)
    except MemoryError:
        return _one_line_error("out of memory: use smaller sizes (batch size, frames, input size)", FAULT_EXIT)
    except Exception as exc:  # noqa: BLE001 - a bug, still reported as one line (traceback with -v)
        if args.verbose:
            traceback.print_exc()
        return _one_line_error("unexpected %s in `jetracer %s`: %s (a bug: rerun with -v for the traceback, "
                               "and report it)" % (type(exc).__name__, args.command, exc), FAULT_EXIT)


def _one_line_error(message, code):
    """``error: message`` on stderr as exactly one line; returns the exit status."""
    text = " ".join(str(message).split()) or "failed"
    sys.stderr.write("error: %s\n" % text)
    sys.stderr.flush()
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
