"""Shared pieces for the teleop tests: recorded pad streams and a car on the emulated chip."""

from helpers import FakeClock  # noqa: F401 - re-exported for the teleop tests

from jetracer.i2c import PCA9685Twin, VirtualI2C
from jetracer.racecar import NvidiaRacecar
from jetracer.teleop.codes import ABS, EV_ABS, EV_KEY, EV_SYN, KEYS, SYN_REPORT
from jetracer.teleop.events import AxisInfo, PadStatus, encode_event

#: axis ranges as the drivers declare them (EVIOCGABS), value = rest position
XPAD_ONE_AXES = {ABS["ABS_X"]: AxisInfo(-32768, 32767, 128, 16, 0), ABS["ABS_Y"]: AxisInfo(-32768, 32767, 128, 16, 0),
                 ABS["ABS_RX"]: AxisInfo(-32768, 32767, 128, 16, 0), ABS["ABS_RY"]: AxisInfo(-32768, 32767, 128, 16, 0),
                 ABS["ABS_Z"]: AxisInfo(0, 1023, 0, 0, 0), ABS["ABS_RZ"]: AxisInfo(0, 1023, 0, 0, 0),
                 ABS["ABS_HAT0X"]: AxisInfo(-1, 1, 0, 0, 0), ABS["ABS_HAT0Y"]: AxisInfo(-1, 1, 0, 0, 0)}
DS4_AXES = {code: AxisInfo(0, 255, 0, 0, 128 if name in ("ABS_X", "ABS_Y", "ABS_RX", "ABS_RY") else 0)
            for name, code in ABS.items() if name in ("ABS_X", "ABS_Y", "ABS_RX", "ABS_RY", "ABS_Z", "ABS_RZ")}
DS4_AXES.update({ABS["ABS_HAT0X"]: AxisInfo(-1, 1, 0, 0, 0), ABS["ABS_HAT0Y"]: AxisInfo(-1, 1, 0, 0, 0)})
F710D_AXES = {ABS[n]: AxisInfo(0, 255, 15, 0, 128) for n in ("ABS_X", "ABS_Y", "ABS_Z", "ABS_RZ")}

XBOX_NAME = "Microsoft X-Box One pad"
DS4_NAME = "Sony Interactive Entertainment Wireless Controller"


class Stream:
    """Builds a pad's event stream report by report, as ``(type, code, value, timestamp)``."""

    def __init__(self, t0=1700000000.0):
        self.t = t0
        self.events = []

    def report(self, *changes, dt=0.01):
        """One report: changes like ("ABS_X", 32767) or ("BTN_B", 1), then SYN_REPORT."""
        self.t += dt
        for name, value in changes:
            if name in ABS:
                self.events.append((EV_ABS, ABS[name], value, self.t))
            else:
                self.events.append((EV_KEY, KEYS[name], value, self.t))
        self.events.append((EV_SYN, SYN_REPORT, 0, self.t))
        return self

    def kernel_bytes(self):
        """The stream as /dev/input/eventN delivers it (struct input_event records)."""
        return b"".join(encode_event(t, c, v, ts) for t, c, v, ts in self.events)

    def evdev_events(self):
        from evdev import InputEvent

        return [InputEvent(int(ts), int(round((ts - int(ts)) * 1e6)), t, c, v) for t, c, v, ts in self.events]


def make_car():
    """A real NvidiaRacecar on a virtual bus with a PCA9685 twin; returns (car, twin)."""
    bus = VirtualI2C()
    twin = bus.attach(PCA9685Twin(0x40))
    return NvidiaRacecar(i2c=bus), twin


def assert_throttle_neutral(car, twin):
    """The ESC channel carries the neutral pulse (throttle 0), within one counter tick."""
    assert twin.pulse_us(car.throttle_channel) > 0
    assert abs(twin.pulse_us(car.throttle_channel) - 1500.0) <= twin.tick_us + 1e-9


def throttle_pulse(car, twin):
    return twin.pulse_us(car.throttle_channel)


def connect(name, axes):
    return PadStatus.up(name, axes)
