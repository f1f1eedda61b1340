"""Build an engine from a model file and prove it steers like the model, before anyone drives it.

Used by ``jetracer optimize`` and by :func:`cached_engine` (the demo and the pilot build an engine
on first use and keep it beside the model, keyed by the model's hash and the library versions).
"""

import hashlib
import logging
import time
from pathlib import Path

from ..errors import EngineError
from ..util.digest import file_sha256

__all__ = ["OptimizeResult", "optimize_model", "cached_engine", "ensure_engine", "file_sha256"]

log = logging.getLogger(__name__)


class OptimizeResult:
    """The engine, its parity report against the fp32 model, and where its check frames came from."""

    def __init__(self, engine, report, frames_from, inference_p50_ms, tolerance):
        self.engine, self.report, self.frames_from = engine, report, frames_from
        self.inference_p50_ms, self.tolerance = inference_p50_ms, tolerance

    @property
    def within_tolerance(self):
        return self.report["max_dx"] <= self.tolerance

    def summary(self):
        r = self.report
        return ("%s %s: parity vs the fp32 torch model on %d %s: max |dx| %.4f, mean |dx| %.4f, max |dy| %.4f, "
                "mean |dy| %.4f; inference p50 %.2f ms" % (
                    self.engine.backend, self.engine.precision, r["frames"], self.frames_from, r["max_dx"],
                    r["mean_dx"], r["max_dy"], r["mean_dy"], self.inference_p50_ms))

    def save(self, path, force=False):
        """Write the engine atomically; refused (one-line EngineError) beyond tolerance unless ``force``."""
        if not self.within_tolerance and not force:
            raise EngineError("engine not written: max |dx| %.4f exceeds --tolerance %g on %d frames; try "
                              "--precision fp16/fp32, more --calib images, or --force to write it anyway"
                              % (self.report["max_dx"], self.tolerance, self.report["frames"]))
        self.engine.save(path)


#: int8 activation ranges are the min/max seen in calibration: too few frames and a new frame's
#: activation clips, turning the steering (measured on the shipped model: 32 frames -> max |dx| 0.35,
#: 128 -> 0.06, 256 -> 0.024 on 200 unseen simulator frames).
CALIBRATION_FRAMES = 256
PARITY_FRAMES = 128


def _frames(calib_dir, n_val, n_calib, size, need_calib):
    """(calibration frames, validation frames, description); disjoint where there are enough images."""
    from .frames import folder_frames, frame_source

    if calib_dir:
        frames = folder_frames(calib_dir, n_val + (n_calib if need_calib else 0), seed=0)
        if len(frames) < 2:
            return frames, frames, "image(s) from %s (too few to split)" % calib_dir
        if not need_calib:
            return [], frames, "images from %s" % calib_dir
        n_check = min(n_val, len(frames) // 2)  # a small folder: at least half of it calibrates
        return frames[n_check:], frames[:n_check], "images from %s" % calib_dir
    calib = frame_source(n_calib, size, seed=1, allow_synthetic=False)[0] if need_calib else []
    val, what = frame_source(n_val, size, seed=2, allow_synthetic=False)
    return calib, val, what


def optimize_model(model_path, backend="auto", precision="auto", calib_dir=None, frames=PARITY_FRAMES,
                   tolerance=0.05, threads=None, calib_frames=CALIBRATION_FRAMES, workspace_bytes=None,
                   calib_algorithm="minmax"):
    """Build an engine from ``model_path`` and check its parity on ``frames`` validation frames
    (calibrating int8 on ``calib_frames`` others, from ``calib_dir`` when given: the user's own
    images, else the simulator). Nothing is written: see :meth:`OptimizeResult.save`."""
    import numpy as np

    from .backends import choose_backend
    from .loader import build_engine, engine_meta, load_model_file
    from .parity import check_parity

    model, model_meta = load_model_file(model_path)
    meta = engine_meta(model_meta)
    backend = choose_backend(backend)
    # On the car, "auto" calibrates int8 only on the user's own images: simulator frames are not their track.
    need_calib = precision == "int8" or (precision == "auto" and (calib_dir or backend != "tensorrt"))
    calib, val, what = _frames(calib_dir, frames, calib_frames, meta["input_size"], need_calib=bool(need_calib))
    engine = build_engine(model, model_meta, backend=backend, precision=precision, calib_frames=calib,
                          threads=threads, workspace_bytes=workspace_bytes, calib_algorithm=calib_algorithm)
    if "int8_calibration" in engine.meta:
        engine.meta["int8_calibration"]["frames_from"] = what
    timings = []
    report = check_parity(model, meta, engine, val, timings)
    engine.meta.update(parity=dict(report, tolerance=tolerance, frames_from=what),
                       source={"model": str(model_path), "sha256": file_sha256(model_path)},
                       created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    inference = float(np.median([t["inference_ms"] for t in timings]))
    return OptimizeResult(engine, report, what, inference, tolerance)


def _cache_key(model_path, backend, precision):
    import jetracer

    from ..models.convention import RULES
    from .backends import have

    # RULES: engines cached before plain state_dicts were read as BGR fed those models the wrong colours
    parts = [file_sha256(model_path), backend, precision, jetracer.__version__, RULES]
    if backend == "onnxruntime" and have("onnxruntime"):
        import onnxruntime

        parts.append(onnxruntime.__version__)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def cached_engine(model_path, backend="auto", precision="auto", cache_dir=None, tolerance=0.05, threads=None,
                  frames=PARITY_FRAMES):
    """The engine for ``model_path``, built once (parity-checked on simulator frames) and reused.

    Stored as ``<cache_dir or the model's folder>/<model stem>.<backend>-<precision>.<key>.engine``;
    the key changes with the model file and the library versions, so a stale engine is never used.
    A cached file that no longer loads (another TensorRT, corrupt) is rebuilt.
    """
    from .backends import choose_backend
    from .loader import holds_engine, load_engine

    model_path = Path(model_path)
    if holds_engine(model_path):  # e.g. JetRacer's road_following_model_trt.pth: already an engine
        return load_engine(model_path, backend=backend, threads=threads)
    backend = choose_backend(backend)
    folder = Path(cache_dir) if cache_dir else model_path.parent
    path = folder / ("%s.%s-%s.%s.engine" % (model_path.stem, backend, precision,
                                            _cache_key(model_path, backend, precision)))
    if path.is_file():
        try:
            return load_engine(path, threads=threads)
        except EngineError as exc:
            log.warning("cached engine %s does not load (%s); rebuilding", path, exc)
    result = optimize_model(model_path, backend=backend, precision=precision, frames=frames, tolerance=tolerance,
                            threads=threads)
    try:
        result.save(path)
        log.info("built %s: %s", path, result.summary())
    except OSError as exc:  # a read-only model folder: drive with the engine anyway, rebuild next time
        log.warning("could not cache the engine in %s (%s); pass --engine-cache DIR to keep it",
                    folder, exc.strerror or exc)
    return result.engine


def ensure_engine(path, model_path, backend="auto", precision="auto", frames=PARITY_FRAMES, tolerance=0.05):
    """Build the engine file ``path`` from ``model_path`` once, when it is missing (a profile's
    ``[engine] model``); an existing file is left alone, even if older than the model."""
    path = Path(path)
    if path.exists():
        return path
    if not Path(model_path).is_file():
        raise EngineError("engine %s is missing and the model to build it from, %s, is not there either: train one "
                          "with `jetracer train`, or set the profile's [engine] path to an engine file"
                          % (path, model_path))
    log.warning("engine %s is missing: building it from %s (once; this takes minutes on a Nano)", path, model_path)
    result = optimize_model(model_path, backend=backend, precision=precision, frames=frames, tolerance=tolerance)
    result.save(path)
    log.warning("built %s: %s", path, result.summary())
    return path
