"""`jetracer teleop`: drive by hand with a gamepad (Linux input events), on the car or with --sim.

The pad is found by name or /dev/input path (default: the first gamepad), its mapping chosen by
name (or --mapping / the profile's [teleop] mapping). With a pilot (a model on the car, the
expert in the simulator), the mode button hands over manual -> steer -> auto. A recording of
kernel events (``cat /dev/input/eventN > drive.bin``) can stand in for the pad: --device drive.bin.
"""

import json
import logging
import os

from ._common import add_profile_argument, add_sim_argument, duration_s, profile_from_args

log = logging.getLogger(__name__)


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)
    parser.add_argument("--device", metavar="D", default=None,
                        help="pad name (part of it), /dev/input/eventN, or a recorded event file "
                             "(default: the profile's [teleop] device, else the first gamepad)")
    parser.add_argument("--mapping", metavar="M", default=None,
                        help="pad mapping name or TOML path (default: chosen by the pad's name)")
    parser.add_argument("--record", nargs="?", const="", default=None, metavar="DIR",
                        help="start recording at once (the record button toggles it) into DIR "
                             "(default: the profile's [teleop] record_dir)")
    parser.add_argument("--pilot", choices=["auto", "none", "model", "expert"], default="auto",
                        help="who drives in steer/auto modes: the profile's model, the simulator's expert, or "
                             "nobody (manual only). auto: expert with --sim, the model when its file exists")
    parser.add_argument("--track", metavar="T", help="simulator track (built-in name, JSON path or random:SEED)")
    parser.add_argument("--duration", type=duration_s, metavar="S", help="stop after S seconds")
    parser.add_argument("--list", action="store_true", help="list input devices and pad mappings, then exit")


def run(args):
    from ..drive.signals import install_signal_handlers
    from ..rig import Rig
    from ..teleop.session import TeleopSession, open_reader

    if args.list:
        return _list()
    install_signal_handlers()
    profile = profile_from_args(args)
    spec = args.device if args.device is not None else profile.teleop["device"]
    reader = open_reader(spec)
    first = reader.open()  # no pad: a one-line error before anything is built or moves
    rig = session = None
    try:
        # the camera waits until a pilot or the recorder needs it (a CSI camera takes seconds to open)
        rig = Rig(profile, sim=args.sim, track=args.track, camera=False)
        pilot = _pilot(profile, args, rig)
        camera = rig.open_camera() if pilot is not None or rig.lockstep else None  # lockstep: opening is free
        session = TeleopSession(profile, rig.car, reader, pilot=pilot, camera=camera, rig=rig,
                                mapping=args.mapping or None, record_root=args.record or None,
                                camera_factory=rig.open_camera)
        session.teleop.handle(first)
        if args.record is not None:
            session.teleop.recording = True
        print("driving with %s (mapping %s); %s; Ctrl-C to stop" % (
            session.teleop.pad_name, session.teleop.mapping.name, _help_line(session)))
        summary = session.run(duration=args.duration)
    finally:
        if session is not None:
            session.close()  # the pad, then the rig's one teardown
        else:
            reader.close()
            if rig is not None:
                rig.close()
    print("teleop ended: " + json.dumps(summary, sort_keys=True))
    return 0


def _help_line(session):
    labels = session.teleop.mapping.labels
    bits = ["e-stop %s (release %s)" % (labels.get("estop", "?"), labels.get("estop_release", "?"))]
    if session.pilot is not None:
        bits.append("mode %s" % labels.get("mode", "?"))
    bits.append("record %s" % labels.get("record", "?"))
    return ", ".join(bits)


def _pilot(profile, args, rig):
    """The pilot that takes over in steer/auto (None: manual only). ``--pilot auto``: the
    simulator's expert where there is ground truth, else the profile's model when its file exists."""
    from ..drive.pilot import Pilot

    kind = args.pilot
    engine_path = str(profile.resolve_path(profile.engine["path"])) if profile.engine["path"] else ""
    policy = rig.ground_truth_policy() if kind in ("auto", "expert") else None
    if kind == "auto" and policy is None:
        kind = "model" if engine_path and os.path.isfile(engine_path) else "none"
    if kind == "none":
        return None
    engine = None
    if kind == "expert" and policy is None:
        from ..errors import JetracerError

        raise JetracerError("--pilot expert drives from the simulator's ground truth: add --sim")
    if kind == "model":
        from ..engine import load_engine

        engine = load_engine(engine_path, backend=profile.engine["backend"])
    camera = rig.open_camera()  # the pilot needs frames from the start
    return Pilot.from_profile(profile, rig.car, camera, engine=engine, policy=policy, battery=rig.battery,
                              clock=rig.clock, mode="manual")


def _list(devices=None):
    """Every input node; for a pad, the mapping (kernel layout) its name and capabilities select,
    and where its motion data arrives (a keep-alive sibling node, or on the pad's own node)."""
    from ..teleop.device import describe_pad, scan_input_devices
    from ..teleop.mapping import mapping_names

    devices = scan_input_devices() if devices is None else devices
    if not devices:
        print("no input devices under /dev/input (plug a pad in, or pair it over Bluetooth)")
    for dev in devices:
        if dev.error:
            print("%-20s %s" % (dev.path, dev.error))
        elif dev.score:
            mapping, motion = describe_pad(dev, devices)
            print("%-20s %-50s gamepad, mapping %s (layout: %s; %s)" % (dev.path, dev.name, mapping.name,
                                                                         mapping.title, motion))
        else:
            print("%-20s %-50s not a pad" % (dev.path, dev.name))
    print("pad mappings: %s" % ", ".join(mapping_names()))
    return 0
