"""Gamepads on Linux input event nodes: discovery, reading with hot-plug, keep-alive siblings.

``evdev`` is used only for what needs ioctls (name, capabilities, axis ranges, held keys);
the events themselves are read as raw bytes from the node and decoded by
:mod:`jetracer.teleop.events`, the code tests feed recorded streams through.
"""

import errno
import glob
import logging
import os
import re
import select
import time

from ..errors import HardwareError, JetracerError
from .codes import ABS, EV_ABS, EV_KEY
from .events import KEEPALIVE, AxisInfo, EventDecoder, PadStatus, decode_bytes

__all__ = ["InputDeviceInfo", "scan_input_devices", "find_pad", "open_pad", "FdPad", "EvdevPad", "ReplayPad",
           "GamepadReader", "PadNotFound", "same_pad", "motion_siblings", "describe_pad"]

log = logging.getLogger(__name__)

INPUT_PROP_ACCELEROMETER = 0x06
_GAMEPAD_KEYS = range(0x130, 0x13F)
_JOYSTICK_KEYS = range(0x120, 0x130)
_GONE_ERRNOS = (errno.ENODEV, errno.EIO, errno.EBADF, errno.ENXIO)
#: a Bluetooth HID device's phys is its adapter's address, shared by every pad paired to it
_BT_ADDRESS = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$", re.IGNORECASE)


class PadNotFound(HardwareError):
    """No gamepad matching the request is visible (yet)."""


def _evdev():
    try:
        import evdev
    except ImportError:
        raise JetracerError("python evdev is not installed, needed to read a gamepad: "
                            "pip install evdev (or pip install 'jetracer[gamepad]')") from None
    return evdev


class InputDeviceInfo:
    """What discovery learned about one /dev/input/eventN node."""

    def __init__(self, path, name="", phys="", uniq="", axes=(), keys=(), props=(), error=""):
        self.path, self.name, self.phys, self.uniq = path, name, phys, uniq
        self.axes, self.keys, self.props, self.error = set(axes), set(keys), set(props), error

    @property
    def score(self):
        """> 0 for a gamepad: two sticks' worth of axes and gamepad- or joystick-class buttons;
        accelerometers (the motion-sensor siblings of Sony pads) never count."""
        if self.error or INPUT_PROP_ACCELEROMETER in self.props:
            return 0
        if ABS["ABS_X"] not in self.axes or ABS["ABS_Y"] not in self.axes:
            return 0
        if self.keys & set(_GAMEPAD_KEYS):
            return 3 if ABS["ABS_RX"] in self.axes or ABS["ABS_Z"] in self.axes else 2
        if self.keys & set(_JOYSTICK_KEYS):
            return 1
        return 0

    @property
    def is_motion_node(self):
        return not self.error and INPUT_PROP_ACCELEROMETER in self.props

    def describe(self):
        return "%s (%s)" % (self.name or "?", self.path) if not self.error else "%s (%s)" % (self.path, self.error)

    def __repr__(self):
        return "InputDeviceInfo(%r, %r, score=%d)" % (self.path, self.name, self.score)


def scan_input_devices(pattern="/dev/input/event*"):
    """Every event node, readable or not (the error says why), with its capabilities."""
    found = []
    paths = sorted(glob.glob(pattern), key=lambda p: (len(p), p))
    if not paths:
        return found
    evdev = _evdev()
    for path in paths:
        try:
            dev = evdev.InputDevice(path)
        except PermissionError:
            found.append(InputDeviceInfo(path, error="no permission"))
            continue
        except OSError as exc:
            found.append(InputDeviceInfo(path, error=exc.strerror or str(exc)))
            continue
        try:
            caps = dev.capabilities(absinfo=False)
            props = dev.input_props() if hasattr(dev, "input_props") else []
            found.append(InputDeviceInfo(path, dev.name, dev.phys or "", dev.uniq or "", caps.get(EV_ABS, []),
                                         caps.get(EV_KEY, []), props))
        finally:
            dev.close()
    return found


def same_pad(a, b):
    """Whether two event nodes belong to one physical pad (a Sony pad's gamepad, motion and
    touchpad nodes). ``uniq`` (the pad's own address, set by hid-sony/hid-playstation over USB
    and Bluetooth) decides when either has one. Only without it is ``phys`` used, and never a
    Bluetooth adapter's address: every pad paired to that adapter shares it, and two pads would
    keep each other's dead-man alive."""
    if a.uniq or b.uniq:
        return a.uniq.lower() == b.uniq.lower()
    phys_a, phys_b = a.phys.split("/")[0], b.phys.split("/")[0]
    return bool(phys_a) and phys_a == phys_b and not _BT_ADDRESS.match(phys_a)


def motion_siblings(info, devices):
    """The motion-sensor nodes ("... Motion Sensors", INPUT_PROP_ACCELEROMETER) of pad ``info``."""
    return [d for d in devices if d.path != info.path and d.is_motion_node and same_pad(info, d)]


def describe_pad(info, devices):
    """``(mapping, motion)`` for ``jetracer teleop --list``: the mapping (layout) chosen from the
    device's name and capabilities, and where its motion data arrives."""
    from .mapping import select_mapping

    mapping = select_mapping(info.name, axes=info.axes, keys=info.keys)
    siblings = motion_siblings(info, devices)
    if siblings:
        motion = "motion on " + ", ".join(d.path for d in siblings)
    elif ABS["ABS_MISC"] in info.axes:
        motion = "motion on this node (ABS_MISC)"
    else:
        motion = "no motion node"
    return mapping, motion


def find_pad(spec="", devices=None):
    """The input device to drive with: ``spec`` a /dev/input path, or part of a device name (or a
    regular expression), or empty for the best gamepad. Raises :class:`PadNotFound` with the
    devices seen and the fix."""
    import re

    devices = scan_input_devices() if devices is None else devices
    if spec and (spec.startswith("/") or os.path.exists(spec)):
        real = os.path.realpath(spec)
        for dev in devices:
            if os.path.realpath(dev.path) == real and not dev.error:
                return dev
        raise PadNotFound(_not_found_message("no readable input device at %s" % spec, devices))
    pads = sorted((d for d in devices if d.score > 0), key=lambda d: -d.score)
    if spec:
        try:
            rx = re.compile(spec, re.IGNORECASE)
        except re.error:
            rx = re.compile(re.escape(spec), re.IGNORECASE)
        named = [d for d in pads if rx.search(d.name)] or [d for d in devices if not d.error and rx.search(d.name)]
        if named:
            return named[0]
        raise PadNotFound(_not_found_message("no input device named like %r" % spec, devices))
    if pads:
        return pads[0]
    raise PadNotFound(_not_found_message("no gamepad found", devices))


def _not_found_message(what, devices):
    seen = ", ".join(d.describe() for d in devices) or "none"
    fix = "plug the pad in or pair it (bluetoothctl), or pass --device"
    if any(d.error == "no permission" for d in devices):
        fix += "; some devices are not readable: add yourself to the input group (sudo usermod -aG input $USER, " \
               "then log in again)"
    else:
        fix += "; if it is plugged in, your user needs the input group (sudo usermod -aG input $USER)"
    return "%s (input devices seen: %s): %s" % (what, seen, fix)


class FdPad:
    """A pad read from a file descriptor of kernel-format events (an evdev node, or a pipe in
    tests). ``read(timeout)`` returns decoded events, :data:`KEEPALIVE` for activity on sibling
    descriptors, and raises ``OSError`` when the pad is gone."""

    def __init__(self, fd, name="", path="", axes=None, keys=(), sibling_fds=(), supported=None):
        self.fd, self.name, self.path = fd, name, path
        self.axes, self.keys = dict(axes or {}), frozenset(keys)
        self.supported = None if supported is None else frozenset(supported)
        self.sibling_fds = list(sibling_fds)
        self._decoder = EventDecoder()

    def status(self):
        """A fresh connection snapshot (ranges, current values, held keys, key capabilities)."""
        return PadStatus.up(self.name, self.axes, self.keys, self.path, supported=self.supported)

    def read(self, timeout):
        fds = [self.fd] + self.sibling_fds
        ready, _, _ = select.select(fds, [], [], max(0.0, timeout))
        out = []
        for fd in ready:
            try:
                data = os.read(fd, 64 * 24)
            except BlockingIOError:
                continue
            if fd != self.fd:
                if data:
                    out.append(KEEPALIVE)
                else:
                    self.sibling_fds.remove(fd)
                continue
            if not data:
                raise OSError(errno.ENODEV, "No such device (end of stream)")
            out.extend(self._decoder.feed(data))
        return out

    def close(self):
        for fd in [self.fd] + self.sibling_fds:
            try:
                os.close(fd)
            except OSError:
                pass


class EvdevPad(FdPad):
    """A live pad on /dev/input/eventN, plus its keep-alive siblings (:func:`motion_siblings`:
    e.g. a DualSense's "Motion Sensors" node, which reports continuously while the pad is on)."""

    def __init__(self, info, devices=()):
        evdev = _evdev()
        self.device = evdev.InputDevice(info.path)
        siblings = []
        for other in motion_siblings(info, devices):
            try:
                siblings.append(os.open(other.path, os.O_RDONLY | os.O_NONBLOCK))
            except OSError:
                pass
        super().__init__(self.device.fd, self.device.name, info.path, sibling_fds=siblings,
                         supported=self.device.capabilities(absinfo=False).get(EV_KEY, ()))
        self._refresh()

    def _refresh(self):
        caps = self.device.capabilities(absinfo=True)
        self.axes = {code: AxisInfo.from_evdev(absinfo) for code, absinfo in caps.get(EV_ABS, [])}
        self.keys = frozenset(self.device.active_keys())

    def status(self):
        self._refresh()
        return super().status()

    def close(self):
        fds, self.sibling_fds = self.sibling_fds, []
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.device.close()
        except OSError:
            pass


class ReplayPad:
    """Events recorded from an event node (``cat /dev/input/eventN > drive.bin``) replayed at
    their recorded pace; the end of the file is a lost pad, for good (``one_shot``). Axis ranges
    come from the mapping."""

    one_shot = True

    def __init__(self, path, name="replay", clock=time.monotonic, sleep=time.sleep):
        with open(path, "rb") as f:
            self.events = decode_bytes(f.read())
        self.name, self.path, self.axes, self.keys = name, str(path), {}, frozenset()
        self.clock, self.sleep = clock, sleep
        self._start = None
        self._i = 0

    def status(self):
        return PadStatus.up(self.name, self.axes, self.keys, self.path)

    def read(self, timeout):
        if self._start is None:
            self._start = self.clock()
        if self._i >= len(self.events):
            raise OSError(errno.ENODEV, "end of recording")
        t0 = self.events[0].timestamp
        due = self._start + self.events[self._i].timestamp - t0
        wait = due - self.clock()
        if wait > timeout:
            self.sleep(max(0.0, timeout))
            return []
        if wait > 0:
            self.sleep(wait)
        out = []
        now = self.clock()
        while self._i < len(self.events) and self._start + self.events[self._i].timestamp - t0 <= now:
            out.append(self.events[self._i])
            self._i += 1
        return out

    def close(self):
        pass


def open_pad(spec="", clock=time.monotonic):
    """Open the pad ``spec`` names (see :func:`find_pad`); a regular file replays a recording."""
    if spec and os.path.isfile(spec):
        return ReplayPad(spec, clock=clock)
    devices = scan_input_devices()
    info = find_pad(spec, devices)
    return EvdevPad(info, devices)


class GamepadReader:
    """Reads one pad and survives it coming and going.

    ``poll(timeout)`` returns a list of items for :meth:`TeleopController.handle`: a
    :class:`PadStatus` when the pad appears, disappears or needs a resync, then its events.
    While the pad is missing it retries ``opener(spec)`` with a backoff from ``backoff_s`` up
    to ``max_backoff_s``.
    """

    def __init__(self, spec="", opener=None, clock=time.monotonic, sleep=time.sleep, backoff_s=0.25,
                 max_backoff_s=2.0):
        self.spec = spec
        self.opener = opener or (lambda s: open_pad(s, clock=clock))
        self.clock, self.sleep = clock, sleep
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.pad = None
        self.finished = False  #: a one-shot source (a replay) ended: nothing to reconnect to
        self.last_error = ""
        self._delay = backoff_s
        self._next_try = clock()

    @property
    def connected(self):
        return self.pad is not None

    def open(self):
        """Open now; raises :class:`PadNotFound` (with the devices seen) when there is none."""
        self.pad = self.opener(self.spec)
        self._delay = self.backoff_s
        return self.pad.status()

    def poll(self, timeout=0.02):
        if self.pad is None:
            return self._reconnect(timeout)
        try:
            events = self.pad.read(timeout)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            name = self.pad.name
            self._drop()
            return [PadStatus.down(reason, name=name)]
        if any(getattr(e, "type", None) == 0 and e.code == 3 for e in events):  # SYN_DROPPED
            events.append(self.pad.status())  # the kernel lost events: take a fresh snapshot
        return events

    def _reconnect(self, timeout):
        if self.finished:
            self.sleep(timeout)
            return []
        now = self.clock()
        if now < self._next_try:
            self.sleep(min(timeout, self._next_try - now))
            return []
        try:
            status = self.open()
        except (PadNotFound, OSError) as exc:
            self.last_error = str(exc)
            self._next_try = self.clock() + self._delay
            self._delay = min(self.max_backoff_s, self._delay * 2)
            return []
        log.info("pad connected: %s", status.name)
        return [status]

    def _drop(self):
        self.finished = bool(getattr(self.pad, "one_shot", False))
        try:
            self.pad.close()
        finally:
            self.pad = None
            self._delay = self.backoff_s
            self._next_try = self.clock() + self.backoff_s

    def close(self):
        if self.pad is not None:
            self._drop()
