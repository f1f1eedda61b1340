"""Widgets the notebooks share: a live camera view, a big stop button, image -> widget bytes."""

import logging
import threading
import time

from .env import require

__all__ = ["jpeg_bytes", "stop_button", "LiveView", "controls", "SimulatedPad"]

log = logging.getLogger(__name__)


def jpeg_bytes(image_bgr, quality=80):
    """JPEG bytes of a BGR uint8 image, for ``ipywidgets.Image(format="jpeg")``."""
    from ..data.xy import encode_jpeg

    return encode_jpeg(image_bgr, quality=quality)


def stop_button(on_stop, description="STOP"):
    """A big red button that calls ``on_stop("stop button")``."""
    ipywidgets = require("ipywidgets")

    button = ipywidgets.Button(description=description, button_style="danger", icon="stop",
                               tooltip="neutral throttle now",
                               layout=ipywidgets.Layout(width="100%", height="64px"))
    button.style.font_weight = "bold"
    button.on_click(lambda _b: on_stop("stop button"))
    return button


def controls(session, *children):
    """The session's stop button and heartbeat (if any) above ``children``: display this."""
    ipywidgets = require("ipywidgets")

    parts = [stop_button(session.stop)]
    if session.heartbeat is not None:
        parts.append(session.heartbeat.widget)
    return ipywidgets.VBox(parts + list(children))


class LiveView:
    """Shows the camera's newest frame in ``widget`` (an ``ipywidgets.Image``) from a background
    thread at up to ``fps``, so JPEG encoding never slows capture or the pilot.

    ``overlay(image) -> image`` draws on a copy (the prediction, say). ``image`` holds the frame
    last shown *without* the overlay: what the person clicked on is what gets saved.
    ``refresh()`` does one update (the thread's body; in lockstep it renders the current pose).
    """

    def __init__(self, camera, fps=12.0, overlay=None, width=None):
        ipywidgets = require("ipywidgets")

        self.camera = camera
        self.period_s = 1.0 / float(fps)
        self.overlay = overlay
        w = width or getattr(camera, "width", 224)
        self.widget = ipywidgets.Image(format="jpeg", layout=ipywidgets.Layout(width="%dpx" % max(224, w)))
        self.image = None
        self.frames_shown = 0
        self._last_seq = None
        self._stop = threading.Event()
        self._thread = None

    def refresh(self, frame=None):
        """Show ``frame`` (default: the camera's newest, or one captured now when not running)."""
        if frame is None:
            frame = self.camera.latest() if self.camera.running else self.camera.read_frame()
        if frame is None or frame.seq == self._last_seq:
            return False
        self._last_seq = frame.seq
        self.image = frame.image
        shown = self.overlay(frame.image) if self.overlay is not None else frame.image
        self.widget.value = jpeg_bytes(shown)
        self.frames_shown += 1
        return True

    def start(self):
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="notebook-live-view", daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                if self.camera.running:
                    self.refresh()
            except Exception as exc:  # noqa: BLE001 - a view must never kill the kernel's threads
                log.debug("live view: %s", exc)
            self._stop.wait(max(0.0, self.period_s - (time.monotonic() - t0)))

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        self._thread = None


class SimulatedPad:
    """Plays the browser's part for an ``ipywidgets.Controller`` (W3C standard mapping): what the
    page sends once it sees a pad, then sticks, triggers and buttons. For tests and for trying the
    teleoperation notebook without a gamepad."""

    def __init__(self, controller, name="simulated pad (STANDARD GAMEPAD)"):
        self.controller = controller
        self.name = name

    def plug_in(self):
        from ipywidgets.widgets.widget_controller import Axis, Button

        c = self.controller
        c.set_trait("name", self.name)
        c.set_trait("mapping", "standard")
        c.set_trait("axes", tuple(Axis() for _ in range(4)))
        c.set_trait("buttons", tuple(Button() for _ in range(17)))
        c.set_trait("connected", True)
        self.tick()
        return self

    def tick(self):
        """The browser's regular report (what the teleop heartbeat listens for)."""
        self.controller.set_trait("timestamp", time.time() * 1000.0)

    def steer(self, value):
        """Left stick x: -1 left .. +1 right."""
        self.controller.axes[0].set_trait("value", float(value))
        self.tick()

    def press(self, index, value=1.0):
        button = self.controller.buttons[index]
        button.set_trait("value", float(value))
        button.set_trait("pressed", value >= 0.5)
        self.tick()

    def release(self, index):
        self.press(index, 0.0)

    def throttle(self, value):
        """Right trigger (button 7) forward, left trigger (6) reverse."""
        self.press(7, max(0.0, float(value)))
        self.press(6, max(0.0, -float(value)))
