"""Turns pad input into car or pilot commands, with an e-stop latch and a dead-man.

The controller is fed from any source: decoded kernel events (:meth:`TeleopController.handle`),
or ready-made :class:`~jetracer.teleop.mapping.PadInput` (:meth:`update`, used by the browser
helper). :meth:`tick` must be called regularly (the command's loop, the notebook's timer): it
is what notices silence. Time comes from an injectable ``clock``.
"""

import logging
import threading
import time

import traitlets

from ..drive.pilot import DRIVING_MODES
from .codes import EV_ABS
from .events import KEEPALIVE, PadStatus, from_evdev
from .mapping import PadInput, apply_overrides, load_mapping, select_mapping
from .state import PadState

__all__ = ["TeleopController", "MODES", "is_pilot"]

log = logging.getLogger(__name__)

#: the order the mode button cycles through (with a pilot): the pilot's driving modes
MODES = DRIVING_MODES

_IDLE = PadInput(0.0, 0.0, frozenset())

#: silence (s) that cuts the throttle of a pad with no keep-alive source: long, because such a pad
#: is silent whenever its sticks and triggers stay put
QUIET_DEADMAN_S = 5.0


def is_pilot(target):
    """A Pilot (or anything shaped like one): ``mode``, ``manual_steering``, ``manual_throttle``,
    ``estop(reason)``. Anything else is treated as a car (``steering``, ``throttle``)."""
    return all(hasattr(target, name) for name in ("mode", "manual_steering", "manual_throttle", "estop"))


class TeleopController(traitlets.HasTraits):
    """Applies a pad to ``target``: a car (commands written directly) or a pilot (the pad sets
    ``manual_steering``/``manual_throttle``, cycles ``mode`` and calls ``estop``).

    Safety rules:

    - e-stop (``estop`` binding) latches: throttle neutral (the pilot stops), and pad input is
      ignored until ``estop_release`` is pressed with the throttle released.
    - dead-man, for pads with a keep-alive source (a Sony pad's motion-sensor node, a browser's
      timestamps: something that reports while the pad is still): nothing for ``deadman_s`` while
      the pad's throttle is non-zero -> neutral throttle until the pad speaks again; and in
      ``auto``, whatever the pad's throttle, the pilot is e-stopped (nobody could stop it).
      Linux sends nothing while a held trigger stays put, so for pads without a keep-alive,
      silence is no sign of loss: a lost pad is its read error or removal (ENODEV), and only a
      much longer silence (``quiet_deadman_s``, for receivers that never report a lost link)
      cuts the throttle. ``keepalive`` True declares a source; None learns it from the first
      keep-alive after the pad connects.
    - pad lost (read error, unplugged): neutral throttle at once; in ``auto`` the pilot is
      e-stopped; after a reconnect the throttle stays neutral until the stick/trigger is
      seen released, so a stale held value never drives the car.
    """

    connected = traitlets.Bool(False)
    pad_name = traitlets.Unicode("")
    estopped = traitlets.Bool(False, help="latched e-stop from the pad")
    deadman_tripped = traitlets.Bool(False, help="throttle cut by silence or a lost pad")
    throttle_scale = traitlets.Float(0.5, help="throttle at full stick/trigger")
    recording = traitlets.Bool(False, help="toggled by the record button; the recorder follows it")
    steering = traitlets.Float(0.0, help="steering the pad commands now")
    throttle = traitlets.Float(0.0, help="throttle the pad commands now (after scale, e-stop, dead-man)")
    message = traitlets.Unicode("", help="last notable event, for status lines")

    def __init__(self, target, mapping=None, deadman_s=0.5, max_throttle=0.5, throttle_step=0.05, overrides=None,
                 clock=time.monotonic, keepalive=None, quiet_deadman_s=QUIET_DEADMAN_S):
        """``mapping``: a name, path or PadMapping; None chooses by the pad's name when it connects.
        ``overrides``: a car profile's ``[teleop]`` dict (axes, inversion, dead zone, expo)."""
        super().__init__()
        self.target = target
        self.pilot = target if is_pilot(target) else None
        self.overrides = dict(overrides or {})
        self._auto_mapping = mapping is None
        self.mapping = apply_overrides(load_mapping(mapping or "generic"), self.overrides)
        self.deadman_s = float(deadman_s)
        self.quiet_deadman_s = max(self.deadman_s, float(quiet_deadman_s))
        self._declared_keepalive = keepalive
        self.has_keepalive = bool(keepalive)
        self.throttle_step = float(throttle_step)
        self.throttle_scale = max(self.throttle_step, min(1.0, float(max_throttle)))
        self.clock = clock
        self.state = PadState()
        self._lock = threading.RLock()
        self._input = _IDLE
        self._held = frozenset()
        self._last_alive = clock()
        self._needs_rearm = True  # never drive off on a trigger already held at start

    @classmethod
    def from_profile(cls, profile, target, mapping=None, clock=time.monotonic):
        """A controller configured from a car profile's ``[teleop]`` section."""
        t = profile.teleop
        return cls(target, mapping=mapping or t["mapping"] or None, deadman_s=t["deadman_s"],
                   max_throttle=t["max_throttle"], throttle_step=t["throttle_step"], overrides=t, clock=clock)

    # -- mode ------------------------------------------------------------------------------------
    @property
    def mode(self):
        """The pilot's mode, or ``manual``/``stopped`` when driving a car directly."""
        if self.pilot is not None:
            return self.pilot.mode
        return "stopped" if self.estopped else "manual"

    # -- inputs ----------------------------------------------------------------------------------
    def handle(self, item):
        """One item from a pad reader: a RawEvent, an evdev InputEvent or a PadStatus."""
        if isinstance(item, PadStatus):
            if item.connected:
                self.connect(item)
            else:
                self.disconnect(item.reason)
            return
        if item is KEEPALIVE:
            self.keepalive()
            return
        if not isinstance(item, tuple):
            item = from_evdev(item)
        if item.type == EV_ABS and item.code in self.mapping.keepalive:
            self.keepalive()  # motion reports on the pad's own node (a DualShock 4 on a 4.9 kernel)
            return
        with self._lock:
            self._last_alive = self.clock()
            if self.state.apply(item):
                self.update(self.mapping.read(self.state))

    def handle_events(self, items):
        for item in items:
            self.handle(item)

    def keepalive(self):
        """The pad is alive though nothing changed (a heartbeat, a sibling device's reports)."""
        with self._lock:
            self._last_alive = self.clock()
            if self.connected and self._declared_keepalive is None:
                self.has_keepalive = True
            if self.deadman_tripped and not self._needs_rearm and self.connected:
                self._resume()

    def connect(self, status):
        """A pad appeared (or resynchronised): take its ranges and current values."""
        with self._lock:
            was = self.connected
            if self._auto_mapping and status.name and status.name != self.pad_name:
                self.mapping = apply_overrides(select_mapping(status.name, axes=set(status.axes) or None,
                                                              keys=status.supported),
                                               self.overrides)
            self.state.reset(status.axes, status.keys)
            for code in self.mapping.axis_codes():
                if code in self.mapping.ranges:
                    self.state.ensure_axis_info(code, self.mapping.ranges[code])
            self.pad_name = status.name or self.pad_name
            self.connected = True
            self._last_alive = self.clock()
            pad = self.mapping.read(self.state)
            self._held = pad.actions  # buttons already down do not fire
            if not was:
                self.message = "pad connected: %s (mapping %s)" % (self.pad_name, self.mapping.name)
                log.info(self.message)
            self.update(pad)

    def disconnect(self, reason="pad lost"):
        """The pad is gone: neutral throttle now; in auto the pilot is e-stopped."""
        with self._lock:
            self.connected = False
            self._needs_rearm = True
            if self._declared_keepalive is None:
                self.has_keepalive = False  # the next pad (or this one, back) shows its own
            self._input = _IDLE
            self._held = frozenset()
            self.message = "pad lost (%s): throttle neutral" % reason
            log.warning(self.message)
            self._cut_throttle()
            if self.pilot is not None and self.pilot.mode == "auto":
                self.pilot.estop("gamepad lost")

    def update(self, pad):
        """Act on the pad's current input: fire newly pressed actions, then command the target."""
        with self._lock:
            self._last_alive = self.clock()
            pressed = pad.actions - self._held
            self._held = pad.actions
            self._input = pad
            if "estop" in pressed:
                self._estop()
            elif "estop_release" in pressed and self.estopped:
                self._release(pad)
            if not self.estopped:
                if "mode" in pressed:
                    self._cycle_mode()
                if "throttle_up" in pressed:
                    self._scale(+1)
                if "throttle_down" in pressed:
                    self._scale(-1)
                if "record" in pressed:
                    self.recording = not self.recording
                    self.message = "recording %s" % ("on" if self.recording else "off")
            if self._needs_rearm:
                if pad.throttle != 0.0:
                    self._apply(pad.steering, 0.0)
                    return
                self._needs_rearm = False
            self.deadman_tripped = False
            self._apply(pad.steering, pad.throttle * self.throttle_scale)

    # -- time --------------------------------------------------------------------------------------
    def tick(self):
        """Check the dead-man (see the class docstring); call this several times per ``deadman_s``."""
        with self._lock:
            if not self.connected:
                return
            silent_for = self.clock() - self._last_alive
            limit = self.deadman_s if self.has_keepalive else self.quiet_deadman_s
            if silent_for <= limit:
                return
            if self.has_keepalive and self.pilot is not None and self.pilot.mode == "auto":
                self.message = "pad silent for %.2f s in auto: pilot e-stopped" % silent_for
                log.warning(self.message)
                self.pilot.estop("gamepad silent")
            if self.throttle != 0.0 and not self.deadman_tripped:
                self.deadman_tripped = True
                self.message = "no input for %.2f s while driving: throttle neutral" % silent_for
                log.warning(self.message)
                self._cut_throttle()

    def silence_s(self):
        return self.clock() - self._last_alive

    # -- actions ---------------------------------------------------------------------------------
    def estop(self, reason):
        """Latch the e-stop from outside the pad (a critical battery), as the pad's button does."""
        with self._lock:
            self._estop(reason)

    def _estop(self, reason="gamepad e-stop"):
        self.estopped = True
        self.message = "E-STOP%s (release: %s)" % ("" if reason == "gamepad e-stop" else ": " + reason,
                                                   self.mapping.labels.get("estop_release", "estop_release binding"))
        log.warning(self.message)
        if self.pilot is not None:
            self.pilot.estop(reason)
        self._cut_throttle()

    def _release(self, pad):
        if pad.throttle != 0.0:
            self.message = "release the throttle to clear the e-stop"
            return
        self.estopped = False
        if self.pilot is not None:
            self.pilot.mode = "manual"
        self.message = "e-stop released: manual"
        log.warning(self.message)

    def _cycle_mode(self):
        if self.pilot is None:
            self.message = "no pilot in this session: manual only"
            return
        current = self.pilot.mode
        nxt = MODES[(MODES.index(current) + 1) % len(MODES)] if current in MODES else "manual"
        self.pilot.mode = nxt
        self.message = "mode: %s" % nxt
        log.info(self.message)

    def _scale(self, direction):
        scale = self.throttle_scale + direction * self.throttle_step
        self.throttle_scale = round(max(self.throttle_step, min(1.0, scale)), 4)
        self.message = "throttle scale %.2f" % self.throttle_scale

    def _resume(self):
        """Silence ended: drive on from the pad's current input."""
        self.deadman_tripped = False
        pad = self._input
        self._apply(pad.steering, pad.throttle * self.throttle_scale)

    # -- output ------------------------------------------------------------------------------------
    def _apply(self, steering, throttle):
        if self.estopped or self.deadman_tripped or not self.connected:
            throttle = 0.0
        self.steering = steering
        self.throttle = throttle
        if self.pilot is not None:
            self.pilot.manual_steering = steering
            self.pilot.manual_throttle = throttle
        else:
            self.target.steering = steering
            self.target.throttle = throttle

    def _cut_throttle(self):
        self.throttle = 0.0
        if self.pilot is not None:
            self.pilot.manual_throttle = 0.0
        else:
            self.target.throttle = 0.0

    def neutral(self):
        """Neutral throttle on the target (used on every exit path)."""
        with self._lock:
            self._cut_throttle()

    def status_line(self):
        """One line for a terminal: mode, commands, scale, flags, last message."""
        flags = []
        if not self.connected:
            flags.append("NO PAD")
        if self.estopped:
            flags.append("E-STOP")
        if self.deadman_tripped:
            flags.append("DEAD-MAN")
        if self.recording:
            flags.append("REC")
        return "%-7s steer %+.2f  throttle %+.2f  scale %.2f  %s  %s" % (
            self.mode, self.steering, self.throttle, self.throttle_scale, " ".join(flags), self.message)
