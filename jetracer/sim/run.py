"""Driving loops over a SimWorld: lockstep (deterministic, as fast as the CPU allows) and real time.

A *policy* is ``policy(world, image) -> (steering, throttle)`` car commands; ``image`` is the
camera frame (BGR) or None when rendering is off. The car is any ``Racecar`` on ``world.bus``
(build it with ``jetracer.profile.make_car(world.profile, i2c=world.bus)``); it is left at
neutral on every way out.
"""

import time

__all__ = ["drive_lockstep", "drive_realtime", "default_time_limit"]


def default_time_limit(world, laps):
    """Give up on a lap count after this many simulated seconds (a car that is stuck)."""
    return 30.0 + laps * world.track.length / 0.3


def _finish(world, car, frames, reason):
    car.neutral()
    summary = world.metrics.summary()
    summary.update(frames=frames, stop_reason=reason, final_pwm_us=world.final_pwm_us())
    return summary


def drive_lockstep(world, car, policy, laps=None, duration=None, render=True, on_frame=None, time_limit=None):
    """Run ``policy`` in virtual time, one frame period per step, until ``laps`` laps are done or
    ``duration`` simulated seconds have passed; returns the metrics summary plus ``frames``,
    ``stop_reason`` ("laps", "duration" or "time_limit") and ``final_pwm_us``.

    ``on_frame(world, image, steering, throttle)`` is called after each decision (data collection,
    video). Deterministic: the same world seed and policy give the same summary.
    """
    if laps is None and duration is None:
        raise ValueError("drive_lockstep needs laps or duration")
    if time_limit is None:
        time_limit = duration if duration is not None else default_time_limit(world, laps)
    start = world.time
    frames = 0
    reason = None
    try:
        while True:
            if laps is not None and world.metrics.laps_completed >= laps:
                reason = "laps"
                break
            elapsed = world.time - start
            if duration is not None and elapsed >= duration - 1e-9:
                reason = "duration"
                break
            if elapsed >= time_limit - 1e-9:
                reason = "time_limit"
                break
            image = world.camera.read_frame().image if render else None
            steering, throttle = policy(world, image)
            car.steering, car.throttle = steering, throttle
            if on_frame is not None:
                on_frame(world, image, steering, throttle)
            world.step(world.frame_period)
            frames += 1
    finally:
        if reason is None:
            car.neutral()  # an exception is on its way out; the car still stops
    return _finish(world, car, frames, reason)


def drive_realtime(world, car, policy, laps=None, duration=None, time_limit=None, stale_s=None):
    """Like :func:`drive_lockstep`, but physics and camera run on the wall clock in their own
    threads; the policy acts on each new frame as it arrives (a model that is slower than the
    camera simply skips frames, as on the car). A frame older than ``stale_s`` (default the
    profile's ``[pilot] stale_frame_s``) stops the car with ``stop_reason`` "stale_frame"."""
    if laps is None and duration is None:
        raise ValueError("drive_realtime needs laps or duration")
    if time_limit is None:
        time_limit = duration if duration is not None else default_time_limit(world, laps)
    stale_s = world.profile.pilot["stale_frame_s"] if stale_s is None else stale_s
    frames, seq, reason = 0, 0, None
    with world.realtime():
        camera = world.camera
        start = time.monotonic()
        try:
            while True:
                if laps is not None and world.metrics.laps_completed >= laps:
                    reason = "laps"
                    break
                elapsed = time.monotonic() - start
                if duration is not None and elapsed >= duration:
                    reason = "duration"
                    break
                if elapsed >= time_limit:
                    reason = "time_limit"
                    break
                frame = camera.wait_frame(seq, timeout=max(stale_s, 0.05))
                if frame is None or world.clock() - frame.timestamp > stale_s:
                    reason = "stale_frame"
                    break
                seq = frame.seq
                steering, throttle = policy(world, frame.image)
                car.steering, car.throttle = steering, throttle
                frames += 1
        finally:
            car.neutral()
    return _finish(world, car, frames, reason or "error")
