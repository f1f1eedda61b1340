"""The camera as JPEG for the pages: the newest frame only, encoded once however many pages watch.

One thread waits for each new camera frame, encodes it (only while someone watches) and hands the
same bytes to every subscriber; a page that is still receiving the previous frame simply misses
this one (the server never queues frames for a slow link). The last ``keep`` raw frames stay
addressable by sequence number, so a click on the Label page labels the picture the person saw,
not whatever the camera holds by the time the click arrives.

Each message is a 20-byte header (little-endian: uint32 seq, float64 capture time and float64
send time, both Unix seconds) followed by the JPEG. The capture time is the frame's stamp moved
from the camera's clock (virtual in the simulator) onto the wall clock, so a page can show its age.
"""

import collections
import logging
import struct
import threading
import time

__all__ = ["FrameStream", "HEADER", "pack_frame"]

log = logging.getLogger(__name__)

HEADER = struct.Struct("<Idd")


def pack_frame(seq, capture_wall, jpeg, sent_wall=None):
    return HEADER.pack(seq & 0xFFFFFFFF, capture_wall, time.time() if sent_wall is None else sent_wall) + jpeg


class FrameStream:
    """Encodes ``camera``'s newest frames for ``subscribe``\\ d callbacks (called in this thread)."""

    def __init__(self, camera, quality=80, keep=60, clock=None):
        self.camera = camera
        self.quality = int(quality)
        self.clock = clock or camera.clock
        self.encoded = 0  #: frames encoded (once each, whatever the number of watchers)
        self.encode_ms = 0.0  #: smoothed encode time
        self._subscribers = []
        self._recent = collections.OrderedDict()  # seq -> Frame
        self._keep = int(keep)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = None
        self.latest_packet = None  #: the last message sent (for a page that just connected)

    def subscribe(self, callback):
        with self._lock:
            self._subscribers.append(callback)

    def unsubscribe(self, callback):
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    @property
    def watchers(self):
        with self._lock:
            return len(self._subscribers)

    def frame(self, seq):
        """The raw frame ``seq`` if it is among the last ``keep``; else None."""
        with self._lock:
            return self._recent.get(int(seq))

    def start(self):
        self._thread = threading.Thread(target=self._run, name="web-frames", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    def _run(self):
        last = 0
        while not self._stop.is_set():
            try:
                frame = self.camera.wait_frame(last, timeout=0.25)
            except Exception as exc:  # noqa: BLE001 - a camera fault shows as an old frame; keep trying
                log.debug("frame stream: %s", exc)
                self._stop.wait(0.1)
                continue
            if frame is None or frame.seq == last:
                if frame is None and not getattr(self.camera, "running", True):
                    self._stop.wait(0.05)
                continue
            last = frame.seq
            with self._lock:
                self._recent[frame.seq] = frame
                while len(self._recent) > self._keep:
                    self._recent.popitem(last=False)
                subscribers = list(self._subscribers)
            if subscribers:
                self._publish(frame, subscribers)

    def _publish(self, frame, subscribers):
        from ..data.xy import encode_jpeg

        t0 = time.perf_counter()
        capture_wall = time.time() - max(0.0, self.clock() - frame.timestamp)
        try:
            jpeg = encode_jpeg(frame.image, self.quality)
        except Exception as exc:  # noqa: BLE001 - one bad frame is skipped
            log.warning("could not encode frame %d: %s", frame.seq, exc)
            return
        self.encoded += 1
        ms = (time.perf_counter() - t0) * 1000.0
        self.encode_ms = ms if self.encoded == 1 else self.encode_ms + 0.1 * (ms - self.encode_ms)
        packet = pack_frame(frame.seq, capture_wall, jpeg)
        self.latest_packet = packet
        for callback in subscribers:
            try:
                callback(packet)
            except Exception as exc:  # noqa: BLE001 - one page's trouble is not the others'
                log.debug("frame subscriber: %s", exc)
