"""`jetracer drive`: the driving loop, on the car or in the simulator.

On the car: profile -> car, camera, engine, battery -> Pilot. With --sim: the same Pilot drives
an NvidiaRacecar on the simulator's virtual I2C bus; the simulator moves the car from the PWM it
wrote. Lockstep (default with --sim) is deterministic virtual time; --realtime runs the threads
free. Exit status: 0 for a normal end or a signal, 3 for a fault (stale camera, engine error,
I2C failure, critical or unreadable battery, watchdog), so systemd's Restart=on-failure restarts
only after faults.

Three watchdogs guard the loop (see the README's Safety table): the pilot's deadline thread, the
guardian process fed a heartbeat per frame, and systemd's ``WatchdogSec`` fed a keep-alive per frame
(``Type=notify``). A lock file per car lets ``jetracer stop`` find and stop this drive.
"""

import json
import logging
import sys

from ..drive.pilot import MODES
from ..drive.policies import EXPERTS
from ..drive.stop import StopReason
from ._common import add_profile_argument, add_sim_argument, duration_s, number_in, profile_from_args, seed_int

log = logging.getLogger(__name__)

FAULT_EXIT = 3
MAX_LAPS = 10000


#: argparse types of the numeric flags, also checking the values a script gives DriveOptions
_NUMBERS = {"laps": number_in(int, 1, MAX_LAPS), "duration": duration_s, "max_seconds": duration_s, "seed": seed_int}


class DriveOptions:
    """What a drive is asked to do besides the profile: ``jetracer drive``'s flags, as plain
    attributes, so a notebook or a script can drive a :class:`DriveSession` without argparse.
    The class attributes are the defaults (the command line's too); see ``jetracer drive --help``."""

    sim = False
    track = None
    engine = None
    pilot = "model"
    laps = None
    duration = None
    max_seconds = None
    video = None
    seed = 0
    realtime = False
    mode = None
    backend = None
    precision = "auto"
    engine_cache = None
    randomize = False
    appearance = None

    def __init__(self, **options):
        import argparse

        from ..errors import UsageError

        for name, value in options.items():
            if not hasattr(DriveOptions, name) or name.startswith("_"):
                raise TypeError("DriveOptions has no option %r" % name)
            parse = _NUMBERS.get(name)
            if parse is not None and value is not None:  # the command line's bounds: NaN would never stop
                try:
                    value = parse(str(value))
                except argparse.ArgumentTypeError as exc:
                    raise UsageError("%s: %s" % (name, exc)) from None
            setattr(self, name, value)

    def check(self, profile):
        """Refuse, before anything is built, what only the simulator can do (UsageError, exit 2)."""
        from ..errors import UsageError
        from ..rig import wants_sim

        if wants_sim(profile, self.sim):
            return
        if self.pilot in EXPERTS:
            raise UsageError("--pilot %s drives from the simulator's ground truth: add --sim" % self.pilot)
        if self.laps is not None:
            raise UsageError("--laps needs the simulator's lap counter: add --sim, or use --duration")

    @classmethod
    def from_args(cls, args):
        """The options of a parsed ``jetracer drive`` command line."""
        return cls(**{name: getattr(args, name) for name in vars(cls)
                      if not name.startswith("_") and not callable(getattr(cls, name)) and hasattr(args, name)})


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)
    parser.add_argument("--track", metavar="T", help="simulator track: built-in name, JSON path or random:SEED")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--engine", metavar="E", help="model (.pth) or engine file (default: the profile's)")
    who.add_argument("--pilot", choices=("model",) + EXPERTS, default=DriveOptions.pilot,
                     help="expert: the simulator's ground-truth driver, speed capped; racer: ground truth at "
                          "the tyres' grip limit (both need --sim)")
    until = parser.add_mutually_exclusive_group()
    until.add_argument("--laps", type=_NUMBERS["laps"], metavar="N", help="stop after N laps (simulator)")
    until.add_argument("--duration", type=_NUMBERS["duration"], metavar="S", help="stop after S seconds")
    parser.add_argument("--metrics-json", metavar="F", help="write run metrics (laps, cross-track error, latency...)")
    parser.add_argument("--video", metavar="F", help="record the camera view with the prediction (.mp4 or .gif)")
    parser.add_argument("--seed", type=_NUMBERS["seed"], default=DriveOptions.seed,
                        help="simulator seed (start pose jitter, randomisation)")
    parser.add_argument("--realtime", action="store_true", help="simulator in real time instead of lockstep")
    parser.add_argument("--mode", choices=MODES,
                        help="start mode (default: the profile's pilot.mode)")
    parser.add_argument("--throttle", type=number_in(float, 0.0, 1.0), help="override the profile's pilot throttle")
    parser.add_argument("--model-throttle-scale", type=number_in(float, 0.0, 3.0), metavar="S",
                        help="multiply a network's own throttle output by S, under the forward limit "
                             "(override the profile's pilot.model_throttle_scale)")
    parser.add_argument("--backend", default=None,
                        help="inference backend (auto, torch, onnxruntime, tensorrt); with a .pth model and a "
                             "backend other than torch, an engine is built once (parity-checked) and cached")
    parser.add_argument("--precision", default=DriveOptions.precision,
                        help="engine precision when building from a .pth")
    parser.add_argument("--engine-cache", default=None, metavar="DIR",
                        help="where built engines are cached (default: beside the model)")
    parser.add_argument("--randomize", action="store_true", help="simulator domain randomisation")
    parser.add_argument("--appearance", metavar="NAME", default=None,
                        help="simulator: render a held-out room (%s)" % ", ".join(_held_out_names()))
    parser.add_argument("--max-seconds", type=_NUMBERS["max_seconds"], default=None,
                        help="safety cap on simulated time for --laps runs (default 120 s per lap)")


def run(args):
    """The command: checks, the car's lock, a :class:`DriveSession`, the report, the exit status."""
    from ..drive.signals import install_signal_handlers
    from ..rig import wants_sim
    from ..util.atomic import check_output_file

    install_signal_handlers()
    profile = profile_from_args(args)
    options = DriveOptions.from_args(args)
    options.check(profile)
    if args.metrics_json:  # a wrong path fails now, not after the drive
        check_output_file(args.metrics_json, "--metrics-json")
    if args.throttle is not None:
        profile.pilot["throttle"] = args.throttle
    if args.model_throttle_scale is not None:
        profile.pilot["model_throttle_scale"] = args.model_throttle_scale
    lock = _lock_the_car(profile, wants_sim(profile, options.sim))
    try:
        session = DriveSession(profile, options)
        try:
            metrics = session.drive()
        finally:
            late_error = session.close()
    finally:
        lock.release()
    _report(metrics, args)
    if late_error is not None:  # the video could not be finished: the drive itself is reported above
        raise late_error
    return 0 if metrics["stop_reason"] in StopReason.NORMAL else FAULT_EXIT


def _lock_the_car(profile, sim):
    """One drive per car: the lock `jetracer stop` finds this drive by (see jetracer.drive.runlock)."""
    from ..drive.runlock import lock_car

    return lock_car(profile, sim, command="drive")


class DriveSession:
    """One drive: the :class:`~jetracer.rig.Rig` the profile describes, the engine or policy, the
    video recorder and the watchdogs; :meth:`drive` runs the pilot, :meth:`close` ends it all.

    ``options``: a :class:`DriveOptions` (``jetracer drive``'s flags; the defaults when None).
    The rig decides simulator or car; nothing here needs to know which.
    """

    def __init__(self, profile, options=None):
        from ..rig import Rig

        self.profile = profile
        self.options = options if options is not None else DriveOptions()
        self.rig = None
        self.recorder = None
        self.guardian = None
        self.pilot = None
        self.video_error = self.late_error = None
        opts = self.options
        opts.check(profile)
        self.pilot_name = opts.pilot if opts.pilot in EXPERTS else None
        try:
            self.rig = Rig(profile, sim=opts.sim, track=opts.track, seed=opts.seed, randomize=opts.randomize or None,
                           appearance=opts.appearance, persistent_bus=True)
            self._build()
        except BaseException:  # a part that failed to build: close those already open (neutral)
            self.close()
            raise

    @property
    def camera(self):
        """The camera the video is recorded from."""
        return self.rig.camera

    def _build(self):
        opts, profile = self.options, self.profile
        self.engine = self.policy = None
        if opts.pilot in EXPERTS:
            self.policy = self.rig.ground_truth_policy(opts.pilot)  # the simulator's: check() made sure
        else:
            from ..engine import cached_engine, load_engine

            path = opts.engine or profile.resolve_path(profile.engine["path"])
            backend = opts.backend or profile.engine["backend"]
            precision = opts.precision if opts.precision != "auto" else profile.engine["precision"]
            if not opts.engine and profile.engine["model"]:
                from ..engine.optimize import ensure_engine

                ensure_engine(path, profile.resolve_path(profile.engine["model"]), backend=backend, precision=precision)
            if str(path).endswith(".pth") and (backend not in ("auto", "torch") or precision != "auto"):
                self.engine = cached_engine(path, backend=backend, precision=precision, cache_dir=opts.engine_cache)
            else:
                self.engine = load_engine(path, backend=backend)
            self.pilot_name = "%s (%s %s)" % (path, self.engine.backend, self.engine.precision)
        if opts.video:
            from ..util.video import VideoRecorder

            self.recorder = VideoRecorder(opts.video, fps=profile.camera["fps"])
            self.rig.add("video", self._finish_video)

    def drive(self):
        """Drive until the stop condition, a fault or a signal; returns the metrics (see DESIGN.md)."""
        from ..drive.pilot import Pilot

        opts, rig = self.options, self.rig
        pilot = Pilot.from_profile(self.profile, rig.car, rig.camera, engine=self.engine, policy=self.policy,
                                   battery=rig.battery, clock=rig.clock, mode=opts.mode)
        self.pilot = pilot
        rig.add("pilot", self._close_pilot)
        if self.recorder is not None:
            pilot.telemetry.add_sink(self._record_video)
        should_stop = self._stop_condition()
        lockstep = rig.lockstep and not opts.realtime
        if lockstep:
            pilot.watchdog_s = rig.lockstep_watchdog_s(pilot.watchdog_s)
        notifier = self._start_watchdogs(pilot)
        if lockstep:
            run = lambda: pilot.run(should_stop=should_stop, before_frame=rig.step)  # noqa: E731
        else:
            run = lambda: self._run_free(pilot, should_stop)  # noqa: E731
        error = None
        try:
            reason = run()
        except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen failure: neutral, metrics, exit 3
            reason, error = StopReason.ERROR, _one_line(exc)
            log.error("stopping: %s", error)
        notifier.stopping()
        metrics = {"pilot": self.pilot_name, "stop_reason": reason}
        if error is not None:
            metrics["error"] = error
        metrics.update(pilot.summary())
        metrics.update(rig.sim_metrics())
        metrics["final_pwm_us"] = rig.pulse_widths_us()  # read back from the chip after neutral
        metrics["stop_reason"] = reason
        return metrics

    def _start_watchdogs(self, pilot):
        """The guardian process (heartbeat per frame) and systemd's keep-alive, fed by the loop."""
        from ..drive.guardian import Guardian
        from ..drive.sdnotify import SystemdNotifier

        p = self.profile.pilot
        if p["guardian"]:
            plan = Guardian.plan_for(self.rig.car)
            if plan is None:
                log.warning("no guardian: the car's bus cannot be reached from another process")
            else:
                self.guardian = Guardian.start(plan, limit_s=pilot.watchdog_s, outputs_off=p["guardian_outputs_off"])
                self.rig.add("guardian", self.guardian)  # after the car wrote neutral: a clean goodbye
                pilot.keepalives.append(self.guardian.beat)
        notifier = SystemdNotifier()
        pilot.keepalives.append(notifier.keepalive)
        notifier.ready("driving (%s)" % self.profile.name)
        return notifier

    def _run_free(self, pilot, should_stop):
        """Real time: camera thread, world physics thread (sim), battery thread; pilot in this thread."""
        self.rig.start_realtime()
        try:
            return pilot.run(should_stop=should_stop)
        finally:
            self.rig.stop_realtime()

    def _stop_condition(self):
        """Laps, duration and the stuck-car cap (see :class:`jetracer.drive.stop.StopCondition`)."""
        args = self.options
        return self.rig.stop_condition(laps=args.laps, duration=args.duration, max_seconds=args.max_seconds,
                                       realtime=args.realtime)

    def _record_video(self, rec):
        """One frame into the video. A video that cannot be written (no codec, disk full) stops
        recording, not the drive: the error is reported once after the drive, which then exits 3."""
        if self.video_error is not None:
            return
        frame = self.camera.latest()
        if frame is not None:
            try:
                self.recorder.add(frame.image, rec.get("x"), rec.get("y"), rec.get("steering"), rec.get("throttle"))
            except OSError as exc:
                from ..util.atomic import output_error

                self.video_error = output_error(exc, self.recorder.path)
                log.error("video recording stopped: %s", self.video_error)

    def _close_pilot(self):
        self.pilot.telemetry.close()
        self.pilot.close_watchdog()

    def _finish_video(self):
        try:
            self.recorder.close()
        except OSError as exc:
            from ..util.atomic import output_error

            self.late_error = output_error(exc, self.recorder.path)

    def close(self):
        """Neutral, then every part closed (the rig's one teardown: pilot, guardian, video, battery,
        camera, car, world); returns the error of finishing the video (or None) for after the report."""
        if self.rig is not None:
            self.rig.close()
        return self.video_error or self.late_error


def _one_line(exc):
    """What stopped the drive, on one line, for the log and the metrics JSON."""
    from ..errors import JetracerError

    text = " ".join(str(exc).split())
    return text if isinstance(exc, JetracerError) else "unexpected %s: %s" % (type(exc).__name__, text)


def _held_out_names():
    from ..sim.appearance import held_out_names

    return held_out_names()


def _report(metrics, args):
    if args.metrics_json:
        from ..util.atomic import atomic_write_bytes

        atomic_write_bytes(args.metrics_json, (json.dumps(metrics, indent=2) + "\n").encode())
    lat = metrics.get("control_latency_ms", {})
    laps = metrics.get("lap_times_s")
    lines = ["stopped: %s after %d frames (%d dropped)" % (metrics["stop_reason"], metrics["frames"],
                                                          metrics.get("dropped_frames", 0))]
    if "laps_completed" in metrics:
        lines.append("laps %d %s | distance %.1f m | cross-track mean %.3f m max %.3f m | off-track %d" % (
            metrics["laps_completed"], "(" + ", ".join("%.2f s" % t for t in laps) + ")" if laps else "",
            metrics.get("distance_m", 0.0), metrics.get("mean_abs_cte_m") or 0.0, metrics.get("max_abs_cte_m") or 0.0,
            metrics.get("off_track_events", 0)))
    lines.append("control latency p50 %s ms, p99 %s ms | final PWM %s" % (
        lat.get("p50"), lat.get("p99"), metrics.get("final_pwm_us")))
    sys.stdout.write("\n".join(lines) + "\n")
