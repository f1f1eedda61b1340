"""The car: steering and throttle in [-1, 1] as traitlets, turned into PWM on a PCA9685.

The API is JetRacer's (``NvidiaRacecar``, ``steering``, ``throttle``, ``steering_gain``,
``steering_offset``, ``throttle_gain``) so notebooks written for it run unchanged. What differs is
what can go wrong: every value is clamped after gain and offset (JetRacer raises ``ValueError``
from the servo driver mid-drive when gain + offset exceeds 1), NaN/inf is refused and forces the
throttle to neutral, and the outputs go neutral on construction, ``close()``, context exit and
interpreter exit.

Command to pulse is one object, :class:`~jetracer.drive.actuator.ActuatorMapping` (``car.actuator``),
the same one the simulator's experts invert and ``jetracer calibrate`` reads the ESC neutral from.
A car built without a profile takes the profile schema's ``[car]`` defaults.
"""

import atexit
import logging
import math
import weakref

import traitlets

from .drive.actuator import ActuatorMapping, PulseRange
from .drive.actuator import clip as _clip
from .i2c import DRIVER_LOCK, probe, resolve_bus
from .profile import SCHEMA, default

__all__ = ["Racecar", "NvidiaRacecar", "WaveshareRacecar", "CAR_CLASSES", "car_from_settings", "neutral_all_cars",
           "read_pulse_us"]

log = logging.getLogger(__name__)

_LIVE_CARS = weakref.WeakSet()


def neutral_all_cars():
    """Put every car object in this process at neutral (used at exit and by signal handlers)."""
    for car in list(_LIVE_CARS):
        try:
            car.neutral()
        except Exception as exc:  # noqa: BLE001 - best effort on the way out, keep going
            log.error("could not write neutral to %r: %s", car, exc)


atexit.register(neutral_all_cars)


def _car(key):
    """The profile schema's ``[car]`` default: a car built without a profile is the default profile's."""
    return default("car", key)


class Racecar(traitlets.HasTraits):
    """A car commanded by ``steering`` and ``throttle`` in [-1, 1]; subclasses drive hardware.

    Positive steering turns right (the image x axis), positive throttle drives forward.
    Out-of-range values are clipped; non-finite values raise ``traitlets.TraitError`` and,
    for throttle, leave the car at neutral throttle.
    """

    steering = traitlets.Float(0.0)
    throttle = traitlets.Float(0.0)
    _actuator = None  # the ActuatorMapping the settings describe; None: rebuild at the next write

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._closed = False
        _LIVE_CARS.add(self)

    @traitlets.validate("steering")
    def _check_steering(self, proposal):
        value = float(proposal["value"])
        if not math.isfinite(value):
            raise traitlets.TraitError("steering must be a finite number, got %r; command ignored" % value)
        return _clip(value)

    @traitlets.validate("throttle")
    def _check_throttle(self, proposal):
        value = float(proposal["value"])
        if not math.isfinite(value):
            self.throttle = 0.0
            raise traitlets.TraitError("throttle must be a finite number, got %r; throttle set to 0 (neutral)" % value)
        return _clip(value)

    def stop(self):
        """Neutral throttle; steering stays where it is."""
        self.throttle = 0.0

    def neutral(self):
        """Neutral throttle and centred steering, written to the hardware even if unchanged."""
        with self.hold_trait_notifications():
            self.set_trait("throttle", 0.0)
            self.set_trait("steering", 0.0)
        self._apply()

    def _apply(self):
        """Write the current commands to the hardware (subclasses)."""

    def apply(self):
        """Write the current commands again, even if unchanged: after an I2C error the trait holds
        the new value while the chip may still hold the old pulse."""
        self._apply()

    def close(self):
        """Neutral outputs, then release the hardware. Safe to call twice."""
        if self._closed:
            return
        try:
            self.neutral()
        finally:
            self._closed = True
            _LIVE_CARS.discard(self)
            self._release()

    def _release(self):
        """Release what the car opened itself (subclasses)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _forget_mapping(car, change):
    """A setting changed (anything but the two commands): the next write rebuilds the mapping."""
    if change["name"] not in ("steering", "throttle"):
        car._actuator = None


def _make_pca(i2c, address, frequency, bus_name):
    from adafruit_pca9685 import PCA9685

    probe(i2c, address, "PCA9685 PWM board", bus_name)
    with DRIVER_LOCK:
        pca = PCA9685(i2c, address=address)
        pca.frequency = frequency
    return pca


class _PwmCar(Racecar):
    """Common parts of cars whose steering servo sits on a PCA9685 channel."""

    _owns_bus = False

    def _release(self):
        if self._owns_bus and hasattr(self.i2c, "deinit"):
            self.i2c.deinit()  # a bus we opened from a number; a bus object passed in stays the caller's

    #: the car type these classes drive (a profile's ``[car] type``): picks the throttle mapping
    car_type = "nvidia"

    i2c_address = traitlets.Int(_car("i2c_address"))
    steering_channel = traitlets.Int(_car("steering_channel"))
    steering_gain = traitlets.Float(_car("steering_gain"))
    steering_offset = traitlets.Float(_car("steering_offset"))
    throttle_gain = traitlets.Float(_car("throttle_gain"))
    throttle_offset = traitlets.Float(_car("throttle_offset"))
    throttle_forward_limit = traitlets.Float(_car("throttle_forward_limit"),
                                             help="largest forward drive sent to the ESC (after the gain)")
    throttle_reverse_limit = traitlets.Float(_car("throttle_reverse_limit"),
                                             help="largest reverse drive sent to the ESC (magnitude)")
    pwm_frequency = traitlets.Float(_car("pwm_frequency"))
    steering_min_pulse_us = traitlets.Float(_car("steering_min_pulse_us"))
    steering_max_pulse_us = traitlets.Float(_car("steering_max_pulse_us"))

    def settings(self):
        """The car's settings now, under the profile's ``[car]`` key names (``type`` included): the
        traits carry those names, so this is what a profile for this car would say."""
        names = (name for name in self.trait_names() if name in SCHEMA["car"])
        return dict({name: getattr(self, name) for name in names}, type=self.car_type)

    @property
    def actuator(self):
        """The :class:`~jetracer.drive.actuator.ActuatorMapping` the current traits describe. Kept
        between writes (it is on the control path every frame) and rebuilt after any setting changes:
        a notebook slider or ``jetracer calibrate`` changes the traits live."""
        mapping = self._actuator
        if mapping is None:
            mapping = self._actuator = ActuatorMapping.from_settings(self.settings())
        return mapping

    @traitlets.observe(traitlets.All)
    def _setting_changed(self, change):
        _forget_mapping(self, change)

    def steering_value(self):
        """The servo value actually sent for steering: gain and offset applied, then clamped."""
        return self.actuator.steering.value(self.steering)

    def throttle_value(self):
        """The throttle output's value: gain, the forward/reverse limits and the offset, clamped
        (the ESC's servo value, or the motors' signed duty)."""
        return self.actuator.throttle.value(self.throttle)

    @traitlets.observe("steering", "steering_gain", "steering_offset")
    def _steering_changed(self, change):
        _forget_mapping(self, change)  # before the write, whichever observer traitlets calls first
        if getattr(self, "_ready", False):
            with DRIVER_LOCK:
                self.steering_motor.throttle = self.steering_value()

    @traitlets.observe("throttle", "throttle_gain", "throttle_offset", "throttle_forward_limit",
                       "throttle_reverse_limit")
    def _throttle_changed(self, change):
        _forget_mapping(self, change)
        if getattr(self, "_ready", False):
            self._write_throttle()

    def _apply(self):
        if not getattr(self, "_ready", False):
            return
        with DRIVER_LOCK:
            self.steering_motor.throttle = self.steering_value()
        self._write_throttle()


def read_pulse_us(pca, channel):
    """Read a channel's pulse width back from the chip's registers (what the servo sees now)."""
    with DRIVER_LOCK:
        on, off = pca.pwm_regs[channel]
        frequency = pca.frequency
    if off & 0x1000:
        return 0.0
    if on & 0x1000:
        return 1e6 / frequency
    return ((off - on) % 4096) * 1e6 / frequency / 4096.0


class PulseOutput:
    """One PCA9685 channel driven like Adafruit's ``ContinuousServo`` (-1 -> ``min_pulse_us``,
    +1 -> ``max_pulse_us``, linear: :class:`~jetracer.drive.actuator.PulseRange`), but rounded to
    the nearest 12-bit tick instead of truncated twice, and never raising: the value is clamped to
    [-1, 1] first."""

    def __init__(self, pwm_channel, min_pulse_us, max_pulse_us):
        self._channel = pwm_channel
        self.set_pulse_width_range(min_pulse_us, max_pulse_us)

    def set_pulse_width_range(self, min_pulse_us, max_pulse_us):
        self.pulses = PulseRange(min_pulse_us, max_pulse_us)
        self.min_pulse_us, self.max_pulse_us = self.pulses.min_us, self.pulses.max_us
        self._tick_us = 1e6 / self._channel.frequency / 4096.0

    def pulse_us_for(self, value):
        return self.pulses.pulse_us(value)

    @property
    def throttle(self):
        return self._value

    @throttle.setter
    def throttle(self, value):
        self._value = _clip(value)
        ticks = int(round(self.pulse_us_for(value) / self._tick_us))
        self._channel.duty_cycle = max(0x10, min(0xFFF0, ticks << 4))  # the driver keeps the top 12 bits


def _servo(pca, channel, min_us, max_us):
    return PulseOutput(pca.channels[channel], min_us, max_us)


class NvidiaRacecar(_PwmCar):
    """NVIDIA JetRacer layout: steering servo and ESC on one PCA9685 (default 0x40, ch 0 and 1).

    ``i2c`` is any busio-compatible bus (the simulator passes a virtual one) or a bus number;
    with neither, the board's default bus is opened. Extra keyword arguments set traits.
    """

    throttle_channel = traitlets.Int(_car("throttle_channel"))
    throttle_min_pulse_us = traitlets.Float(_car("throttle_min_pulse_us"))
    throttle_max_pulse_us = traitlets.Float(_car("throttle_max_pulse_us"))

    def __init__(self, i2c=None, i2c_bus=None, **kwargs):
        super().__init__(**kwargs)
        self._ready = False
        self._owns_bus = i2c is None or isinstance(i2c, int)
        self.i2c, bus_name = resolve_bus(i2c, i2c_bus)
        self.pca = _make_pca(self.i2c, self.i2c_address, self.pwm_frequency, bus_name)
        with DRIVER_LOCK:
            self.steering_motor = _servo(self.pca, self.steering_channel, self.steering_min_pulse_us,
                                         self.steering_max_pulse_us)
            self.throttle_motor = _servo(self.pca, self.throttle_channel, self.throttle_min_pulse_us,
                                         self.throttle_max_pulse_us)
        self._ready = True
        self.neutral()  # ESCs arm on a neutral pulse; never start with a stale one

    def pulse_widths_us(self):
        """Steering and ESC pulse widths read back from the PCA9685 (for metrics and checks)."""
        return {"steering": round(read_pulse_us(self.pca, self.steering_channel), 2),
                "throttle": round(read_pulse_us(self.pca, self.throttle_channel), 2)}

    def neutral_outputs(self):
        """``(address, channel, pulse_us)`` that stop the car: the ESC's pulse at throttle 0. For the
        watchdogs, which write it over their own bus handle."""
        return [(self.i2c_address, self.throttle_channel, self.actuator.throttle.neutral)]

    def _write_throttle(self):
        with DRIVER_LOCK:
            self.throttle_motor.throttle = self.throttle_value()

    @traitlets.observe("steering_min_pulse_us", "steering_max_pulse_us", "throttle_min_pulse_us",
                       "throttle_max_pulse_us")
    def _pulse_range_changed(self, change):
        _forget_mapping(self, change)
        if getattr(self, "_ready", False):
            with DRIVER_LOCK:
                self.steering_motor.set_pulse_width_range(self.steering_min_pulse_us, self.steering_max_pulse_us)
                self.throttle_motor.set_pulse_width_range(self.throttle_min_pulse_us, self.throttle_max_pulse_us)
            self._apply()


#: Waveshare JetRacer AI kit motor board: which PCA9685 channels carry what, per direction.
#: "duty" channels get the speed PWM, the others are held high (1) or low (0) to set the H-bridges.
WAVESHARE_FORWARD = {0: "duty", 1: 1, 2: 0, 3: 0, 4: "duty", 5: 0, 6: 1, 7: "duty"}
WAVESHARE_REVERSE = {0: "duty", 1: 0, 2: 1, 3: "duty", 4: 0, 5: 1, 6: 0, 7: "duty"}


class WaveshareRacecar(_PwmCar):
    """Waveshare JetRacer AI kit: steering servo on the PCA9685 at 0x40 (channel 0), two drive
    motors through H-bridges fed by a second PCA9685 at 0x60 running at 1600 Hz."""

    car_type = "waveshare"

    motor_i2c_address = traitlets.Int(_car("motor_i2c_address"))
    motor_pwm_frequency = traitlets.Float(_car("motor_pwm_frequency"))

    def __init__(self, i2c=None, i2c_bus=None, **kwargs):
        super().__init__(**kwargs)
        self._ready = False
        self._owns_bus = i2c is None or isinstance(i2c, int)
        self.i2c, bus_name = resolve_bus(i2c, i2c_bus)
        self.pca = _make_pca(self.i2c, self.i2c_address, self.pwm_frequency, bus_name)
        self.motor_pca = _make_pca(self.i2c, self.motor_i2c_address, self.motor_pwm_frequency, bus_name)
        with DRIVER_LOCK:
            self.steering_motor = _servo(self.pca, self.steering_channel, self.steering_min_pulse_us,
                                         self.steering_max_pulse_us)
        self._ready = True
        self.neutral()

    def neutral_outputs(self):
        """Every H-bridge channel of the motor board fully off (``None``): the motors coast."""
        return [(self.motor_i2c_address, ch, None) for ch in sorted(WAVESHARE_FORWARD)]

    def pulse_widths_us(self):
        """Steering pulse width and signed motor duty (fraction) read back from the boards."""
        duty = read_pulse_us(self.motor_pca, 0) * self.motor_pca.frequency / 1e6
        direction = -1.0 if read_pulse_us(self.motor_pca, 2) > 0 else 1.0
        return {"steering": round(read_pulse_us(self.pca, self.steering_channel), 2),
                "throttle_duty": round(direction * duty, 4)}

    def _motor_levels(self):
        """16-bit duty per motor channel for the current throttle (all low at zero)."""
        value = self.throttle_value()
        if value == 0.0:
            return {ch: 0 for ch in range(8)}
        duty = int(round(abs(value) * 0xFFFF))
        pattern = WAVESHARE_FORWARD if value > 0 else WAVESHARE_REVERSE
        return {ch: duty if level == "duty" else (0xFFFF if level else 0) for ch, level in pattern.items()}

    def _write_throttle(self):
        with DRIVER_LOCK:
            for ch, duty in self._motor_levels().items():
                self.motor_pca.channels[ch].duty_cycle = duty


#: ``[car] type`` -> the class that drives it (the one place the car type picks a class)
CAR_CLASSES = {"nvidia": NvidiaRacecar, "waveshare": WaveshareRacecar}


def car_from_settings(car, i2c=None):
    """The car a profile's ``[car]`` section describes, on ``i2c`` (a bus object) or the section's
    bus number. Every setting the class has a trait for is passed; the rest are not the car's."""
    cls = CAR_CLASSES.get(car["type"])
    if cls is None:
        raise ValueError("[car] type must be one of %s, got %r" % (", ".join(CAR_CLASSES), car["type"]))
    traits = {name: car[name] for name in cls.class_trait_names() if name in car}
    return cls(i2c=i2c if i2c is not None else car["i2c_bus"], **traits)
