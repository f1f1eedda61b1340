"""When a drive ends: the stop reasons, and the one condition for "laps, duration, or a stuck car".

Every loop that drives (``jetracer drive``, the simulator's helpers in :mod:`jetracer.sim.run`,
notebooks, collection) reports why it stopped with a :class:`StopReason` constant: the value lands
in the metrics JSON's ``stop_reason`` (a contract: the strings never change) and decides the exit
status (:data:`StopReason.NORMAL` ends with 0, anything else is a fault).

:class:`StopCondition` is the ``should_stop`` callable :meth:`jetracer.drive.pilot.Pilot.run` polls before
each frame. It knows three limits: a lap count (the simulator's lap counter), a duration (the car's
wall clock, or the simulator's clock in lockstep) and a time cap on simulated time, so that a car
that is stuck never drives a ``--laps`` run for ever. The cap is the one "stuck car" rule:
:data:`CAP_S_PER_LAP` per lap asked for unless the caller gives its own (``--max-seconds``).
"""

import time

__all__ = ["CAP_S_PER_LAP", "StopCondition", "StopReason"]

#: a ``--laps`` run in the simulator gives up after this much simulated time per lap asked for
#: (a car that is stuck against nothing or circling off the track); ``--max-seconds`` overrides it
CAP_S_PER_LAP = 120.0


class StopReason:
    """The values of ``stop_reason`` (the metrics JSON and :attr:`Pilot.stop_reason`)."""

    LAPS, DURATION, SIGNAL, STALE_FRAME, ENGINE_ERROR = "laps", "duration", "signal", "stale_frame", "engine_error"
    I2C_ERROR, BATTERY, ESTOP, CAMERA_CLOSED, REQUESTED = "i2c_error", "battery", "estop", "camera_closed", "requested"
    WATCHDOG, BATTERY_UNREADABLE, ROAD_LOST = "watchdog", "battery_unreadable", "road_lost"
    #: an exception nobody foresaw ended the drive: the car is at neutral, the metrics say what
    ERROR = "error"
    #: the drive ended as asked (exit status 0); every other reason is a fault (exit status 3)
    NORMAL = (LAPS, DURATION, SIGNAL, REQUESTED)


class StopCondition:
    """``should_stop()`` for :meth:`jetracer.drive.pilot.Pilot.run`: the reason to stop now, or None.

    ``laps``: stop once ``laps_done()`` reaches it (:data:`StopReason.LAPS`). ``duration``: stop
    once ``duration`` seconds of ``clock`` have passed since this object was made
    (:data:`StopReason.DURATION`). ``cap_s``: stop once ``sim_time()`` reaches it, whatever the
    other limits say (also :data:`StopReason.DURATION`, as ``jetracer drive`` has always reported
    it). Any limit may be None; with none at all the condition never stops the drive (a signal or
    a fault will). Build one with :meth:`for_world` or :meth:`for_car` rather than by hand.
    """

    def __init__(self, laps=None, duration=None, cap_s=None, clock=time.monotonic, laps_done=None, sim_time=None):
        for name, value in (("laps", laps), ("duration", duration), ("cap_s", cap_s)):
            if value is not None and not (isinstance(value, (int, float)) and 0 <= value < float("inf")):
                raise ValueError("%s must be a finite number >= 0 or None, got %r" % (name, value))
        if laps is not None and laps_done is None:
            raise ValueError("a lap limit needs a lap counter (laps_done)")
        if cap_s is not None and sim_time is None:
            raise ValueError("a time cap needs the simulator's clock (sim_time)")
        self.laps, self.duration, self.cap_s = laps, duration, cap_s
        self.clock, self.laps_done, self.sim_time = clock, laps_done, sim_time
        self.start = clock()

    @classmethod
    def for_world(cls, world, laps=None, duration=None, max_seconds=None, realtime=False):
        """The condition of a drive in the simulator: laps from the world's lap counter, the
        duration on the world's clock in lockstep (on the wall clock when ``realtime``), and the
        stuck-car cap on simulated time (``max_seconds``, else :data:`CAP_S_PER_LAP` per lap)."""
        cap = max_seconds if max_seconds else (CAP_S_PER_LAP * laps if laps else None)
        return cls(laps=laps, duration=duration, cap_s=cap, clock=time.monotonic if realtime else world.clock,
                   laps_done=lambda: world.metrics.laps_completed, sim_time=world.clock)

    @classmethod
    def for_car(cls, duration=None):
        """The condition of a drive on the car: only a duration, on the wall clock (no lap counter)."""
        return cls(duration=duration)

    def __call__(self):
        if self.laps is not None and self.laps_done() >= self.laps:
            return StopReason.LAPS
        if self.duration is not None and self.clock() - self.start >= self.duration:
            return StopReason.DURATION
        if self.cap_s is not None and self.sim_time() >= self.cap_s:
            return StopReason.DURATION
        return None

    def __repr__(self):
        return "StopCondition(laps=%r, duration=%r, cap_s=%r)" % (self.laps, self.duration, self.cap_s)
