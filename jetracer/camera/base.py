"""The camera every backend shares: newest frame only, stamped, with visible failure.

JetCam users will recognise ``value`` (a black frame of ``width`` x ``height`` until the first
capture, so a notebook can call its callback with ``camera.value`` before starting), ``width``,
``height``, ``format`` ("bgr8"), ``running`` and ``read()``. What is different, and why:

- Every frame is a :class:`Frame` (image, capture timestamp on ``clock``, sequence number), so a
  consumer can tell a new frame from a repeated one and refuse a stale one.
- One capture thread keeps only the newest frame (never a queue). A slow consumer skips frames
  (``seq`` jumps) instead of falling behind.
- ``read()`` returns the newest frame also while running (JetCam raises instead), and captures
  synchronously when the camera is not running.
- The capture thread never runs user code. Trait changes made while running (``value``, ``fps``,
  ``stalled``, ``error``) are published by a separate *notifier* thread that always publishes the
  newest frame and skips the rest, so a slow ``observe`` callback (a widget encoding JPEGs, say)
  delays only further notifications, never capture. The notifier is also the watchdog: it marks
  the camera stalled when no frame has arrived within ``stale_limit_s``, even while the driver is
  blocked inside a grab.
- Failure is visible: a grab error, or no new frame within ``stale_limit_s``, sets ``stalled`` and
  ``error`` (the reason), logs it once, and the thread re-opens the device with exponential
  backoff. When frames return, ``stalled`` goes back to False. (JetCam's thread dies silently and
  the car drives on the last frame.)

Backends implement three hooks: ``_open()`` (acquire the device; raise :class:`CameraError` with a
one-line fix when it cannot, or :class:`SourceEnded` when re-trying cannot help), ``_grab()``
(return a BGR uint8 HxWx3 image, or None for "nothing yet"; raise on a device error, or
:class:`SourceEnded` when the source is finished for good) and ``_release()``. Frames are stamped
with ``clock()`` as ``_grab`` returns. A source that paces itself (a replay, the simulator in real
time) waits with ``self._sleep(s)``, which wakes on stop.
Hooks are never called concurrently (one lock), and not while the device is closed.
"""

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, List, NamedTuple, Optional, Tuple

import numpy as np
import traitlets

from ..errors import CameraError

if TYPE_CHECKING:
    from typing import Literal  # novermin (only the type checker imports it)

__all__ = ["Camera", "Frame", "SourceEnded"]

log = logging.getLogger(__name__)



class Frame(NamedTuple):
    """One captured image (BGR uint8 HxWx3), its capture time on the camera's clock
    (seconds) and its sequence number (1, 2, ...; a jump means frames were skipped)."""

    image: np.ndarray
    timestamp: float
    seq: int


class SourceEnded(Exception):
    """Raised by ``_grab()`` when the source has no more frames and re-opening would not help
    (the end of a non-looping video). The camera reports itself stalled with this reason."""


class Camera(traitlets.HasTraits):
    """Base camera: a capture thread, the newest frame, and its health as traits.

    ``clock`` stamps frames and measures staleness (the simulator passes its virtual clock; tests
    pass a fake one). ``stale_limit_s``: no new frame for this long (camera clock) marks the camera
    stalled; before the first frame after an open, ``first_frame_timeout_s`` applies instead
    (sensors take a moment to start). Re-opening waits ``reopen_backoff_s``, doubling up to
    ``max_backoff_s`` (real seconds), and resets once frames flow again.
    """

    value = traitlets.Any(allow_none=True, help="newest image, BGR uint8 HxWx3 (black before the first, as JetCam)")
    width = traitlets.Integer(224, help="delivered frame width")
    height = traitlets.Integer(224, help="delivered frame height")
    format = traitlets.Unicode("bgr8", help="pixel format of value: bgr8 only (JetCam's default)")
    running = traitlets.Bool(False, help="capture thread on; set True/False as in JetCam, or start()/stop()")
    fps = traitlets.Float(0.0, help="measured frames per second (smoothed; 0 when stalled)")
    stalled = traitlets.Bool(False, help="no frames: see error for why")
    error = traitlets.Unicode("", help="why the camera is stalled ('' when healthy)")

    #: weight of the newest frame interval in the smoothed fps
    fps_smoothing = 0.1
    #: how often (real seconds) the capture thread polls a source that has nothing yet
    poll_interval_s = 0.002

    def __init__(self, *args: Any, clock: Callable[[], float] = time.monotonic, stale_limit_s: float = 0.5,
                 first_frame_timeout_s: float = 5.0, reopen_backoff_s: float = 0.1, max_backoff_s: float = 5.0,
                 **kwargs: Any) -> None:
        if kwargs.get("running"):
            raise ValueError("start the camera with start() (or running = True) after constructing it")
        kwargs.pop("running", None)
        super().__init__(*args, **kwargs)
        if self.format != "bgr8":
            raise ValueError("camera format %r is not supported: frames are BGR uint8 ('bgr8')" % (self.format,))
        if self.width <= 0 or self.height <= 0:
            raise ValueError("camera width and height must be > 0, got %dx%d" % (self.width, self.height))
        self.value = self._black_frame()
        if stale_limit_s <= 0:
            raise ValueError("stale_limit_s must be > 0, got %r" % (stale_limit_s,))
        self.clock = clock
        self.stale_limit_s = float(stale_limit_s)
        self.first_frame_timeout_s = float(first_frame_timeout_s)
        self.reopen_backoff_s = float(reopen_backoff_s)
        self.max_backoff_s = float(max_backoff_s)
        #: delay before the next re-open attempt (grows while failures repeat)
        self.backoff_s = self.reopen_backoff_s
        #: number of times the capture thread re-opened the device after a failure
        self.reopens = 0
        #: the last stall reason, kept after recovery for diagnosis
        self.last_error = ""

        self._io_lock = threading.RLock()  # serialises _open/_grab/_release
        self._cond = threading.Condition()  # guards the fields below; waiters wait on it
        self._latest: Optional[Frame] = None
        self._seq = 0
        self._fps_dt: Optional[float] = None  # smoothed frame interval (camera clock)
        self._stall_reason: Optional[str] = None
        self._ended = False
        self._last_frame_t: Optional[float] = None  # camera clock time of the last frame or (re)open
        self._frames_since_open = 0
        self._opened = False
        self._stop = threading.Event()
        self._stop.set()
        self._capture_thread: Optional[threading.Thread] = None
        self._notifier_thread: Optional[threading.Thread] = None
        self._stuck_threads: List[threading.Thread] = []  # did not stop in time (a grab blocked in the driver)

    # ----------------------------------------------------------------- hooks for backends
    def _open(self) -> None:
        """Acquire the device. Raise CameraError (one line, with the fix) if it cannot be opened."""
        raise NotImplementedError

    def _grab(self) -> Optional[np.ndarray]:
        """Return the next image (BGR uint8, height x width x 3), or None if none is ready yet."""
        raise NotImplementedError

    def _release(self) -> None:
        """Release the device (called with the device open; must not raise for a half-open one)."""

    def _sleep(self, seconds: float) -> bool:
        """For ``_grab`` pacing a source: wait up to ``seconds`` (real time), returning True at once
        if the camera is being stopped. Only meaningful in the capture thread (``self.running``)."""
        return self._stop.wait(seconds) if seconds > 0 else self._stop.is_set()

    # ----------------------------------------------------------------------- public API
    def latest(self) -> Optional[Frame]:
        """The newest Frame, or None before the first; never blocks."""
        with self._cond:
            return self._latest

    def read_frame(self) -> Frame:
        """The newest Frame. Running: returns at once (waits for the first frame if there is none
        yet). Not running: captures one synchronously (and opens the device if needed)."""
        if not self.running:
            return self._capture_sync()
        frame = self.latest()
        if frame is None:
            frame = self.wait_frame(0, timeout=max(self.first_frame_timeout_s, self.stale_limit_s))
        if frame is None:
            raise CameraError("%s delivered no frame within %.1f s%s" % (
                self._name(), max(self.first_frame_timeout_s, self.stale_limit_s),
                ": " + self.last_error if self.last_error else ""))
        return frame

    def read(self) -> np.ndarray:
        """The newest image (see :meth:`read_frame`)."""
        return self.read_frame().image

    def wait_frame(self, after_seq: int, timeout: Optional[float] = None) -> Optional[Frame]:
        """The newest Frame with ``seq > after_seq``, waiting up to ``timeout`` real seconds (None:
        forever); None on timeout. Not running: captures one synchronously (a new seq), which lets a
        lockstep loop use the same call as a real-time one."""
        if not self.running:
            return self._capture_sync()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._latest is None or self._latest.seq <= after_seq:
                if not self.running:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return None
                self._cond.wait(remaining if remaining is not None else 0.5)
            return self._latest

    def start(self) -> "Camera":
        """Open the device (raising CameraError here, in the caller, if it cannot) and start
        capturing in the background. Same as ``camera.running = True``."""
        self.running = True
        return self

    def stop(self) -> None:
        """Stop the capture thread; the device stays open so ``read()`` keeps working."""
        self.running = False

    def close(self) -> None:
        """Stop and release the device. Safe to call twice."""
        self.running = False
        if not self._io_lock.acquire(timeout=2.0):
            log.warning("%s: capture is stuck inside the driver; device not released", self._name())
            return
        try:
            self._release_device()
        finally:
            self._io_lock.release()

    def __enter__(self) -> "Camera":
        return self

    def __exit__(self, *exc: Any) -> "Literal[False]":
        self.close()
        return False

    def __repr__(self) -> str:
        state = "stalled: %s" % self.error if self.stalled else ("running" if self.running else "stopped")
        return "<%s %dx%d %s>" % (type(self).__name__, self.width, self.height, state)

    def _black_frame(self) -> np.ndarray:
        return np.zeros((self.height, self.width, 3), np.uint8)

    @traitlets.observe("width", "height")
    def _on_size(self, change: Any) -> None:
        """A size set after construction: the black placeholder follows it until frames arrive."""
        if getattr(self, "_cond", None) is not None and self.latest() is None:
            self.value = self._black_frame()

    # ------------------------------------------------------------ starting and stopping
    @traitlets.observe("running")
    def _on_running(self, change: Any) -> None:
        if change["new"]:
            try:
                self._start_threads()
            except BaseException:
                self.running = False
                raise
        else:
            self._stop_threads()

    def _start_threads(self) -> None:
        if self._capture_thread is not None and self._capture_thread.is_alive():
            return
        if any(t.is_alive() for t in self._stuck_threads):
            raise CameraError("%s: the previous capture thread is still blocked inside the camera driver; "
                              "close the camera (or restart the process) before starting it again" % self._name())
        if not self._io_lock.acquire(timeout=max(2.0, self.first_frame_timeout_s)):
            raise CameraError("%s: the camera driver is not answering (a grab is stuck): check the camera, "
                              "e.g. `sudo systemctl restart nvargus-daemon` for a CSI camera" % self._name())
        try:
            self._open_device()
        finally:
            self._io_lock.release()
        with self._cond:
            self._last_frame_t = self.clock()
            self._ended = False
        self._stop.clear()
        name = type(self).__name__
        self._capture_thread = threading.Thread(target=self._capture_loop, name=name + "-capture", daemon=True)
        self._notifier_thread = threading.Thread(target=self._notify_loop, name=name + "-notify", daemon=True)
        self._capture_thread.start()
        self._notifier_thread.start()

    def _stop_threads(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in (self._capture_thread, self._notifier_thread):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=2.0)
                if thread.is_alive():
                    log.warning("%s: %s did not stop within 2 s (blocked in the driver?)", self._name(), thread.name)
                    self._stuck_threads.append(thread)  # a restart would run two capture loops
        self._capture_thread = self._notifier_thread = None
        self._publish_traits()  # the last frame and state, on the caller's thread

    # ------------------------------------------------------------------------ capture
    def _open_device(self) -> None:
        if not self._opened:
            self._open()
            self._opened = True
            with self._cond:
                self._frames_since_open = 0
                self._ended = False

    def _release_device(self) -> None:
        if self._opened:
            self._opened = False
            try:
                self._release()
            except Exception as exc:  # noqa: BLE001 - releasing a broken device must not mask the cause
                log.debug("%s: release failed: %s", self._name(), exc)

    def _capture_sync(self) -> Frame:
        """One frame in the caller's thread (camera not running)."""
        with self._io_lock:
            self._open_device()
            t0_real, t0 = time.monotonic(), self.clock()
            while True:
                try:
                    image = self._grab()
                except SourceEnded as exc:
                    self._set_stalled(str(exc) or "end of stream", ended=True)
                    self._publish_traits()
                    raise CameraError("%s: %s" % (self._name(), self.error)) from None
                if image is not None:
                    break
                limit = self.stale_limit_s if self._frames_since_open else self.first_frame_timeout_s
                if self.clock() - t0 > limit or time.monotonic() - t0_real > limit:
                    self._set_stalled("no frame within %.2f s" % limit)
                    self._publish_traits()
                    raise CameraError("%s delivered no frame within %.2f s: check the source" % (self._name(), limit))
                time.sleep(self.poll_interval_s)
            frame = self._store(image)
        self._publish_traits()
        return frame

    def _capture_loop(self) -> None:
        stop = self._stop
        while not stop.is_set():
            if not self._opened:
                reopened = self._try_reopen()
                if reopened is None:
                    return  # the source said re-opening cannot help; stay stalled with its reason
                if not reopened:
                    continue
            try:
                with self._io_lock:
                    image = self._grab() if self._opened else None
            except SourceEnded as exc:
                self._set_stalled(str(exc) or "end of stream", ended=True)
                return  # nothing more will come; stay stalled until stopped
            except Exception as exc:  # noqa: BLE001 - any driver error: report, re-open, carry on
                self._set_stalled("grab failed: %s" % _one_line(exc))
                self._drop_device_and_wait()
                continue
            if image is not None:
                self._store(image)
                self.backoff_s = self.reopen_backoff_s
                continue
            stale = self._staleness()
            if stale is not None:
                self._set_stalled(stale)
                self._drop_device_and_wait()
            else:
                stop.wait(self.poll_interval_s)

    def _try_reopen(self) -> Optional[bool]:
        """True when re-opened, False to retry after the backoff, None when ``_open`` raised
        :class:`SourceEnded` (retrying cannot help: the reason stays in ``error``)."""
        try:
            with self._io_lock:
                self._open_device()
        except SourceEnded as exc:
            self._set_stalled("re-open failed: %s" % _one_line(exc), ended=True)
            return None
        except Exception as exc:  # noqa: BLE001 - keep retrying; the reason is visible in `error`
            self._set_stalled("re-open failed: %s" % _one_line(exc))
            self._wait_backoff()
            return False
        self.reopens += 1
        with self._cond:
            self._last_frame_t = self.clock()
        return True

    def _drop_device_and_wait(self) -> None:
        with self._io_lock:
            self._release_device()
        self._wait_backoff()

    def _wait_backoff(self) -> None:
        delay = self.backoff_s
        self.backoff_s = min(self.backoff_s * 2.0, self.max_backoff_s)
        self._stop.wait(delay)

    def _staleness(self) -> Optional[str]:
        """The stall reason if no frame arrived within the limit (camera clock), else None."""
        with self._cond:
            if self._last_frame_t is None or self._ended:
                return None
            limit = self.stale_limit_s if self._frames_since_open else max(self.stale_limit_s,
                                                                           self.first_frame_timeout_s)
            age = self.clock() - self._last_frame_t
        if age > limit:
            return "no new frame for %.2f s (limit %.2f s)" % (age, limit)
        return None

    def _store(self, image: np.ndarray) -> Frame:
        """Make ``image`` the newest frame; wake waiters. Called by the capture path only."""
        image = self._fit(image)
        now = self.clock()
        with self._cond:
            if self._latest is not None:
                dt = now - self._latest.timestamp
                if dt > 0:
                    prev = self._fps_dt
                    self._fps_dt = dt if prev is None else prev + self.fps_smoothing * (dt - prev)
            self._seq += 1
            self._latest = Frame(image, now, self._seq)
            self._last_frame_t = now
            self._frames_since_open += 1
            recovered = self._stall_reason
            self._stall_reason = None
            self._cond.notify_all()
        if recovered is not None:
            log.info("%s recovered (was: %s)", self._name(), recovered)
        return self._latest

    def _fit(self, image: np.ndarray) -> np.ndarray:
        """Resize to width x height if a backend delivered another size (cheap check otherwise)."""
        shape = getattr(image, "shape", None)
        if shape is None or tuple(shape[:2]) == (self.height, self.width):
            return image
        import cv2

        return cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)

    def _set_stalled(self, reason: str, ended: bool = False) -> None:
        with self._cond:
            first = self._stall_reason is None
            final = ended and not self._ended  # "it will not come back": worth saying, even mid-stall
            self._stall_reason = reason
            self._ended = self._ended or ended
            self.last_error = reason
            self._cond.notify_all()
        if first or final:
            log.warning("%s stalled: %s", self._name(), reason)
        else:
            log.debug("%s still stalled: %s", self._name(), reason)

    # ------------------------------------------------------------- publishing (traits)
    def _notify_loop(self) -> None:
        """Publish the newest frame and state as traits, and watch for staleness. Runs user
        observers, so it may be slow; capture never waits for it."""
        published: Tuple[Optional[int], Optional[str]] = (None, None)
        tick = min(0.05, self.stale_limit_s / 4.0)
        while not self._stop.is_set():
            stale = self._staleness()
            if stale is not None:
                with self._cond:
                    already = self._stall_reason is not None
                if not already:
                    self._set_stalled(stale)
            with self._cond:
                state = (self._latest.seq if self._latest is not None else None, self._stall_reason)
                if state == published and not self._stop.is_set():
                    self._cond.wait(tick)
                    continue
            published = state
            try:
                self._publish_traits()
            except Exception:  # noqa: BLE001 - a broken observer must not kill the notifier
                log.exception("%s: an observer of the camera raised", self._name())

    def _publish_traits(self) -> None:
        with self._cond:
            frame, reason, fps_dt = self._latest, self._stall_reason, self._fps_dt
        with self.hold_trait_notifications():
            self.stalled = reason is not None
            self.error = reason or ""
            self.fps = 0.0 if reason is not None or not fps_dt else 1.0 / fps_dt
            if frame is not None and self.value is not frame.image:
                self.value = frame.image

    def _name(self) -> str:
        return type(self).__name__


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return "%s: %s" % (type(exc).__name__, text[0]) if text else type(exc).__name__
