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

from ._common import add_profile_argument, add_sim_argument, duration_s, number_in, profile_from_args, seed_int

log = logging.getLogger(__name__)

FAULT_EXIT = 3
MAX_LAPS = 10000
NORMAL_REASONS = ("laps", "duration", "signal", "requested")
ERROR_REASON = "error"  # an exception nobody foresaw: the car is at neutral, metrics say what


def add_arguments(parser):
    add_profile_argument(parser)
    add_sim_argument(parser)
    parser.add_argument("--track", metavar="T", help="simulator track: built-in name or JSON path")
    who = parser.add_mutually_exclusive_group()
    who.add_argument("--engine", metavar="E", help="model (.pth) or engine file (default: the profile's)")
    who.add_argument("--pilot", choices=["model", "expert", "racer"], default="model",
                     help="expert: the simulator's ground-truth driver, speed capped; racer: ground truth at "
                          "the tyres' grip limit (both need --sim)")
    until = parser.add_mutually_exclusive_group()
    until.add_argument("--laps", type=number_in(int, 1, MAX_LAPS), metavar="N", help="stop after N laps (simulator)")
    until.add_argument("--duration", type=duration_s, metavar="S", help="stop after S seconds")
    parser.add_argument("--metrics-json", metavar="F", help="write run metrics (laps, cross-track error, latency...)")
    parser.add_argument("--video", metavar="F", help="record the camera view with the prediction (.mp4 or .gif)")
    parser.add_argument("--seed", type=seed_int, default=0, help="simulator seed (start pose jitter, randomisation)")
    parser.add_argument("--realtime", action="store_true", help="simulator in real time instead of lockstep")
    parser.add_argument("--mode", choices=["stopped", "manual", "steer", "auto"],
                        help="start mode (default: the profile's pilot.mode)")
    parser.add_argument("--throttle", type=number_in(float, 0.0, 1.0), help="override the profile's pilot throttle")
    parser.add_argument("--backend", default=None,
                        help="inference backend (auto, torch, onnxruntime, tensorrt); with a .pth model and a "
                             "backend other than torch, an engine is built once (parity-checked) and cached")
    parser.add_argument("--precision", default="auto", help="engine precision when building from a .pth")
    parser.add_argument("--engine-cache", default=None, metavar="DIR",
                        help="where built engines are cached (default: beside the model)")
    parser.add_argument("--randomize", action="store_true", help="simulator domain randomisation")
    parser.add_argument("--appearance", metavar="NAME", default=None,
                        help="simulator: render a held-out room (%s)" % ", ".join(_held_out_names()))
    parser.add_argument("--max-seconds", type=duration_s, default=None,
                        help="safety cap on simulated time for --laps runs (default 120 s per lap)")


def run(args):
    from ..errors import UsageError
    from ..safety import install_signal_handlers
    from ..util.atomic import check_output_file

    install_signal_handlers()
    profile = profile_from_args(args)
    sim = args.sim or profile.camera["type"] == "sim"
    if args.pilot in ("expert", "racer") and not sim:
        raise UsageError("--pilot %s drives from the simulator's ground truth: add --sim" % args.pilot)
    if args.laps is not None and not sim:
        raise UsageError("--laps needs the simulator's lap counter: add --sim, or use --duration")
    if args.metrics_json:  # a wrong path fails now, not after the drive
        check_output_file(args.metrics_json, "--metrics-json")
    if args.throttle is not None:
        profile.pilot["throttle"] = args.throttle
    lock = _lock_the_car(profile, sim)
    try:
        session = DriveSession(profile, args, sim=sim)
        try:
            metrics = session.drive()
        finally:
            late_error = session.close()
    finally:
        lock.release()
    _report(metrics, args)
    if late_error is not None:  # the video could not be finished: the drive itself is reported above
        raise late_error
    return 0 if metrics["stop_reason"] in NORMAL_REASONS else FAULT_EXIT


def _lock_the_car(profile, sim):
    """One drive per car: the lock `jetracer stop` finds this drive by (see jetracer.runlock)."""
    from ..runlock import lock_car

    return lock_car(profile, sim, command="drive")


class DriveSession:
    """Builds the parts a drive needs and tears them down; one place that knows both worlds."""

    def __init__(self, profile, args, sim):
        self.profile, self.args, self.sim = profile, args, sim
        self.world = None
        self.car = None
        self.camera = None
        self.battery = None
        self.recorder = None
        self.guardian = None
        self.video_error = None
        self.pilot_name = args.pilot if args.pilot in ("expert", "racer") else None
        try:
            self._build()
        except BaseException:  # a part that failed to build: close those already open (neutral)
            self.close()
            raise

    def _build(self):
        from ..profile import make_car

        args, profile = self.args, self.profile
        if self.sim:
            from ..sim.world import SimWorld

            self.world = SimWorld(profile, track=args.track or profile.sim["track"], seed=args.seed,
                                  randomize=args.randomize or None, persistent_bus=True,
                                  appearance=getattr(args, "appearance", None))
            self.car = make_car(profile, i2c=self.world.bus)
            self.camera = self.world.camera
        else:
            from ..camera import make_camera

            self.car = make_car(profile)
            self.camera = make_camera(profile)
        self.engine = self.policy = None
        if args.pilot in ("expert", "racer"):
            from ..sim.expert import ExpertDriver
            from ..sim.racer import RacerDriver

            expert = (RacerDriver if args.pilot == "racer" else ExpertDriver)(self.world)
            self.policy = lambda frame: expert.command()
        else:
            from ..engine import cached_engine, load_engine

            path = args.engine or profile.resolve_path(profile.engine["path"])
            backend = args.backend or profile.engine["backend"]
            precision = args.precision if args.precision != "auto" else profile.engine["precision"]
            if not args.engine and profile.engine["model"]:
                from ..engine.optimize import ensure_engine

                ensure_engine(path, profile.resolve_path(profile.engine["model"]), backend=backend, precision=precision)
            if str(path).endswith(".pth") and (backend not in ("auto", "torch") or precision != "auto"):
                self.engine = cached_engine(path, backend=backend, precision=precision, cache_dir=args.engine_cache)
            else:
                self.engine = load_engine(path, backend=backend)
            self.pilot_name = "%s (%s %s)" % (path, self.engine.backend, self.engine.precision)
        self.battery = self._battery()
        if args.video:
            from ..util.video import VideoRecorder

            self.recorder = VideoRecorder(args.video, fps=profile.camera["fps"])

    def _battery(self):
        """The INA219 monitor the pilot watches (critical -> stop), when the profile fits one."""
        if not self.profile.battery["enabled"]:
            return None
        from ..battery import BatteryMonitor

        bus = self.world.bus if self.world is not None else None
        return BatteryMonitor.from_profile(self.profile, i2c=bus)

    def drive(self):
        from ..pilot import Pilot

        args = self.args
        clock = self.world.clock if self.world is not None else None
        pilot = Pilot.from_profile(self.profile, self.car, self.camera, engine=self.engine, policy=self.policy,
                                   battery=self.battery, clock=clock, mode=args.mode)
        self.pilot = pilot
        if self.recorder is not None:
            pilot.telemetry.record = _tee(pilot.telemetry.record, self._record_video)
        should_stop = self._stop_condition()
        lockstep = self.world is not None and not args.realtime
        if lockstep:  # the simulated car waits for the loop: only a hang is a fault, not a slow frame
            pilot.watchdog_s = max(pilot.watchdog_s, self.profile.sim["lockstep_watchdog_s"])
        notifier = self._start_watchdogs(pilot)
        if lockstep:
            def advance():
                self.world.step(self.world.frame_period)
                if self.battery is not None:
                    self._read_battery()
            run = lambda: pilot.run(should_stop=should_stop, before_frame=advance)  # noqa: E731
        else:
            run = lambda: self._run_free(pilot, should_stop)  # noqa: E731
        error = None
        try:
            reason = run()
        except Exception as exc:  # noqa: BLE001 - a bug or an unforeseen failure: neutral, metrics, exit 3
            reason, error = ERROR_REASON, _one_line(exc)
            log.error("stopping: %s", error)
        notifier.stopping()
        metrics = {"pilot": self.pilot_name, "stop_reason": reason}
        if error is not None:
            metrics["error"] = error
        metrics.update(pilot.summary())
        if self.world is not None:
            metrics.update(self.world.metrics.summary())
            metrics["sim_time_s"] = round(self.world.time, 3)
        try:
            metrics["final_pwm_us"] = self.car.pulse_widths_us()  # read back from the chip after neutral
        except Exception as exc:  # noqa: BLE001 - the bus that just failed may fail again: report, don't crash
            log.error("could not read the PWM back: %s", exc)
            metrics["final_pwm_us"] = None
        metrics["stop_reason"] = reason
        return metrics

    def _start_watchdogs(self, pilot):
        """The guardian process (heartbeat per frame) and systemd's keep-alive, fed by the loop."""
        from ..guardian import Guardian
        from ..sdnotify import SystemdNotifier

        p = self.profile.pilot
        if p["guardian"]:
            plan = Guardian.plan_for(self.car)
            if plan is None:
                log.warning("no guardian: the car's bus cannot be reached from another process")
            else:
                self.guardian = Guardian.start(plan, limit_s=pilot.watchdog_s, outputs_off=p["guardian_outputs_off"])
                pilot.keepalives.append(self.guardian.beat)
        notifier = SystemdNotifier()
        pilot.keepalives.append(notifier.keepalive)
        notifier.ready("driving (%s)" % self.profile.name)
        return notifier

    def _read_battery(self):
        """One lockstep reading; a failed read leaves ``battery.error`` set for the pilot to judge."""
        from ..errors import HardwareError

        try:
            self.battery.update()
        except HardwareError:
            pass

    def _run_free(self, pilot, should_stop):
        """Real time: camera thread, world physics thread (sim), battery thread; pilot in this thread."""
        if self.world is not None:
            self.world.start_realtime()
        if self.battery is not None and hasattr(self.battery, "start"):
            self.battery.start()
        self.camera.start()
        try:
            return pilot.run(should_stop=should_stop)
        finally:
            self.camera.stop()
            if self.world is not None:
                self.world.stop_realtime()

    def _stop_condition(self):
        """Laps, duration and the stuck-car cap (see :class:`jetracer.drive.stop.StopCondition`)."""
        from ..drive.stop import StopCondition

        args = self.args
        if self.world is not None:
            return StopCondition.for_world(self.world, laps=args.laps, duration=args.duration,
                                           max_seconds=args.max_seconds, realtime=args.realtime)
        return StopCondition.for_car(duration=args.duration)

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

    def close(self):
        """Close every part; returns the error of finishing the video (or None) for after the report."""
        late_error = None
        pilot = getattr(self, "pilot", None)
        if pilot is not None:
            pilot.telemetry.close()
            pilot.close_watchdog()
        for part in (self.car, self.camera):
            if part is not None:
                try:
                    part.close()
                except Exception as exc:  # noqa: BLE001 - keep closing the rest
                    log.error("closing %r: %s", part, exc)
        if self.battery is not None and hasattr(self.battery, "stop"):
            self.battery.stop()
        if self.guardian is not None:
            self.guardian.close()  # after the car wrote neutral: a clean goodbye
        if self.recorder is not None:
            try:
                self.recorder.close()
            except OSError as exc:
                from ..util.atomic import output_error

                late_error = output_error(exc, self.recorder.path)
        return self.video_error or late_error


def _one_line(exc):
    """What stopped the drive, on one line, for the log and the metrics JSON."""
    from ..errors import JetracerError

    text = " ".join(str(exc).split())
    return text if isinstance(exc, JetracerError) else "unexpected %s: %s" % (type(exc).__name__, text)


def _held_out_names():
    from ..sim.appearance import held_out_names

    return held_out_names()


def _tee(first, second):
    def both(rec):
        first(rec)
        second(rec)
    return both


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
