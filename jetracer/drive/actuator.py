"""The actuator mapping: a car command in [-1, 1] -> what reaches the chip, and back again.

One object says how ``steering`` and ``throttle`` become servo values and pulse widths: gain,
offset, forward/reverse limits, pulse range and the car type (an ESC pulse on NVIDIA's layout, a
signed H-bridge duty on Waveshare's). The car uses ``forward`` to drive the PCA9685; the
simulator's experts, ``jetracer calibrate`` and the profile's safety checks use ``inverse`` and
``neutral`` of the same object, so a command and the pulse it produces cannot drift apart between
the car and the code that reasons about it. Torch- and hardware-free, no defaults: every number
comes from the profile's ``[car]`` section or the car's traits.
"""

import math

__all__ = ["clip", "PulseRange", "OutputMapping", "ActuatorMapping", "CAR_TYPES"]

#: car type -> how its throttle reaches the motor: "esc" (a servo-style pulse) or "duty" (H-bridge duty)
CAR_TYPES = {"nvidia": "esc", "waveshare": "duty"}


def clip(value, low=-1.0, high=1.0):
    """``value`` limited to [low, high] (NaN is left to the callers, which refuse it first)."""
    return low if value < low else high if value > high else value


class PulseRange:
    """A servo-style output: value -1 -> ``min_us``, +1 -> ``max_us``, linear (Adafruit's
    ``ContinuousServo`` convention), the value clamped to [-1, 1] first."""

    def __init__(self, min_us, max_us):
        self.min_us, self.max_us = float(min_us), float(max_us)

    @property
    def center_us(self):
        return (self.min_us + self.max_us) / 2.0

    @property
    def half_span_us(self):
        return (self.max_us - self.min_us) / 2.0

    def pulse_us(self, value):
        """Pulse width (microseconds) for a servo value."""
        return self.center_us + clip(value) * self.half_span_us

    def value(self, pulse_us):
        """The servo value that produces ``pulse_us`` (inverse of :meth:`pulse_us`), clamped; 0 for
        an empty range or a non-finite pulse (no value is better than the centre there)."""
        if not self.half_span_us or not math.isfinite(pulse_us):
            return 0.0
        return clip((pulse_us - self.center_us) / self.half_span_us)

    def __repr__(self):
        return "PulseRange(%g, %g)" % (self.min_us, self.max_us)


class OutputMapping:
    """One output channel: ``command`` -> ``value`` (in [-1, 1]) -> pulse width.

    ``offset`` is either a trim (``offset_is_trim``: the value at command 0, e.g. the ESC's
    neutral or the steering centre) or a dead-band step (motors: added in the direction of travel,
    so a small command overcomes stiction; command 0 is exactly 0). The limits bound the drive
    (value minus its neutral) whatever the gain; ``None`` means no limit beyond [-1, 1].
    ``pulses`` is a :class:`PulseRange`, or None for a duty output (then forward gives the value).
    """

    def __init__(self, gain, offset, pulses=None, forward_limit=None, reverse_limit=None, offset_is_trim=True):
        self.gain = float(gain)
        self.offset = float(offset)
        self.pulses = pulses
        self.forward_limit = None if forward_limit is None else abs(float(forward_limit))
        self.reverse_limit = None if reverse_limit is None else abs(float(reverse_limit))
        self.offset_is_trim = bool(offset_is_trim)

    def _limit(self, drive):
        if self.forward_limit is not None and drive > self.forward_limit:
            return self.forward_limit
        if self.reverse_limit is not None and drive < -self.reverse_limit:
            return -self.reverse_limit
        return drive

    def value(self, command):
        """The value sent for ``command``: gain, limits and offset applied, then clamped to [-1, 1].
        A non-finite result (a NaN command or setting) gives the neutral value: never a crash, never
        a drive."""
        if self.offset_is_trim:
            value = clip(self._limit(command * self.gain) + self.offset)
        elif command == 0.0:
            value = 0.0
        else:
            step = abs(self.offset) if command > 0 else -abs(self.offset)
            value = clip(self._limit(command * self.gain + step))
        if math.isfinite(value):
            return value
        return clip(self.offset) if self.offset_is_trim and math.isfinite(self.offset) else 0.0

    def command(self, value):
        """The command whose :meth:`value` is ``value`` (where the limits do not cut it), clamped
        to [-1, 1]; 0 when the gain is 0 (no command moves this output)."""
        if not self.gain:
            return 0.0
        if self.offset_is_trim:
            return clip((value - self.offset) / self.gain)
        if value == 0.0:
            return 0.0
        # the sign of the command decides the step's sign: try both, keep the consistent one
        for sign in (1.0, -1.0):
            command = (value - sign * abs(self.offset)) / self.gain
            if command * sign > 0:
                return clip(command)
        return 0.0

    def forward(self, command):
        """What reaches the chip for ``command``: a pulse width (us), or the signed duty of a duty output."""
        value = self.value(command)
        return self.pulses.pulse_us(value) if self.pulses is not None else value

    def inverse(self, output):
        """The command that produces ``output`` (a pulse width, or a duty): :meth:`forward` undone."""
        if not math.isfinite(output):
            return 0.0  # no reading: the neutral command
        value = self.pulses.value(output) if self.pulses is not None else clip(output)
        command = self.command(value)
        return command if math.isfinite(command) else 0.0

    @property
    def neutral(self):
        """The output at command 0 (the ESC's stop pulse, the steering centre, or duty 0)."""
        return self.forward(0.0)

    def __repr__(self):
        return "OutputMapping(gain=%g, offset=%g, pulses=%r, limits=(%r, %r))" % (
            self.gain, self.offset, self.pulses, self.forward_limit, self.reverse_limit)


class ActuatorMapping:
    """Steering and throttle of one car: ``mapping.steering`` and ``mapping.throttle`` are
    :class:`OutputMapping` objects; ``throttle_output`` says what the throttle's output is
    ("esc": a pulse width in us; "duty": a signed motor duty in [-1, 1])."""

    def __init__(self, car_type, steering, throttle):
        if car_type not in CAR_TYPES:
            raise ValueError("car type must be one of %s, got %r" % (", ".join(CAR_TYPES), car_type))
        self.car_type = car_type
        self.steering = steering
        self.throttle = throttle

    @property
    def throttle_output(self):
        return CAR_TYPES[self.car_type]

    @classmethod
    def from_settings(cls, car):
        """The mapping a profile's ``[car]`` section (or any dict with its key names) describes.
        The car's traits carry the same names, so a car builds its mapping with this too."""
        car_type = car["type"]
        steering = OutputMapping(car["steering_gain"], car["steering_offset"],
                                 PulseRange(car["steering_min_pulse_us"], car["steering_max_pulse_us"]))
        limits = dict(forward_limit=car["throttle_forward_limit"], reverse_limit=car["throttle_reverse_limit"])
        if CAR_TYPES.get(car_type) == "esc":
            throttle = OutputMapping(car["throttle_gain"], car["throttle_offset"],
                                     PulseRange(car["throttle_min_pulse_us"], car["throttle_max_pulse_us"]), **limits)
        else:
            throttle = OutputMapping(car["throttle_gain"], car["throttle_offset"], None, offset_is_trim=False,
                                     **limits)
        return cls(car_type, steering, throttle)

    def forward(self, steering, throttle):
        """``(steering output, throttle output)`` for a pair of commands."""
        return self.steering.forward(steering), self.throttle.forward(throttle)

    def inverse(self, steering_output, throttle_output):
        """``(steering, throttle)`` commands that produce the two outputs."""
        return self.steering.inverse(steering_output), self.throttle.inverse(throttle_output)

    def __repr__(self):
        return "ActuatorMapping(%r, steering=%r, throttle=%r)" % (self.car_type, self.steering, self.throttle)
