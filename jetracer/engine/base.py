"""The engine interface: a camera frame in (BGR uint8, HxWx3), the aim point (x, y) out.

Every backend shares the hot path here: check the frame, resize it only when its size differs from
the network's, and copy it into a buffer allocated once. Subclasses supply ``_stage`` (frame ->
their input buffer) and ``_infer`` (run -> preallocated float32 output of shape (1, 2*categories)).
Nothing in ``predict`` allocates an image-sized array; the preprocessing that JetRacer does per
frame (PIL, to_tensor, normalise) is folded into the network (see ``fold.py``).
"""

import time
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, cast

import numpy as np

from ..errors import EngineError
from ..models.convention import DEFAULT_CATEGORY
from ..protocols import PathLike

__all__ = ["Engine", "Resizer", "check_frame"]


def check_frame(frame: Any) -> None:
    """A one-line EngineError for anything that is not a BGR uint8 HxWx3 image."""
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        what = "%s %s" % (getattr(frame, "dtype", type(frame).__name__), getattr(frame, "shape", ""))
        raise EngineError("engine input must be a BGR uint8 HxWx3 image (a camera frame), got %s" % what.strip())


class Resizer:
    """Resize frames to ``(height, width)`` into one reused buffer; frames of that size pass through.

    OpenCV's area/bilinear resize when cv2 is importable (JetPack ships it), else nearest-neighbour
    by a precomputed index gather, so the car never needs more than numpy.
    """

    def __init__(self, size: Sequence[int]) -> None:
        self.height, self.width = int(size[0]), int(size[1])
        self._buffer = np.empty((self.height, self.width, 3), dtype=np.uint8)
        self._source_shape: Optional[Tuple[int, int]] = None
        self._index: Optional[np.ndarray] = None
        self._cv2: Any = None  # OpenCV when importable
        try:
            import cv2

            self._cv2 = cv2
        except ImportError:
            pass

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if (h, w) == (self.height, self.width):
            return frame
        if self._cv2 is not None:
            shrink = h >= self.height and w >= self.width
            interpolation = self._cv2.INTER_AREA if shrink else self._cv2.INTER_LINEAR
            out = self._cv2.resize(frame, (self.width, self.height), dst=self._buffer, interpolation=interpolation)
            if out is not self._buffer:  # cv2 allocates when dst is unusable; keep our buffer authoritative
                self._buffer[...] = out
            return self._buffer
        if self._source_shape != (h, w):
            rows = np.minimum(((np.arange(self.height) + 0.5) * h / self.height).astype(np.intp), h - 1)
            cols = np.minimum(((np.arange(self.width) + 0.5) * w / self.width).astype(np.intp), w - 1)
            self._index = (rows[:, None] * w + cols[None, :]).ravel()
            self._source_shape = (h, w)
        flat = frame.reshape(h * w, 3) if frame.flags.c_contiguous else np.ascontiguousarray(frame).reshape(h * w, 3)
        np.take(flat, cast(np.ndarray, self._index), axis=0, out=self._buffer.reshape(-1, 3))
        return self._buffer


class Engine:
    """Base of every backend. ``engine(frame) -> (x, y)`` of the first category;
    ``engine.predict(frame) -> ndarray (categories, 2)``; ``last_timings`` in milliseconds.

    ``meta`` (the engine file's header) carries ``input_size`` [h, w], ``categories``,
    ``precision`` and the folded input's ``pad`` / ``pad_value``.
    """

    backend = "none"

    def __init__(self, meta: Mapping[str, Any]) -> None:
        self.meta = dict(meta)
        self.input_size = tuple(int(v) for v in meta["input_size"])
        self.categories = list(meta.get("categories") or [DEFAULT_CATEGORY])
        self.precision = meta.get("precision", "fp32")
        self.pad = tuple(int(v) for v in meta.get("pad", (0, 0)))
        self.pad_value = tuple(float(v) for v in meta.get("pad_value", (0.0, 0.0, 0.0)))
        self.last_timings = {"preprocess_ms": 0.0, "inference_ms": 0.0}
        self._resize = Resizer(self.input_size)

    # -- the hot path -------------------------------------------------------------------------------
    def _run(self, frame: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        check_frame(frame)
        self._stage(self._resize(frame))
        t1 = time.perf_counter()
        out = self._infer()
        t2 = time.perf_counter()
        self.last_timings["preprocess_ms"] = (t1 - t0) * 1e3
        self.last_timings["inference_ms"] = (t2 - t1) * 1e3
        return out

    def __call__(self, frame: np.ndarray) -> Tuple[float, float]:
        out = self._run(frame)
        return float(out[0, 0]), float(out[0, 1])

    def predict(self, frame: np.ndarray) -> np.ndarray:
        """(categories, 2) normalised (x, y) per category; a fresh array the caller may keep."""
        return self._run(frame).reshape(-1, 2).copy()

    # -- helpers for subclasses ---------------------------------------------------------------------
    def _padded_input(self, dtype: Any = np.float32) -> np.ndarray:
        """The folded network's input buffer, its border filled once with the mean pixel."""
        h, w = self.input_size
        ph, pw = self.pad
        buf = np.empty((1, 3, h + 2 * ph, w + 2 * pw), dtype=dtype)
        buf[:] = np.asarray(self.pad_value, dtype=dtype)[None, :, None, None]
        return buf

    def _interior(self, buf: np.ndarray) -> np.ndarray:
        """The frame area of a padded (1, 3, H', W') buffer, as a CHW view."""
        h, w = self.input_size
        ph, pw = self.pad
        return buf[0, :, ph:ph + h, pw:pw + w]

    def _stage(self, image: np.ndarray) -> None:
        raise NotImplementedError

    def _infer(self) -> np.ndarray:
        raise NotImplementedError

    def save(self, path: PathLike) -> None:
        """Write the engine file (atomically) so ``load_engine(path)`` gives this engine back."""
        from .fileformat import write_engine_file

        write_engine_file(path, self.header(), self.payload())

    def header(self) -> Dict[str, Any]:
        return dict(self.meta, backend=self.backend, precision=self.precision)

    def payload(self) -> bytes:
        raise EngineError("a %s engine cannot be saved" % self.backend)

    def close(self) -> None:
        """Release device resources (GPU buffers, sessions)."""

    def __repr__(self) -> str:
        return "<%s %s %s %dx%d>" % (type(self).__name__, self.backend, self.precision,
                                     self.input_size[1], self.input_size[0])
