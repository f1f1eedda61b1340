"""OLED status screen: how to reach the car, what it is doing, and how much battery is left.

A car on the floor has no screen, so the SSD1306 on its chassis tells the owner the IP address to
open Jupyter at, the pilot's mode and rate, the battery and the computer's load, warnings first.
Pages are drawn with Pillow and sent through the real ``adafruit_ssd1306`` driver (to the chip on
the car, or its twin in the simulator).

The display is never allowed to hurt the car: JetBot's stats service spams "no acknowledge" and
dies when the OLED is unplugged. Here a missing display or a bus error is logged once, retried
with growing back-off (1 s to 30 s), and nothing is raised to the caller.
"""

import logging
import time

from ..drive.stop import StopReason  # the reasons a pilot stops as asked: no warning
from ..i2c import DRIVER_LOCK, probe

__all__ = ["StatusDisplay", "load_font", "LINE_PITCH", "TEXT_Y_OFFSET"]

log = logging.getLogger(__name__)

#: Text rows are 8 pixels apart (4 rows on a 128x32 module, 8 on 128x64). Pillow's built-in
#: bitmap font is 6 px wide; its digits and capitals sit 2-8 px below the drawing origin, so
#: each row's text is drawn 2 px above the row's top edge.
LINE_PITCH = 8
TEXT_Y_OFFSET = -2
CHAR_WIDTH = 6
HOT_C = 85.0  # Jetson modules throttle from about here


def load_font():
    """Pillow's built-in bitmap font (crisp on a 1-bit screen, the same on every Pillow version;
    since Pillow 10.1 ``load_default()`` returns a scalable font instead)."""
    from PIL import ImageFont

    if hasattr(ImageFont, "load_default_imagefont"):
        return ImageFont.load_default_imagefont()
    return ImageFont.load_default()


def _pct(value):
    return "--" if value is None else "%d%%" % round(value)


class StatusDisplay:
    """Status pages on an SSD1306 at ``address`` (``width`` x ``height``).

    ``battery`` is any object with ``percent``, ``voltage`` and ``state`` (a
    :class:`~jetracer.status.battery.BatteryMonitor`); ``pilot`` any object with ``mode`` and ``fps``
    (and optionally ``stop_reason``, ``camera``); ``camera`` any object with ``stalled``. All are
    optional. ``refresh()`` draws one frame; ``start()`` refreshes every ``refresh_s`` in a thread.
    """

    def __init__(self, i2c=None, address=0x3C, width=128, height=32, battery=None, pilot=None, camera=None,
                 name="", refresh_s=1.0, page_s=4.0, sysinfo=None, clock=time.monotonic, i2c_bus=None,
                 retry_min_s=1.0, retry_max_s=30.0, outage_log_level=logging.WARNING):
        if height % LINE_PITCH or height < 16:
            raise ValueError("display height must be 16, 32, 48 or 64, got %r" % height)
        self.address = address
        self.width = width
        self.height = height
        self.rows = height // LINE_PITCH
        self.battery = battery
        self.pilot = pilot
        self.camera = camera
        self.name = name
        self.refresh_s = float(refresh_s)
        self.page_s = float(page_s)
        self.clock = clock
        self.retry_min_s = float(retry_min_s)
        self.retry_max_s = float(retry_max_s)
        self.outage_log_level = outage_log_level
        self.last_image = None  #: the newest frame drawn (a Pillow "1" image), shown or not
        self.last_error = ""  #: why the OLED is not showing anything, empty while it is
        self.web_login = None  #: (port, token) of the web app, shown on a page of its own when set
        self.frames_shown = 0
        if sysinfo is None:
            from .sysinfo import SystemInfo

            sysinfo = SystemInfo()
        self.sysinfo = sysinfo
        self._i2c_arg, self._i2c_bus = i2c, i2c_bus
        self._i2c = None
        self.bus_name = str(i2c_bus if i2c_bus is not None else "1")
        self._oled = None
        self._next_try = float("-inf")
        self._backoff = self.retry_min_s
        self._outage_logged = False
        self._font = None
        self._start_time = None
        self.closed = False
        self._thread = None  # the refresh thread's Periodic, made on the first start()

    @classmethod
    def from_profile(cls, profile, i2c=None, **kwargs):
        d = profile.display
        options = dict(address=d["i2c_address"], width=d["width"], height=d["height"], refresh_s=d["refresh_s"],
                       page_s=d["page_s"], name=profile.car["name"], i2c_bus=profile.car["i2c_bus"])
        options.update(kwargs)
        return cls(i2c=i2c, **options)

    @property
    def connected(self):
        return self._oled is not None

    # -- what to show ----------------------------------------------------------------------------
    def warnings(self, info=None):
        """Lines that need attention now, most urgent first."""
        out = []
        battery = self.battery
        if battery is not None:
            state = getattr(battery, "state", "ok")
            if getattr(battery, "error", ""):
                out.append("! BATTERY NO READING")
            elif state == "critical":
                out.append("! BATTERY EMPTY %s" % _pct(battery.percent))
            elif state == "low":
                out.append("! BATTERY LOW %s" % _pct(battery.percent))
        pilot = self.pilot
        reason = getattr(pilot, "stop_reason", "") if pilot is not None else ""
        if reason and reason not in StopReason.NORMAL and getattr(pilot, "mode", "") == "stopped":
            out.append("! STOP: %s" % reason)
        camera = self.camera if self.camera is not None else getattr(pilot, "camera", None)
        if camera is not None and getattr(camera, "stalled", False):
            out.append("! CAMERA STALLED")
        temp = (info or {}).get("temperature")
        if temp is not None and temp >= HOT_C:
            out.append("! HOT %dC" % round(temp))
        return out

    def title(self):
        """Car name, then the pilot's mode and frame rate when there is a pilot."""
        left = self.name or "jetracer"
        pilot = self.pilot
        if pilot is None:
            return left
        right = str(getattr(pilot, "mode", "")).upper()
        fps = getattr(pilot, "fps", None)
        if fps and right not in ("STOPPED", ""):
            right += " %dFPS" % round(fps)
        room = self.width // CHAR_WIDTH - len(right) - 1
        return (left[:max(room, 0)] + " " + right).strip()

    def pages(self, info):
        """The rotating pages (lists of text lines) below the warnings and the title."""
        ips = info.get("ips") or []
        network = ["%s %s" % (name[:5], ip) for name, ip in ips[:3]] or ["no network"]
        memory = info.get("memory")
        mem = "--" if not memory else "%d%%" % round(100.0 * memory[0] / max(memory[1], 1))
        temp = info.get("temperature")
        system = ["CPU %-4s GPU %s" % (_pct(info.get("cpu")), _pct(info.get("gpu"))),
                  "MEM %-4s TEMP %s" % (mem, "--" if temp is None else "%dC" % round(temp))]
        pages = [network, system]
        if self.web_login:  # how to log in to `jetracer web`: port and token
            port, token = self.web_login
            pages.append(["WEB :%d" % port, "KEY %s" % token])
        return pages

    def battery_line(self):
        """("BAT 78% 11.6V", fill fraction) or None without a battery monitor."""
        battery = self.battery
        if battery is None:
            return None
        if getattr(battery, "error", ""):
            return "BAT no reading", None
        return "BAT %s %.1fV" % (_pct(battery.percent), battery.voltage), max(0.0, min(1.0, battery.percent / 100.0))

    def compose(self, now=None, info=None):
        """The screen as rows: [(text, inverted)], plus the battery footer or None."""
        now = self.clock() if now is None else now
        if self._start_time is None:
            self._start_time = now
        info = self.sysinfo.snapshot() if info is None else info
        footer = self.battery_line()
        space = self.rows - (1 if footer else 0)
        rows = [(text, True) for text in self.warnings(info)]
        rows.append((self.title(), False))
        pages = self.pages(info)
        room = space - len(rows)
        everything = [line for page in pages for line in page]
        if len(everything) <= room:
            body = everything
        else:
            index = int((now - self._start_time) // self.page_s) % len(pages) if self.page_s > 0 else 0
            body = pages[index]
        rows.extend((text, False) for text in body)
        return rows[:space], footer

    def render(self, now=None, info=None):
        """The current page as a Pillow "1" image the size of the display."""
        from PIL import Image, ImageDraw

        rows, footer = self.compose(now, info)
        if self._font is None:
            self._font = load_font()
        img = Image.new("1", (self.width, self.height), 0)
        draw = ImageDraw.Draw(img)
        for r, (text, inverted) in enumerate(rows):
            top = r * LINE_PITCH
            if inverted:
                draw.rectangle((0, top, self.width - 1, top + LINE_PITCH - 1), fill=1)
            draw.text((0, top + TEXT_Y_OFFSET), text, font=self._font, fill=0 if inverted else 1)
        if footer:
            text, fraction = footer
            top = (self.rows - 1) * LINE_PITCH
            draw.text((0, top + TEXT_Y_OFFSET), text, font=self._font, fill=1)
            if fraction is not None:
                x0 = max(len(text) * CHAR_WIDTH + 4, self.width - 40)
                x1 = self.width - 3
                draw.rectangle((x0, top + 1, x1, top + 6), outline=1, fill=0)
                draw.rectangle((x1 + 1, top + 3, x1 + 2, top + 4), fill=1)  # the battery's terminal
                inner = int(round((x1 - x0 - 3) * fraction))
                if inner > 0:
                    draw.rectangle((x0 + 2, top + 3, x0 + 1 + inner, top + 4), fill=1)
        return img

    # -- talking to the OLED ---------------------------------------------------------------------
    def refresh(self, now=None):
        """Draw and show one frame. Returns True when it reached the OLED; never raises for a
        missing or failing display (it retries later, with back-off)."""
        now = self.clock() if now is None else now
        if self._oled is None:
            if now < self._next_try:
                return False
            self._connect(now)
        try:
            self.last_image = self.render(now)
        except Exception as exc:  # noqa: BLE001 - a bad reading must not stop the screen
            log.exception("drawing the status page failed")
            self.last_error = "drawing failed: %s" % exc
            return False
        if self._oled is None:
            return False
        try:
            with DRIVER_LOCK:
                self._show(self.last_image)
        except Exception as exc:  # noqa: BLE001 - OSError from the bus, anything from a dying driver
            self._oled = None
            self._failed("OLED at 0x%02x on I2C bus %s stopped answering (%s)" % (self.address, self.bus_name, exc),
                         now)
            return False
        self.frames_shown += 1
        return True

    def _connect(self, now):
        try:
            if self._i2c is None:
                from ..i2c import resolve_bus

                self._i2c, self.bus_name = resolve_bus(self._i2c_arg, self._i2c_bus)
            probe(self._i2c, self.address, "SSD1306 OLED display", self.bus_name)
            from adafruit_ssd1306 import SSD1306_I2C

            with DRIVER_LOCK:
                self._oled = SSD1306_I2C(self.width, self.height, self._i2c, addr=self.address)
        except Exception as exc:  # noqa: BLE001 - HardwareError, OSError, ValueError from the driver's probe
            self._oled = None
            self._failed(str(exc), now)
            return False
        if self._outage_logged:
            log.info("OLED at 0x%02x on I2C bus %s is back", self.address, self.bus_name)
        self._outage_logged = False
        self._backoff = self.retry_min_s
        self.last_error = ""
        return True

    def _failed(self, reason, now):
        self.last_error = reason
        if not self._outage_logged:
            log.log(self.outage_log_level, "%s; the status display will keep retrying quietly", reason)
            self._outage_logged = True
        else:
            log.debug("OLED still unavailable: %s", reason)
        self._next_try = now + self._backoff
        self._backoff = min(self._backoff * 2.0, self.retry_max_s)

    def _show(self, img):
        """Pack the image into the driver's buffer (column bytes, LSB at the top, as its MVLSB
        framebuffer holds them; numpy does in microseconds what ``oled.image()`` does pixel by
        pixel) and send it with the driver's ``show()``."""
        import numpy as np

        pixels = np.array(img.convert("L"), dtype=np.uint8) > 0
        pages = pixels.reshape(self.height // 8, 8, self.width)
        weights = (1 << np.arange(8, dtype=np.uint16)).reshape(1, 8, 1)
        packed = (pages * weights).sum(axis=1).astype(np.uint8)
        self._oled.buf[:] = packed.tobytes()
        self._oled.show()

    def clear(self, message=""):
        """Blank the screen, or leave ``message`` on it (shown after the service stops)."""
        if self._oled is None:
            return False
        from PIL import Image, ImageDraw

        img = Image.new("1", (self.width, self.height), 0)
        if message:
            if self._font is None:
                self._font = load_font()
            ImageDraw.Draw(img).text((0, TEXT_Y_OFFSET), message, font=self._font, fill=1)
        try:
            with DRIVER_LOCK:
                self._show(img)
        except Exception as exc:  # noqa: BLE001
            log.debug("could not clear the OLED: %s", exc)
            return False
        return True

    # -- background refresh ----------------------------------------------------------------------
    def next_wait(self, now=None):
        """Seconds until the next refresh is due (longer while the OLED is missing)."""
        now = self.clock() if now is None else now
        if self._oled is None and self._next_try > now:
            return max(self._next_try - now, 0.05)
        return self.refresh_s

    def _worker(self):
        from ..util.periodic import Periodic

        return Periodic("status-display", self.refresh, self.next_wait, call_first=True, what="status display",
                        join_timeout_s=5.0, logger=log)

    def run(self, stop_event):
        """Refresh until ``stop_event`` is set, in the calling thread (:meth:`start` runs the same
        loop in a thread of its own)."""
        self._worker().run(stop_event)

    def start(self):
        """Refresh every ``refresh_s`` in a daemon thread until :meth:`stop` (a no-op while it runs)."""
        if self.closed:
            raise RuntimeError("the status display at 0x%02x is closed" % self.address)
        if self._thread is None:
            self._thread = self._worker()
        self._thread.start()
        return self

    def stop(self):
        """Stop refreshing (it can be started again); the screen keeps its last frame."""
        if self._thread is not None:
            self._thread.stop()

    def close(self, message="", keep=False):
        """Stop refreshing for good, then blank the screen, leave ``message`` on it, or (``keep``)
        leave the last frame shown (``jetracer display --once``). Safe to call twice: only the first
        call touches the screen, so a later plain ``close()`` keeps what the first one left."""
        if self.closed:
            return
        self.closed = True
        self.stop()
        if not keep:
            self.clear(message)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
