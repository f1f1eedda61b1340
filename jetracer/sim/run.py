"""Driving a SimWorld from a script or a test: the one driving loop, :meth:`jetracer.drive.pilot.Pilot.run`.

These helpers are what ``jetracer drive --sim`` does, without the command's guardian, lock file
and engine loading: a :class:`~jetracer.drive.pilot.Pilot` in ``auto`` mode runs ``policy`` (any
:class:`~jetracer.drive.policies.Policy`: ``(frame) -> (steering, throttle)``, e.g. an
:class:`~jetracer.sim.expert.ExpertDriver`) on ``car``, a ``Racecar`` on ``world.bus`` (build it with
``jetracer.profile.make_car(world.profile, i2c=world.bus)``), until a
:class:`~jetracer.drive.stop.StopCondition` (laps, duration, the stuck-car cap) says stop. The car
is left at neutral on every way out; the summary is the simulator's metrics plus ``frames``,
``stop_reason`` and ``final_pwm_us``, the same numbers ``jetracer drive --sim`` reports.
"""

from ..drive.stop import StopCondition

__all__ = ["GroundTruthCamera", "drive_lockstep", "drive_realtime", "scripted_pilot"]


class GroundTruthCamera:
    """Frames that carry the world's time and a sequence number but no picture (``image`` is None).

    For loops whose policy drives from ground truth (the experts) and that render only when they
    need a picture (collection saves every few frames): rendering is most of a frame's cost, and
    with domain randomisation each render draws from the world's random stream, so a frame that
    is not rendered must not be."""

    running = False

    def __init__(self, world):
        self.world = world
        self.width, self.height = world.profile.camera["width"], world.profile.camera["height"]
        self._latest = None

    def read_frame(self):
        from ..camera.base import Frame

        seq = self._latest.seq + 1 if self._latest is not None else 1
        self._latest = Frame(None, self.world.clock(), seq)
        return self._latest

    def wait_frame(self, after_seq, timeout=None):
        return self.read_frame()

    def latest(self):
        return self._latest

    def close(self):
        pass


def scripted_pilot(world, car, camera, policy, **traits):
    """A pilot for a scripted simulated run (these helpers, collection): the policy in auto mode,
    on the world's clock, with no watchdog thread (no person, no real car to run away)."""
    from ..drive.pilot import Pilot

    return Pilot(car, camera, policy=policy, clock=world.clock, mode="auto", watchdog_s=0.0, **traits)


def _summary(world, pilot, reason):
    """The metrics ``jetracer drive --sim`` writes, from the same sources: the world's lap metrics
    and the pulses read back from the chip through the car, as the run ended."""
    summary = world.metrics.summary()
    summary.update(frames=pilot.frames, stop_reason=reason, final_pwm_us=pilot.car.pulse_widths_us())
    return summary


def drive_lockstep(world, car, policy, laps=None, duration=None, render=True, max_seconds=None):
    """Run ``policy`` in virtual time, one frame period per step, until ``laps`` laps are done or
    ``duration`` simulated seconds have passed (or the stuck-car cap, ``max_seconds``); returns
    the summary (see the module docstring). ``render=False``: the policy gets frames without a
    picture (:class:`GroundTruthCamera`), for ground-truth policies in a hurry.

    Deterministic: the same world seed and policy give the same summary, and the same as
    ``jetracer drive --sim`` with that policy.
    """
    if laps is None and duration is None:
        raise ValueError("drive_lockstep needs laps or duration")
    camera = world.camera if render else GroundTruthCamera(world)
    pilot = scripted_pilot(world, car, camera, policy)
    stop = StopCondition.for_world(world, laps=laps, duration=duration, max_seconds=max_seconds)
    reason = pilot.run(should_stop=stop, before_frame=world.step)
    return _summary(world, pilot, reason)


def drive_realtime(world, car, policy, laps=None, duration=None, max_seconds=None, stale_s=None):
    """Like :func:`drive_lockstep`, but physics and camera run on the wall clock in their own
    threads; the policy acts on each new frame as it arrives (a model that is slower than the
    camera simply skips frames, as on the car). A frame older than ``stale_s`` (default the
    profile's ``[pilot] stale_frame_s``) stops the car with ``stop_reason`` "stale_frame"."""
    if laps is None and duration is None:
        raise ValueError("drive_realtime needs laps or duration")
    stale_s = world.profile.pilot["stale_frame_s"] if stale_s is None else stale_s
    pilot = scripted_pilot(world, car, world.camera, policy, stale_frame_s=stale_s)
    with world.realtime():
        stop = StopCondition.for_world(world, laps=laps, duration=duration, max_seconds=max_seconds, realtime=True)
        reason = pilot.run(should_stop=stop)
    return _summary(world, pilot, reason)
