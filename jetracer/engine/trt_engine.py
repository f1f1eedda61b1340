"""The TensorRT backend: the car's path (fp16 on a Nano, int8 from Xavier on).

Building: torch2trt converts the folded network to a TensorRT network, and TensorRT builds it with
settings chosen here rather than torch2trt's defaults, applied on the builder torch2trt creates
(:class:`_BuildHooks`): the workspace limit the way each TensorRT wants it (``max_workspace_size``
before 8.4, the memory-pool limit from 8.4; TensorRT 10 has only the latter and torch2trt master
does not set it), our own int8 calibrator with a named algorithm, the input convolution and the
head kept out of int8, and TensorRT's log captured, so a build that returns no engine (a Nano out
of memory, an unsupported layer) is one line with TensorRT's own last error, and nothing is written.

Storing: the engine file's payload is the serialised TensorRT engine, byte for byte; the header
records its I/O tensors (names, shapes, dtypes), the TensorRT version and GPU it was built for and
how int8 was calibrated. Loading needs no pickle (so no torch unpickler allow-list is involved) and
no torch2trt module: :class:`TensorRTRunner` runs the engine with TensorRT's own runtime, through
``execute_async_v2`` and binding indices up to TensorRT 8.4 and through tensor addresses and
``execute_async_v3`` from 8.5 (the only way in TensorRT 10).

JetRacer's own files (``torch.save(model_trt.state_dict())`` from its notebooks) load here too:
:func:`engine_from_torch2trt_state` runs their engine with JetRacer's preprocessing (the BGR frame
as it comes, ImageNet mean/std in RGB order).

Every function takes the TensorRT module from :func:`require` (or a caller), so the tests drive the
same code with stand-ins that check each call against the signatures of TensorRT 8.2, 8.5 and 10.
"""

import inspect
import logging

import numpy as np

from ..errors import BackendMissing, EngineBuildError, EngineError
from .backends import cuda_device_info, require
from .base import Engine

__all__ = ["TensorRTEngine", "TensorRTRunner", "build_tensorrt", "tensorrt_runtime", "check_tensorrt_compat",
           "require_torch2trt", "load_tensorrt_engine", "engine_from_torch2trt_state", "CALIBRATION_ALGORITHMS",
           "DEFAULT_WORKSPACE_BYTES"]

log = logging.getLogger(__name__)

#: The largest scratch memory one layer may use while TensorRT builds and runs: a Nano shares 4 GB
#: between CPU and GPU, and TensorRT 10's default (all device memory) lets tactic timing take it all.
DEFAULT_WORKSPACE_BYTES = 256 << 20

#: Our names -> TensorRT's. minmax (the default) is what the onnxruntime path uses and what the
#: calibration-frame counts were measured with: no activation of a road frame is clipped, so the
#: sharpest turn in the calibration set is represented. entropy2 is torch2trt's default on TensorRT 8.
CALIBRATION_ALGORITHMS = {"minmax": ("MINMAX_CALIBRATION", "IInt8MinMaxCalibrator"),
                          "entropy2": ("ENTROPY_CALIBRATION_2", "IInt8EntropyCalibrator2")}

#: What works, per JetPack: v0.4.0 is the first release that builds with TensorRT 8's builder config
#: (older ones call ``build_cuda_engine``, gone in TensorRT 8); only master since the TensorRT 10
#: refactor (4e820ae, May 2024, after v0.5.0) runs on TensorRT 10.
TORCH2TRT_HINT = ("JetPack 4.6-6.0 (TensorRT 8): `git clone -b v0.5.0 https://github.com/NVIDIA-AI-IOT/torch2trt && "
                  "cd torch2trt && sudo python3 setup.py install`; JetPack 6.1/6.2 (TensorRT 10): the same from "
                  "master (4e820ae or later), without `-b v0.5.0`")

_DTYPES = ("float32", "float16", "int8", "int32", "bool")
_TORCH_DTYPES = {"float32": "float32", "float16": "float16", "int8": "int8", "int32": "int32", "bool": "bool"}


def _first_line(exc):
    text = str(exc).strip()
    return (text.splitlines()[0][:200] if text else type(exc).__name__)


def _major(version):
    try:
        return int(str(version).split(".")[0])
    except ValueError:
        return 0


def require_torch2trt(trt=None):
    """torch2trt, checked to be a release that builds with this TensorRT (one-line hint otherwise)."""
    import importlib.util

    trt = trt or require("tensorrt")
    torch2trt = require("torch2trt")
    convert = getattr(torch2trt, "torch2trt", None)
    where = getattr(torch2trt, "__file__", None) or "torch2trt"
    if not callable(convert):
        raise BackendMissing("%s has no torch2trt() function: install %s" % (where, TORCH2TRT_HINT))
    try:
        params = inspect.signature(convert).parameters
    except (TypeError, ValueError):
        params = {}
    if "default_device_type" not in params or "int8_calib_algorithm" not in params:
        raise BackendMissing("torch2trt at %s is older than v0.4.0 and cannot build with TensorRT %s: install %s"
                             % (where, trt.__version__, TORCH2TRT_HINT))
    if _major(trt.__version__) >= 10:
        try:
            has_trt10 = importlib.util.find_spec("torch2trt.trt_module") is not None
        except (ImportError, ValueError):
            has_trt10 = False
        if not has_trt10:
            raise BackendMissing("torch2trt at %s predates TensorRT 10 support (v0.5.0 or older) and TensorRT %s is "
                                 "installed: install %s" % (where, trt.__version__, TORCH2TRT_HINT))
    return torch2trt


def tensorrt_runtime():
    """What this machine would run an engine with: {"tensorrt", "gpu", "compute_capability"}."""
    trt = require("tensorrt")
    gpu = cuda_device_info()
    if gpu is None:
        raise EngineError("TensorRT engines need a CUDA GPU and none is visible: use an onnxruntime or torch engine")
    return {"tensorrt": trt.__version__, "gpu": gpu["name"], "compute_capability": gpu["compute_capability"]}


def check_tensorrt_compat(header, runtime, path="engine"):
    """Refuse an engine built with another TensorRT or for another GPU, in one line."""
    built = (header.get("tensorrt"), header.get("gpu"), header.get("compute_capability"))
    here = (runtime.get("tensorrt"), runtime.get("gpu"), runtime.get("compute_capability"))
    if built == here:
        return
    model = (header.get("source") or {}).get("model") or "MODEL.pth"
    raise EngineError(
        "%s was built with TensorRT %s for %s (compute capability %s), but this machine has TensorRT %s on %s (%s): "
        "rebuild it on this device with `jetracer optimize %s --backend tensorrt --out %s`"
        % (path, built[0], built[1], built[2], here[0], here[1], here[2], model, path))


# -- TensorRT's log ----------------------------------------------------------------------------------
def make_logger(trt):
    """A ``trt.ILogger`` that keeps what TensorRT said (the last error goes into our one-liners)."""

    class CapturingLogger(trt.ILogger):
        def __init__(self):
            trt.ILogger.__init__(self)
            self.errors = []

        def log(self, severity, msg):
            sev = trt.ILogger.Severity
            if severity in (sev.INTERNAL_ERROR, sev.ERROR):
                self.errors.append(str(msg).strip())
                log.debug("TensorRT error: %s", msg)
            elif severity == sev.WARNING:
                log.debug("TensorRT warning: %s", msg)

        def last_error(self):
            return self.errors[-1].splitlines()[0][:200] if self.errors else "TensorRT logged no error"

    return CapturingLogger()


# -- running an engine -------------------------------------------------------------------------------
def _dtype_name(trt, dtype):
    for name in _DTYPES:
        if dtype == getattr(trt, name, None):
            return name
    return str(dtype)


def io_tensors(trt, engine):
    """[{"name", "mode", "shape", "dtype"}] of an ICudaEngine, through the API its TensorRT has."""
    found = []
    if hasattr(engine, "num_io_tensors"):  # TensorRT 8.5 on (the only API in 10)
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
            found.append({"name": name, "mode": "input" if is_input else "output",
                          "shape": [int(d) for d in engine.get_tensor_shape(name)],
                          "dtype": _dtype_name(trt, engine.get_tensor_dtype(name))})
    else:  # TensorRT 8.0-8.4: bindings
        for i in range(engine.num_bindings):
            found.append({"name": engine.get_binding_name(i),
                          "mode": "input" if engine.binding_is_input(i) else "output",
                          "shape": [int(d) for d in engine.get_binding_shape(i)],
                          "dtype": _dtype_name(trt, engine.get_binding_dtype(i))})
    return found


class TensorRTRunner:
    """A deserialised engine and one execution context, run on a caller's CUDA stream.

    Addresses are bound once (the caller's buffers live as long as the runner), so a frame costs
    one ``execute_async_v3(stream)`` (TensorRT 8.5 on) or ``execute_async_v2(bindings, stream)``.
    """

    def __init__(self, trt, payload, path="engine", logger=None):
        self.trt = trt
        self.path = path
        self.logger = logger or make_logger(trt)
        self.runtime = trt.Runtime(self.logger)
        engine = self.runtime.deserialize_cuda_engine(bytes(payload))
        if engine is None:
            raise EngineError("TensorRT could not deserialise %s (%s): an engine runs only on the TensorRT and GPU "
                              "that built it; rebuild it on this device with `jetracer optimize MODEL.pth --backend "
                              "tensorrt --out %s`" % (path, self.logger.last_error(), path))
        self.engine = engine
        self.context = engine.create_execution_context()
        if self.context is None:
            raise EngineError("TensorRT could not create an execution context for %s (%s): free GPU memory (close "
                              "other notebooks and `jetracer web`) and try again" % (path, self.logger.last_error()))
        self.tensors = io_tensors(trt, engine)
        self.v3 = hasattr(self.context, "execute_async_v3") and hasattr(engine, "num_io_tensors")
        self._bindings = None

    def tensor(self, mode, name=None):
        for t in self.tensors:
            if t["mode"] == mode and (name is None or t["name"] == name):
                return t
        raise EngineError("%s has no %s tensor%s (it has %s): rebuild it with `jetracer optimize`"
                          % (self.path, mode, " named %r" % name if name else "",
                             ", ".join(t["name"] for t in self.tensors) or "none"))

    def bind(self, addresses):
        """``addresses``: {tensor name: device pointer} for every I/O tensor."""
        missing = [t["name"] for t in self.tensors if t["name"] not in addresses]
        if missing:
            raise EngineError("%s has I/O tensors this engine does not feed (%s): rebuild it with `jetracer optimize`"
                              % (self.path, ", ".join(missing)))
        if self.v3:
            for t in self.tensors:
                if t["mode"] == "input" and -1 in t["shape"]:
                    self.context.set_input_shape(t["name"], tuple(abs(d) for d in t["shape"]))
                self.context.set_tensor_address(t["name"], int(addresses[t["name"]]))
        else:
            bindings = [0] * len(self.tensors)
            for t in self.tensors:
                index = self.engine.get_binding_index(t["name"])
                if t["mode"] == "input" and -1 in t["shape"]:
                    self.context.set_binding_shape(index, tuple(abs(d) for d in t["shape"]))
                bindings[index] = int(addresses[t["name"]])
            self._bindings = bindings

    def execute(self, stream_handle):
        if self.v3:
            ok = self.context.execute_async_v3(stream_handle)
        else:
            ok = self.context.execute_async_v2(self._bindings, stream_handle)
        if not ok:
            raise EngineError("TensorRT failed to run %s (%s)" % (self.path, self.logger.last_error()))

    def close(self):
        self.context = self.engine = self.runtime = None


# -- building ----------------------------------------------------------------------------------------
def _make_calibrator(trt, algorithm, inputs, device):
    """An int8 calibrator of the named algorithm feeding ``inputs`` (padded float32 arrays), one a batch."""
    import torch

    enum_name, base_name = CALIBRATION_ALGORITHMS[algorithm]
    base = getattr(trt, base_name)

    class Calibrator(base):
        def __init__(self):
            base.__init__(self)
            self.inputs = list(inputs)
            self.fed = 0
            self.buffer = torch.empty(tuple(np.asarray(self.inputs[0]).shape), dtype=torch.float32, device=device)

        def get_batch_size(self):
            return 1

        def get_batch(self, names, *args):
            if self.fed >= len(self.inputs):
                return None
            self.buffer.copy_(torch.from_numpy(np.ascontiguousarray(self.inputs[self.fed], dtype=np.float32)))
            if self.buffer.is_cuda:
                torch.cuda.synchronize()
            self.fed += 1
            return [int(self.buffer.data_ptr())]

        def get_algorithm(self):
            return getattr(trt.CalibrationAlgoType, enum_name)

        def read_calibration_cache(self, *args):
            return None  # calibrate on these frames every time: a cache would hide a changed dataset

        def write_calibration_cache(self, cache, *args):
            return None

    return Calibrator()


def _head_and_input_layers(trt, network):
    """(input convolution, head) layer indices to keep out of int8.

    The first convolution reads raw 0..255 pixels (the folded preprocessing), all positive, so
    TensorRT's symmetric int8 range would leave half its codes unused on the layer that sees the
    most detail; it runs in fp16. The head (everything after the last pooling: flatten, the fully
    connected layer, its bias) turns 512 features into the steering point, is tiny, and runs in fp32.
    """
    layers = [network.get_layer(i) for i in range(network.num_layers)]
    conv = next((i for i, l in enumerate(layers) if l.type == trt.LayerType.CONVOLUTION), None)
    pools = [i for i, l in enumerate(layers) if l.type in (trt.LayerType.POOLING, trt.LayerType.REDUCE)]
    head = list(range(pools[-1] + 1, len(layers))) if pools else []
    return ([conv] if conv is not None and _float_output(trt, layers[conv]) else [],
            [i for i in head if _float_output(trt, layers[i])])


def _float_output(trt, layer):
    try:
        return layer.num_outputs > 0 and layer.get_output(0).dtype in (trt.float32, trt.float16)
    except (AttributeError, RuntimeError):
        return False


class _BuildHooks:
    """Stands in for the ``tensorrt`` module inside torch2trt's ``torch2trt()`` for one build.

    torch2trt makes its own logger, builder and config and builds at once, with no way to pass
    settings; through this stand-in its ``trt.Logger(...)`` is our capturing logger and its
    ``trt.Builder(...)`` is a real builder whose ``build_engine``/``build_serialized_network`` first
    applies our settings to the config torch2trt prepared, then keeps the serialised result.
    """

    def __init__(self, trt, precision, workspace_bytes, calibrator, keep_layers):
        self._trt = trt
        self.precision = precision
        self.workspace_bytes = int(workspace_bytes)
        self.calibrator = calibrator
        self.keep_layers = keep_layers
        self.logger = make_logger(trt)
        self.serialized = None
        self.built = False
        self.kept = {"fp16": [], "fp32": []}
        self.workspace_api = None
        hooks = self

        class Logger:
            def __new__(cls, *args, **kwargs):
                return hooks.logger

        for name in ("Severity", "INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"):
            if hasattr(trt.Logger, name):
                setattr(Logger, name, getattr(trt.Logger, name))
        self.Logger = Logger
        self.Builder = lambda logger=None, *args: _HookedBuilder(trt.Builder(hooks.logger), hooks)

    def __getattr__(self, name):
        return getattr(self._trt, name)

    def configure(self, network, config):
        trt = self._trt
        if hasattr(config, "set_memory_pool_limit"):  # TensorRT 8.4 on; the only way in 10
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, self.workspace_bytes)
            self.workspace_api = "set_memory_pool_limit"
        else:
            config.max_workspace_size = self.workspace_bytes
            self.workspace_api = "max_workspace_size"
        if self.precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
            config.int8_calibrator = self.calibrator
            if self.keep_layers:
                self._keep_out_of_int8(network, config)

    def _keep_out_of_int8(self, network, config):
        trt = self._trt
        conv, head = _head_and_input_layers(trt, network)
        for indices, name, dtype in ((conv, "fp16", trt.float16), (head, "fp32", trt.float32)):
            for i in indices:
                layer = network.get_layer(i)
                layer.precision = dtype
                if not getattr(layer.get_output(0), "is_network_output", False):  # outputs keep their own type
                    layer.set_output_type(0, dtype)
                self.kept[name].append(layer.name)
        if conv or head:
            flag = getattr(trt.BuilderFlag, "PREFER_PRECISION_CONSTRAINTS", None)  # TensorRT 8.2 on
            config.set_flag(flag if flag is not None else trt.BuilderFlag.STRICT_TYPES)

    def record(self, result, serialized):
        self.built = True
        self.serialized = None if result is None else bytes(serialized() if callable(serialized) else serialized)


class _HookedBuilder:
    def __init__(self, builder, hooks):
        object.__setattr__(self, "_builder", builder)
        object.__setattr__(self, "_hooks", hooks)

    def __getattr__(self, name):
        return getattr(self._builder, name)

    def __setattr__(self, name, value):  # torch2trt v0.4.0 sets builder.max_batch_size
        setattr(self._builder, name, value)

    def build_engine(self, network, config):  # TensorRT 8 (removed in 10): returns an ICudaEngine
        self._hooks.configure(network, config)
        engine = self._builder.build_engine(network, config)
        self._hooks.record(engine, (lambda: engine.serialize()) if engine is not None else None)
        return engine

    def build_serialized_network(self, network, config):  # TensorRT 8 and 10: returns IHostMemory
        self._hooks.configure(network, config)
        plan = self._builder.build_serialized_network(network, config)
        self._hooks.record(plan, plan)
        return plan


def _build_failed(hooks, what):
    return EngineBuildError(
        "TensorRT could not build the engine (%s; TensorRT said: %s): free memory (close other notebooks, "
        "`jetracer web` and the drive service), try `--precision fp16`, or a smaller `--workspace-mb`; "
        "nothing was written" % (what, hooks.logger.last_error()))


def build_tensorrt(folded, meta, precision, calibration_inputs=None, workspace_bytes=DEFAULT_WORKSPACE_BYTES,
                   calib_algorithm="minmax", keep_layers=True):
    """A TensorRTEngine from a folded model; ``calibration_inputs``: padded float32 arrays (int8).

    ``calib_algorithm``: a key of :data:`CALIBRATION_ALGORITHMS`; ``keep_layers``: keep the input
    convolution and the head in fp16 in an int8 engine (recorded in the header either way).
    """
    import torch

    trt = require("tensorrt")
    runtime = tensorrt_runtime()
    device = _buffer_device()
    torch2trt = require_torch2trt(trt)
    if calib_algorithm not in CALIBRATION_ALGORITHMS:
        raise EngineError("unknown calibration algorithm %r: choose %s" % (calib_algorithm,
                                                                          ", ".join(CALIBRATION_ALGORITHMS)))
    h, w = meta["input_size"]
    ph, pw = folded.pad
    model = folded.float().to(device).eval()
    example = torch.empty((1, 3, h + 2 * ph, w + 2 * pw), dtype=torch.float32, device=device)
    example[:] = torch.tensor(folded.pad_value, device=device).view(1, 3, 1, 1)
    calibrator = None
    if precision == "int8":
        if not calibration_inputs:
            raise EngineError("int8 needs calibration frames: pass --calib DIR (an XY dataset)")
        calibrator = _make_calibrator(trt, calib_algorithm, calibration_inputs, device)
    hooks = _BuildHooks(trt, precision, workspace_bytes, calibrator, keep_layers)
    options = dict(fp16_mode=precision in ("fp16", "int8"), max_workspace_size=int(workspace_bytes),
                   int8_mode=precision == "int8", log_level=trt.Logger.WARNING)
    if precision == "int8":
        options["int8_calib_algorithm"] = getattr(trt.CalibrationAlgoType, CALIBRATION_ALGORITHMS[calib_algorithm][0])
    namespace = torch2trt.torch2trt.__globals__
    saved = namespace.get("trt")
    namespace["trt"] = hooks
    try:
        with torch.no_grad():
            module = torch2trt.torch2trt(model, [example], **options)
    except Exception as exc:  # noqa: BLE001 - a converter or TensorRT failing, in any of many ways
        raise _build_failed(hooks, "torch2trt failed: %s" % _first_line(exc)) from None
    finally:
        namespace["trt"] = saved
    if not hooks.built:  # a torch2trt that built without our builder: take what it made
        engine = getattr(module, "engine", None)
        hooks.serialized = bytes(engine.serialize()) if engine is not None else None
    del module
    if hooks.serialized is None:
        raise _build_failed(hooks, "the builder returned no engine")
    meta = dict(meta, pad=list(folded.pad), pad_value=list(folded.pad_value), precision=precision, **runtime)
    meta["tensorrt_build"] = {"workspace_bytes": int(workspace_bytes), "workspace_api": hooks.workspace_api}
    if precision == "int8":
        meta["int8_calibration"] = {
            "algorithm": CALIBRATION_ALGORITHMS[calib_algorithm][0], "frames": calibrator.fed,
            "kept_out_of_int8": hooks.kept}
    return load_tensorrt_engine(hooks.serialized, meta, "the new engine", trt=trt, check=False)


def load_tensorrt_engine(payload, header, path="engine", trt=None, check=True):
    """A TensorRTEngine from an engine file's payload, after the version/GPU check."""
    trt = trt or require("tensorrt")
    if check:
        check_tensorrt_compat(header, tensorrt_runtime(), path)
    _load_torch2trt_plugins()
    runner = TensorRTRunner(trt, payload, path)
    recorded = header.get("io")
    found = [dict(t) for t in runner.tensors]
    if recorded is not None and recorded != found:
        raise EngineError("%s does not hold the engine its header describes (tensors %s, header %s): rebuild it with "
                          "`jetracer optimize`" % (path, _describe(found), _describe(recorded)))
    return TensorRTEngine(runner, dict(header, io=found), bytes(payload))


def _buffer_device():
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _describe(tensors):
    return ", ".join("%s %s %s" % (t["name"], t["dtype"], "x".join(str(d) for d in t["shape"])) for t in tensors)


def _load_torch2trt_plugins():
    """torch2trt registers TensorRT plugins on import; an engine converted with one needs them."""
    import importlib

    try:
        importlib.import_module("torch2trt")
    except Exception:  # noqa: BLE001 - optional: plain ResNet engines need no plugin
        pass


def engine_from_torch2trt_state(state, path, trt=None):
    """An engine for JetRacer's ``torch.save(model_trt.state_dict())``: its TensorRT engine fed the
    BGR frame unswapped, /255, ImageNet mean/std in RGB order (JetRacer's ``preprocess``)."""
    from ..models.convention import IMAGENET_MEAN, IMAGENET_STD, default_categories

    trt = trt or require("tensorrt")
    require_torch2trt(trt)
    runner = TensorRTRunner(trt, state["engine"], path)
    inputs = [t for t in runner.tensors if t["mode"] == "input"]
    outputs = [t for t in runner.tensors if t["mode"] == "output"]
    names = list(state.get("input_names") or []) + list(state.get("output_names") or [])
    if len(inputs) != 1 or len(outputs) != 1 or len(inputs[0]["shape"]) != 4 or inputs[0]["shape"][1] != 3:
        raise EngineError("%s is a torch2trt engine with inputs %s and outputs %s: a road-following engine has one "
                          "1x3xHxW input and one output" % (path, _describe(inputs), _describe(outputs)))
    unknown = [n for n in names if n not in (inputs[0]["name"], outputs[0]["name"])]
    if unknown:
        raise EngineError("%s names tensors its engine does not have (%s): the file is damaged; save it again"
                          % (path, ", ".join(unknown)))
    n_out = int(np.prod([abs(d) for d in outputs[0]["shape"]]))
    if n_out < 2 or n_out % 2:
        raise EngineError("%s has %d outputs, not (x, y) pairs: this is not a road-following engine" % (path, n_out))
    categories = default_categories(n_out // 2)
    half = inputs[0]["dtype"] == "float16"
    meta = {"backend": "tensorrt", "format": "torch2trt", "input_size": [abs(d) for d in inputs[0]["shape"][2:]],
            "categories": categories, "precision": "fp16" if half else "fp32", "channel_order": "BGR",
            "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD), "normalise": True, "pad": [0, 0],
            "pad_value": [0.0, 0.0, 0.0], "tensorrt": trt.__version__, "io": runner.tensors}
    return TensorRTEngine(runner, meta, None)


class TensorRTEngine(Engine):
    """Frames staged in pinned memory, uploaded asynchronously, cast (and for JetRacer's files
    normalised) on the GPU, run by TensorRT on the same stream; buffers allocated once.

    The buffers live on the GPU; where torch sees none (only possible with a stand-in TensorRT, as in
    the tests, since :func:`tensorrt_runtime` refuses a machine without one) they live on the CPU.
    """

    backend = "tensorrt"

    def __init__(self, runner, meta, payload):
        import torch

        device = _buffer_device()
        super().__init__(meta)
        self._torch = torch
        self.runner = runner
        self._payload = payload
        h, w = self.input_size
        ph, pw = self.pad
        inp, out = runner.tensor("input"), runner.tensor("output")
        expected = [1, 3, h + 2 * ph, w + 2 * pw]
        if [abs(d) for d in inp["shape"]] != expected:
            raise EngineError("%s takes %s, but its header says %s: rebuild it with `jetracer optimize`"
                              % (runner.path, "x".join(str(d) for d in inp["shape"]),
                                 "x".join(str(d) for d in expected)))
        n_out = int(np.prod([abs(d) for d in out["shape"]]))
        if n_out != 2 * len(self.categories):
            raise EngineError("%s has %d outputs for %d categories: rebuild it with `jetracer optimize`"
                              % (runner.path, n_out, len(self.categories)))
        cuda = torch.device(device).type == "cuda"
        in_dtype, out_dtype = (getattr(torch, _TORCH_DTYPES.get(t["dtype"], "float32")) for t in (inp, out))
        self._input = torch.empty(tuple(expected), dtype=in_dtype, device=device)
        self._input[:] = torch.tensor(self.pad_value, dtype=in_dtype, device=device).view(1, 3, 1, 1)
        self._interior_t = self._input[:, :, ph:ph + h, pw:pw + w]
        self._scale = self._shift = None
        if meta.get("normalise"):  # JetRacer's files: the network expects normalised input
            mean = np.asarray(meta["mean"], dtype=np.float64)
            std = np.asarray(meta["std"], dtype=np.float64)
            self._scale = torch.tensor(1.0 / (255.0 * std), dtype=in_dtype, device=device).view(1, 3, 1, 1)
            self._shift = torch.tensor(mean / std, dtype=in_dtype, device=device).view(1, 3, 1, 1)
        self._host_image_t = torch.empty((h, w, 3), dtype=torch.uint8, pin_memory=cuda)
        self._host_image = self._host_image_t.numpy()
        self._dev_image = torch.empty((h, w, 3), dtype=torch.uint8, device=device)
        self._dev_out = torch.empty(tuple(abs(d) for d in out["shape"]), dtype=out_dtype, device=device)
        self._host_out_t = torch.empty((1, n_out), dtype=torch.float32, pin_memory=cuda)
        self._host_out = self._host_out_t.numpy()
        if cuda:
            self._stream = torch.cuda.Stream(device=device)
            self._stream.wait_stream(torch.cuda.current_stream(device))  # the padding fill above happens first
            self.stream_handle = self._stream.cuda_stream
        else:
            self._stream, self.stream_handle = None, 0
        runner.bind({inp["name"]: self._input.data_ptr(), out["name"]: self._dev_out.data_ptr()})

    def close(self):
        """Drop the TensorRT execution context and the device buffers."""
        if self.runner is not None:
            self.runner.close()
        self.runner = None
        self._input = self._interior_t = self._dev_image = self._dev_out = None

    def _stage(self, image):
        np.copyto(self._host_image, image)

    def _infer(self):
        torch = self._torch
        if self.runner is None:
            raise EngineError("this TensorRT engine was closed")
        on_stream = torch.cuda.stream(self._stream) if self._stream is not None else _Nothing()
        with on_stream, torch.no_grad():
            self._dev_image.copy_(self._host_image_t, non_blocking=True)
            self._interior_t.copy_(self._dev_image.permute(2, 0, 1).unsqueeze(0))
            if self._scale is not None:
                self._interior_t.mul_(self._scale).sub_(self._shift)
            self.runner.execute(self.stream_handle)
            self._host_out_t.copy_(self._dev_out.view(1, -1), non_blocking=True)
        if self._stream is not None:
            self._stream.synchronize()
        return self._host_out

    def payload(self):
        if self._payload is None:
            raise EngineError("a torch2trt file's engine is saved by torch2trt; build a jetracer engine with "
                              "`jetracer optimize MODEL.pth --backend tensorrt --out ENGINE`")
        return self._payload


class _Nothing:
    """``contextlib.nullcontext`` for Python 3.6."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
