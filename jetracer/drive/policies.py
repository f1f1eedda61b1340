"""Policies: what to do with a camera frame. One signature, ``policy(frame) -> (steering, throttle)``.

The :class:`~jetracer.drive.pilot.Pilot` is the one driving loop; what it drives with is a policy:

- :class:`ModelPolicy`: the network (an engine, frame image -> image point x, y and perhaps a
  throttle) and the control law that turns the point into car commands; the road monitor watches
  it. A pilot given an engine builds one.
- the simulator's experts, :class:`~jetracer.sim.expert.ExpertDriver` and
  :class:`~jetracer.sim.racer.RacerDriver` (:func:`expert_policy` picks one by name): they drive from
  the world's ground truth and ignore the picture.
- :class:`ManualPolicy`: commands someone (a test, a script, a gamepad thread) sets.
- any callable of a frame: data collection's labeller, a test's ``lambda frame: (0.0, 0.3)``.

``frame`` is a :class:`~jetracer.camera.base.Frame` (``image``, ``timestamp``, ``seq``); commands are
the car's ``steering`` and ``throttle`` in [-1, 1]. A policy that raises, or returns something not
finite, stops the car with ``engine_error``; one that knows better raises :class:`Fault` with its
own :class:`~jetracer.drive.stop.StopReason`.
"""

import math
import time

from ..protocols import Policy
from .stop import StopReason

__all__ = ["EXPERTS", "Fault", "ManualPolicy", "ModelPolicy", "Policy", "expert_policy"]  # Policy: jetracer.protocols


class Fault(Exception):
    """A policy's (or the pilot's) reason to stop the car now: ``reason`` is a StopReason value."""

    def __init__(self, reason, detail):
        super().__init__(detail)
        self.reason = reason


class ManualPolicy:
    """Commands someone sets: ``steering`` and ``throttle`` attributes, read at each frame."""

    def __init__(self, steering=0.0, throttle=0.0):
        self.steering, self.throttle = float(steering), float(throttle)

    def __call__(self, frame):
        return self.steering, self.throttle


#: the simulator's ground-truth drivers by the names ``--pilot`` takes
EXPERTS = ("expert", "racer")


def expert_policy(world, name="expert"):
    """The simulator's expert (``"expert"``: pure pursuit, speed capped) or racer (``"racer"``: at
    the tyres' grip limit) on ``world``, as a policy."""
    if name == "expert":
        from ..sim.expert import ExpertDriver

        return ExpertDriver(world)
    if name == "racer":
        from ..sim.racer import RacerDriver

        return RacerDriver(world)
    raise ValueError("no expert called %r (one of %s)" % (name, ", ".join(EXPERTS)))


class ModelPolicy:
    """The network drives: ``engine(image) -> (x, y)`` (or ``engine.predict`` with a throttle
    output, when ``speed_from_model``), then ``law`` (a :class:`~jetracer.drive.control.ControlLaw`):
    steering from x, throttle from the law or the model. ``road_monitor`` (a
    :class:`~jetracer.drive.road_monitor.RoadMonitor`) sees every prediction while ``watch_road`` is on
    (the pilot turns it off while a person drives), scales the throttle and stops the car with
    ``road_lost`` when the network no longer sees a road it knows.

    After each call, ``x``, ``y`` are the prediction and ``record`` what the frame's telemetry
    record should carry (the point, stage timings, the model's throttle, the road suspicion).
    """

    def __init__(self, engine, law, road_monitor=None, speed_from_model=True):
        self.engine, self.law, self.road_monitor = engine, law, road_monitor
        # a model with a throttle output (its last pair; see jetracer.data.throttle) sets the speed itself
        self.model_throttle = bool(speed_from_model and (getattr(engine, "meta", None) or {}).get("throttle_output"))
        self.watch_road = True
        self.x = self.y = 0.0
        self.record = {}

    def __call__(self, frame):
        t_start = time.perf_counter()
        try:
            if self.model_throttle:
                out = self.engine.predict(frame.image)
                (x, y), model_throttle = out[0], float(out[-1, 0])
            else:
                x, y = self.engine(frame.image)
                model_throttle = None
            x, y = float(x), float(y)
        except Exception as exc:  # noqa: BLE001 - any engine failure is a fault that stops the car
            raise Fault(StopReason.ENGINE_ERROR, "engine raised %s: %s" % (type(exc).__name__, exc)) from exc
        if not (math.isfinite(x) and math.isfinite(y)):
            raise Fault(StopReason.ENGINE_ERROR, "engine returned a non-finite prediction (%r, %r)" % (x, y))
        t_inf = time.perf_counter()
        timings = getattr(self.engine, "last_timings", None) or {}
        rec = {"preprocess_ms": timings.get("preprocess_ms", 0.0)}
        rec["inference_ms"] = timings.get("inference_ms", (t_inf - t_start) * 1000.0 - rec["preprocess_ms"])
        rec["_t_inf"] = t_inf  # the pilot times the control stage from here
        self.x, self.y = x, y
        rec.update(x=round(x, 5), y=round(y, 5))
        self.record = rec
        steering = self.law.steering(x, frame.timestamp)
        if model_throttle is not None and math.isfinite(model_throttle):
            throttle = self.law.throttle_from_model(model_throttle)
            rec["model_throttle"] = round(model_throttle, 4)
        else:
            throttle = self.law.throttle_for(x, y)
        if self.road_monitor is not None and self.watch_road:
            try:  # the monitor's probes run the engine too: its failures are engine faults
                throttle *= self.road_monitor.update(frame.image, x, y)
            except Exception as exc:  # noqa: BLE001
                raise Fault(StopReason.ENGINE_ERROR, "engine raised %s during the road check: %s" % (
                    type(exc).__name__, exc)) from exc
            rec["road_suspicion"] = round(self.road_monitor.suspicion, 3)
            if self.road_monitor.lost:
                raise Fault(StopReason.ROAD_LOST, self.road_monitor.describe())
        return steering, throttle
