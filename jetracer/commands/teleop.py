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
    parser.add_argument("--track", metavar="T", help="simulator track (built-in name or JSON path)")
    parser.add_argument("--duration", type=duration_s, metavar="S", help="stop after S seconds")
    parser.add_argument("--list", action="store_true", help="list input devices and pad mappings, then exit")


def run(args):
    from ..safety import install_signal_handlers
    from ..teleop.session import TeleopSession, open_reader

    if args.list:
        return _list()
    install_signal_handlers()
    profile = profile_from_args(args)
    sim = args.sim or profile.camera["type"] == "sim"
    spec = args.device if args.device is not None else profile.teleop["device"]
    reader = open_reader(spec)
    first = reader.open()  # no pad: a one-line error before anything is built or moves
    try:
        parts = _build(profile, args, sim)
    except BaseException:
        reader.close()
        raise
    session = None
    try:
        session = TeleopSession(profile, parts["car"], reader, pilot=parts["pilot"], camera=parts["camera"],
                                world=parts["world"], mapping=args.mapping or None,
                                record_root=args.record or None, camera_factory=parts["camera_factory"],
                                battery=parts["battery"])
        session.teleop.handle(first)
        if args.record is not None:
            session.teleop.recording = True
        print("driving with %s (mapping %s); %s; Ctrl-C to stop" % (
            session.teleop.pad_name, session.teleop.mapping.name, _help_line(session)))
        summary = session.run(duration=args.duration)
    finally:
        if session is not None:
            session.close()
        else:
            reader.close()
            _close_parts(parts)
    print("teleop ended: " + json.dumps(summary, sort_keys=True))
    return 0


def _help_line(session):
    labels = session.teleop.mapping.labels
    bits = ["e-stop %s (release %s)" % (labels.get("estop", "?"), labels.get("estop_release", "?"))]
    if session.pilot is not None:
        bits.append("mode %s" % labels.get("mode", "?"))
    bits.append("record %s" % labels.get("record", "?"))
    return ", ".join(bits)


def _build(profile, args, sim):
    """Car (and simulator), the battery monitor, the pilot that takes over in steer/auto, and a
    camera when needed. What was built is closed again when a later part fails."""
    parts = {"world": None, "car": None, "camera": None, "pilot": None, "camera_factory": None, "battery": None}
    try:
        _build_parts(parts, profile, args, sim)
    except BaseException:
        _close_parts(parts)
        raise
    return parts


def _close_parts(parts):
    from ..util.lifecycle import close_parts

    close_parts((name, parts[name]) for name in ("car", "camera", "world", "battery"))


def _build_parts(parts, profile, args, sim):
    from ..profile import make_car

    if sim:
        from ..sim.world import SimWorld

        parts["world"] = SimWorld(profile, track=args.track or profile.sim["track"], persistent_bus=True)
        parts["car"] = make_car(profile, i2c=parts["world"].bus)
        parts["camera"] = parts["world"].camera
    else:
        parts["car"] = make_car(profile)
        parts["camera_factory"] = lambda: _start_camera(profile)
    if profile.battery["enabled"]:
        from ..battery import BatteryMonitor

        world = parts["world"]  # in the simulator: its INA219 twin, read on the simulated clock
        extra = {"i2c": world.bus, "clock": world.clock} if world is not None else {}
        parts["battery"] = BatteryMonitor.from_profile(profile, **extra)
    kind = args.pilot
    engine_path = str(profile.resolve_path(profile.engine["path"])) if profile.engine["path"] else ""
    if kind == "auto":
        kind = "expert" if sim else ("model" if engine_path and os.path.isfile(engine_path) else "none")
    if kind == "none":
        return
    policy = engine = None
    if kind == "expert":
        if not sim:
            from ..errors import JetracerError

            raise JetracerError("--pilot expert drives from the simulator's ground truth: add --sim")
        from ..sim.expert import ExpertDriver

        expert = ExpertDriver(parts["world"])
        policy = lambda frame: expert.command()  # noqa: E731
    else:
        from ..engine import load_engine

        engine = load_engine(engine_path, backend=profile.engine["backend"])
    if parts["camera"] is None:
        parts["camera"] = _start_camera(profile)
    from ..pilot import Pilot

    clock = parts["world"].clock if parts["world"] is not None else None
    parts["pilot"] = Pilot.from_profile(profile, parts["car"], parts["camera"], engine=engine, policy=policy,
                                        battery=parts["battery"], clock=clock, mode="manual")


def _start_camera(profile):
    from ..camera import make_camera

    camera = make_camera(profile)
    camera.start()
    return camera


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
