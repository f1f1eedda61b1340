"""Input events as the Linux kernel delivers them, decoded without the device.

``/dev/input/eventN`` yields ``struct input_event`` records: a ``struct timeval`` (seconds and
microseconds as native longs), then ``__u16 type``, ``__u16 code``, ``__s32 value``. Decoding is
kept apart from reading so recorded streams (raw bytes, or ``evdev.InputEvent`` objects) go
through exactly the code a live pad does.
"""

import collections
import struct

__all__ = ["EVENT_FORMAT", "EVENT_SIZE", "RawEvent", "EventDecoder", "decode_bytes", "encode_event",
           "from_evdev", "AxisInfo", "PadStatus", "KEEPALIVE"]

EVENT_FORMAT = "llHHi"  # native sizes and alignment: 24 bytes on 64-bit Linux (the Jetson)
EVENT_SIZE = struct.calcsize(EVENT_FORMAT)


class RawEvent(collections.namedtuple("RawEvent", "sec usec type code value")):
    """One input event; ``timestamp`` is the kernel's clock in seconds."""

    __slots__ = ()

    @property
    def timestamp(self):
        return self.sec + self.usec * 1e-6


def encode_event(ev_type, code, value, timestamp=0.0):
    """The bytes the kernel would write for this event (used to record and to build test streams)."""
    sec = int(timestamp)
    return struct.pack(EVENT_FORMAT, sec, int(round((timestamp - sec) * 1e6)), ev_type, code, value)


class EventDecoder:
    """Turns a byte stream into :class:`RawEvent` records, keeping a partial record between reads
    (a ``read()`` on a pipe or a file can stop mid-record; one on an evdev node never does)."""

    def __init__(self):
        self._pending = b""

    def feed(self, data):
        data = self._pending + bytes(data)
        whole = len(data) - len(data) % EVENT_SIZE
        self._pending = data[whole:]
        return [RawEvent(*fields) for fields in struct.iter_unpack(EVENT_FORMAT, data[:whole])]


def decode_bytes(data):
    """All whole events in ``data`` (a trailing partial record is ignored)."""
    return EventDecoder().feed(data)


def from_evdev(event):
    """A :class:`RawEvent` from an ``evdev.InputEvent`` (or anything with the same attributes)."""
    return RawEvent(int(event.sec), int(event.usec), int(event.type), int(event.code), int(event.value))


class AxisInfo(collections.namedtuple("AxisInfo", "min max flat fuzz value")):
    """An axis' range as the driver declares it (``EVIOCGABS``; evdev's ``AbsInfo``).

    ``normalize`` maps a raw value to [-1, 1] for a centred axis (stick, hat) or [0, 1] for a
    one-sided one (trigger, resting at ``min``). Values within ``max(flat, fuzz)`` of the rest
    position read as exactly 0: ``flat`` is the driver's dead zone, and ``fuzz`` its noise
    level, so a pad at rest never reads as a small throttle that keeps the dead-man armed.
    The range beyond the dead band is rescaled so full travel still reads 1.
    """

    __slots__ = ()

    @classmethod
    def from_evdev(cls, absinfo):
        return cls(int(absinfo.min), int(absinfo.max), int(absinfo.flat), int(absinfo.fuzz), int(absinfo.value))

    def normalize(self, raw, one_sided=False):
        low, high = float(self.min), float(self.max)
        if high <= low:
            return 0.0
        band = float(max(self.flat, self.fuzz, 0))
        if one_sided:
            span = high - low - band
            out = (raw - low - band) / span if span > 0 else 0.0
            return min(1.0, max(0.0, out))
        centre = (low + high) / 2.0
        half = (high - low) / 2.0 - band
        offset = raw - centre
        if abs(offset) <= band or half <= 0:
            return 0.0
        out = (abs(offset) - band) / half
        out = min(1.0, out)
        return out if offset > 0 else -out


class PadStatus(collections.namedtuple("PadStatus", "connected name path axes keys reason supported")):
    """Connection news from a pad reader, in the same stream as its events.

    ``connected`` True: the pad's ``name``, ``path``, ``axes`` ({code: AxisInfo}, with current
    values), ``keys`` (codes held down now) and ``supported`` (every key code the device can
    report, EVIOCGBIT; None when unknown, as for a replay): the layout of a pad is told from
    its capabilities, not only its name. Also sent after the kernel dropped events
    (``SYN_DROPPED``) to resynchronise. ``connected`` False: the pad is gone, with a ``reason``.
    """

    __slots__ = ()

    @classmethod
    def up(cls, name, axes, keys=(), path="", supported=None):
        return cls(True, name, path, dict(axes), frozenset(keys), "",
                   None if supported is None else frozenset(supported))

    @classmethod
    def down(cls, reason, name="", path=""):
        return cls(False, name, path, {}, frozenset(), reason, None)


#: an item a reader yields when the pad showed signs of life without input (e.g. the continuous
#: reports of a DualShock/DualSense "Motion Sensors" sibling device)
KEEPALIVE = "keepalive"
