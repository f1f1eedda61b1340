"""Drive from a notebook with a gamepad plugged into the laptop: ``ipywidgets.Controller``.

JetRacer's notebook links ``controller.axes[i]`` straight to the car. Two things go wrong
there: the cell raises ``IndexError: tuple index out of range`` until the browser has seen the
pad (it only reports one after a button press), and when Wi-Fi drops the car keeps its last
throttle. Here the links are made when the axes appear, with a plain message until then, and a
kernel-side timer stops the car when the browser's updates (``timestamp``, any axis or button)
stop arriving for ``heartbeat_s`` while the throttle is non-zero (and e-stops a pilot in ``auto``),
or the pad disconnects.

Indices follow the W3C "standard" gamepad mapping: axes 0/1 left stick X/Y (Y up is -1), 2/3
right stick; buttons 0 bottom (A/cross), 1 right (B/circle), 2 left (X/square), 3 top
(Y/triangle), 4/5 bumpers, 6/7 triggers (analog 0..1), 8 select, 9 start, 12-15 D-pad.
"""

import threading
import time

from .controller import TeleopController
from .events import PadStatus
from .mapping import PadInput, load_mapping, shape

__all__ = ["BrowserMapping", "BrowserTeleop", "PRESS_A_BUTTON"]

PRESS_A_BUTTON = "press any button on the gamepad so the browser can see it"


class BrowserMapping:
    """Which browser axis/button does what. ``throttle`` is ``"triggers"`` (RT forward, LT
    reverse; standard mapping) or ``"stick"`` (an axis, up = forward)."""

    def __init__(self, steering_axis=0, steering_invert=False, throttle="triggers", throttle_axis=1,
                 forward_button=7, reverse_button=6, deadzone=0.08, expo=0.3, buttons=None):
        self.steering_axis, self.steering_invert = steering_axis, steering_invert
        self.throttle, self.throttle_axis = throttle, throttle_axis
        self.forward_button, self.reverse_button = forward_button, reverse_button
        self.deadzone, self.expo = deadzone, expo
        self.buttons = buttons or {"estop": [[1]], "estop_release": [[8, 9]], "mode": [[3]], "record": [[2]],
                                   "throttle_up": [[5], [12]], "throttle_down": [[4], [13]]}
        self.labels = {"estop_release": "buttons 8 + 9 (Back/Share + Start/Options)"}

    @classmethod
    def for_controller(cls, controller):
        """Triggers on a standard-mapped pad; the left stick when the browser could not map it
        (``mapping`` empty), because trigger indices are anyone's guess then."""
        if getattr(controller, "mapping", "") == "standard":
            return cls()
        return cls(throttle="stick", throttle_axis=1)

    def read(self, axes, buttons):
        """PadInput from lists of axis values and button values (pressed buttons read >= 0.5)."""
        def axis(i):
            return float(axes[i]) if i is not None and i < len(axes) else 0.0

        def button(i):
            return float(buttons[i]) if i is not None and i < len(buttons) else 0.0

        steering = axis(self.steering_axis)
        if self.steering_invert:
            steering = -steering
        if self.throttle == "stick":
            throttle = -axis(self.throttle_axis)
        else:
            throttle = button(self.forward_button) - button(self.reverse_button)
        held = frozenset(action for action, combos in self.buttons.items()
                         if any(all(button(i) >= 0.5 for i in combo) for combo in combos))
        return PadInput(shape(steering, self.deadzone, self.expo), shape(throttle, self.deadzone, self.expo), held)


class BrowserTeleop:
    """Links ``controller`` (an ``ipywidgets.Controller``) to ``target`` (a car or a pilot).

    ``display(teleop.widget)`` shows the pad and a status line. ``close()`` unlinks, stops the
    timer and leaves the throttle neutral. ``check()`` is the timer's body (tests call it).
    """

    def __init__(self, controller, target, mapping=None, heartbeat_s=1.0, max_throttle=0.5, period_s=0.1,
                 clock=time.monotonic, start_timer=True):
        import ipywidgets

        self.controller = controller
        self.mapping = mapping or BrowserMapping.for_controller(controller)
        generic = load_mapping("generic")
        generic.labels = dict(generic.labels, **self.mapping.labels)
        # the browser's updates are the only sign of life (a dropped link says nothing): a keep-alive source
        self.teleop = TeleopController(target, mapping=generic, deadman_s=heartbeat_s, max_throttle=max_throttle,
                                       clock=clock, keepalive=True)
        self.status = ipywidgets.Label(value=PRESS_A_BUTTON)
        self.widget = ipywidgets.VBox([controller, self.status])
        self.period_s = period_s
        self._watched = []
        self._stop = threading.Event()
        self._thread = None
        controller.observe(self._on_layout, names=["axes", "buttons", "connected", "mapping"])
        controller.observe(self._on_heartbeat, names=["timestamp"])
        self._on_layout(None)
        if not self.ready:
            print(PRESS_A_BUTTON)
        if start_timer:
            self._thread = threading.Thread(target=self._run_timer, name="browser-teleop-heartbeat", daemon=True)
            self._thread.start()

    @property
    def ready(self):
        """The browser sees the pad: connected, with axes to read."""
        return bool(self.controller.connected) and len(self.controller.axes) > 0

    # -- browser side ------------------------------------------------------------------------------
    def _on_layout(self, change):
        for widget in self._watched:
            widget.unobserve(self._on_value, names=["value"])
        self._watched = list(self.controller.axes) + list(self.controller.buttons)
        for widget in self._watched:
            widget.observe(self._on_value, names=["value"])
        if change is not None and change["name"] == "mapping" and change["new"] != change["old"]:
            self.mapping = BrowserMapping.for_controller(self.controller)
        if self.ready:
            if not self.teleop.connected:
                self.teleop.connect(PadStatus.up(self.controller.name or "browser gamepad", {}))
            self._push()
        else:
            if self.teleop.connected:
                self.teleop.disconnect("the browser no longer sees the gamepad")
            self.status.value = PRESS_A_BUTTON

    def _on_value(self, change):
        if self.ready:
            self._push()

    def _on_heartbeat(self, change):
        self.teleop.keepalive()

    def _push(self):
        axes = [a.value for a in self.controller.axes]
        buttons = [b.value for b in self.controller.buttons]
        self.teleop.update(self.mapping.read(axes, buttons))
        self.status.value = self.teleop.status_line()

    # -- kernel side -------------------------------------------------------------------------------
    def check(self):
        """Stop the car if the browser went quiet while driving (the heartbeat)."""
        self.teleop.tick()
        if self.ready:
            self.status.value = self.teleop.status_line()

    def _run_timer(self):
        while not self._stop.wait(self.period_s):
            try:
                self.check()
            except Exception:  # noqa: BLE001 - the watchdog must keep running; neutral and go on
                self.teleop.neutral()

    def close(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self.controller.unobserve(self._on_layout, names=["axes", "buttons", "connected", "mapping"])
        self.controller.unobserve(self._on_heartbeat, names=["timestamp"])
        for widget in self._watched:
            widget.unobserve(self._on_value, names=["value"])
        self._watched = []
        self.teleop.neutral()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
