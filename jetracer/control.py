"""The control law: where the model says to head (x, y in [-1, 1]) -> steering and throttle.

steering = clamp(x * gain + bias + kd * dx/dt), as JetRacer's live notebook does plus an optional
derivative term that damps the left-right wobble users report at speed. Throttle is constant, or
adaptive: it drops towards ``throttle_min`` as |x| grows (a corner) or as the target point comes
close to the car (y near the bottom of the image), and is always inside the forward/reverse limits.
"""

import math

__all__ = ["ControlLaw"]


def _clip(value, low, high):
    return low if value < low else high if value > high else value


class ControlLaw:
    def __init__(self, steering_gain=0.75, steering_bias=0.0, steering_kd=0.0, throttle=0.2,
                 throttle_mode="constant", throttle_min=0.12, throttle_x_slowdown=1.0,
                 throttle_forward_limit=1.0, throttle_reverse_limit=0.0):
        self.steering_gain = steering_gain
        self.steering_bias = steering_bias
        self.steering_kd = steering_kd
        self.throttle = throttle
        self.throttle_mode = throttle_mode
        self.throttle_min = throttle_min
        self.throttle_x_slowdown = throttle_x_slowdown
        self.throttle_forward_limit = throttle_forward_limit
        self.throttle_reverse_limit = throttle_reverse_limit
        self.reset()

    @classmethod
    def from_profile(cls, pilot_section):
        keys = ("steering_gain", "steering_bias", "steering_kd", "throttle", "throttle_mode", "throttle_min",
                "throttle_x_slowdown", "throttle_forward_limit", "throttle_reverse_limit")
        return cls(**{k: pilot_section[k] for k in keys})

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
        return _clip(x * self.steering_gain + self.steering_bias + self.steering_kd * derivative, -1.0, 1.0)

    def limit_throttle(self, value):
        return _clip(value, -abs(self.throttle_reverse_limit), abs(self.throttle_forward_limit))

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
