"""The control law: where the model says to head (x, y in [-1, 1]) -> steering and throttle.

steering = clamp(x * gain + bias + kd * dx/dt), as JetRacer's live notebook does plus an optional
derivative term that damps the left-right wobble users report at speed. Throttle is constant, or
adaptive: it drops towards ``throttle_min`` as |x| grows (a corner) or as the target point comes
close to the car (y near the bottom of the image), and is always inside the forward/reverse limits.

The law ``steering = x * gain + bias`` is written once, here (:func:`steering_from_x`), with its
inverse (:func:`x_from_steering`): the collector drives with it, and the teleop recorder and the
Donkeycar tub import label a person's steering with the point the law would have to see. Every
default is the profile schema's ``[pilot]`` default, so a law or a pilot built in a notebook
behaves as one built from the default profile.
"""

import math

from ..profile import defaults

__all__ = ["ControlLaw", "steering_from_x", "x_from_steering"]

_LAW_KEYS = ("steering_gain", "steering_bias", "steering_kd", "throttle", "throttle_mode", "throttle_min",
             "throttle_x_slowdown", "throttle_forward_limit", "throttle_reverse_limit", "model_throttle_scale")


#: the profile schema's [pilot] defaults: every default of the law
_PILOT = defaults("pilot")


def _clip(value, low, high):
    return low if value < low else high if value > high else value


def steering_from_x(x, gain, bias):
    """The control law's steering for a target at ``x`` (in [-1, 1] across the image), before the
    clamp to [-1, 1] and without the derivative term: ``x * gain + bias``, as JetRacer's notebook."""
    return x * gain + bias


def x_from_steering(steering, gain, bias):
    """The inverse: the target ``x`` (clamped to [-1, 1]) the law would have to see to give
    ``steering``; 0 with a zero gain (no target steers then)."""
    x = (steering - bias) / gain if gain else 0.0
    return _clip(x, -1.0, 1.0)


class ControlLaw:
    def __init__(self, steering_gain=_PILOT["steering_gain"], steering_bias=_PILOT["steering_bias"],
                 steering_kd=_PILOT["steering_kd"], throttle=_PILOT["throttle"],
                 throttle_mode=_PILOT["throttle_mode"], throttle_min=_PILOT["throttle_min"],
                 throttle_x_slowdown=_PILOT["throttle_x_slowdown"],
                 throttle_forward_limit=_PILOT["throttle_forward_limit"],
                 throttle_reverse_limit=_PILOT["throttle_reverse_limit"],
                 model_throttle_scale=_PILOT["model_throttle_scale"]):
        self.steering_gain = steering_gain
        self.steering_bias = steering_bias
        self.steering_kd = steering_kd
        self.throttle = throttle
        self.throttle_mode = throttle_mode
        self.throttle_min = throttle_min
        self.throttle_x_slowdown = throttle_x_slowdown
        self.throttle_forward_limit = throttle_forward_limit
        self.throttle_reverse_limit = throttle_reverse_limit
        self.model_throttle_scale = model_throttle_scale
        self.reset()

    @classmethod
    def from_profile(cls, pilot_section):
        return cls(**{k: pilot_section[k] for k in _LAW_KEYS})

    def reset(self):
        """Forget the derivative history (after a pause, a mode change or a stale frame)."""
        self._last_x = None
        self._last_t = None

    def steering(self, x, t):
        """Steering for target x seen at time t (seconds, the frame's capture time)."""
        derivative = 0.0
        if self.steering_kd and self._last_x is not None and t > self._last_t:
            derivative = (x - self._last_x) / (t - self._last_t)
        self._last_x, self._last_t = x, t
        steering = steering_from_x(x, self.steering_gain, self.steering_bias) + self.steering_kd * derivative
        return _clip(steering, -1.0, 1.0)

    def limit_throttle(self, value):
        return _clip(value, -abs(self.throttle_reverse_limit), abs(self.throttle_forward_limit))

    def throttle_from_model(self, value):
        """Throttle for a network's own throttle output: scaled by ``model_throttle_scale``, then
        limited like every other throttle."""
        return self.limit_throttle(value * self.model_throttle_scale)

    def throttle_for(self, x, y):
        """Throttle for a target at (x, y): constant, or slower for sharp or near targets."""
        base = self.throttle
        if self.throttle_mode == "adaptive" and base > 0:
            nearness = _clip((y + 1.0) / 2.0, 0.0, 1.0) ** 2  # 0 at the top of the image, 1 at the bottom
            demand = _clip(max(abs(x) * self.throttle_x_slowdown, nearness), 0.0, 1.0)
            low = min(self.throttle_min, base)
            base = base - (base - low) * demand
        return self.limit_throttle(base)

    @staticmethod
    def finite(*values):
        """True when every value is a real, finite number (numpy scalars included)."""
        try:
            return all(math.isfinite(float(v)) for v in values)
        except (TypeError, ValueError):
            return False
