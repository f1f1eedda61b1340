"""Stand-ins for ``tensorrt`` and ``torch2trt`` that record every call, for machines without a GPU.

``make_tensorrt(version)`` has exactly the Python API of that TensorRT (8.2: bindings and
``execute_async_v2``, ``max_workspace_size``; 8.5: both binding and tensor APIs,
``set_memory_pool_limit``; 10: only tensor names, ``execute_async_v3``, ``build_serialized_network``
and the memory-pool limit), with the parameter names of TensorRT's Python docs, so a call TensorRT
would reject fails here too. Its "engine" runs the torch model the stand-in torch2trt converted, on
CPU memory read and written through the addresses it was given, so outputs are real numbers.

The stand-in torch2trt functions follow torch2trt's own ``torch2trt()`` per release (read from
v0.3.0, v0.4.0, v0.5.0 and master 4e820ae): what they set on the builder config, which build
method they call, and the module global ``trt`` they look TensorRT up through.
"""

import ctypes
import itertools
import sys
import types

import numpy as np
import torch

MODELS = {}          # engine key -> (torch module, input dtype, output dtype, noise)
_KEYS = itertools.count(1)
trt = None           # what the stand-in torch2trt functions use, as torch2trt.torch2trt does


class _Enum:
    def __init__(self, kind, name, value):
        self.kind, self.name, self.value = kind, name, value

    def __repr__(self):
        return "%s.%s" % (self.kind, self.name)

    def __int__(self):
        return self.value


def _enum(kind, names):
    return types.SimpleNamespace(**{n: _Enum(kind, n, i) for i, n in enumerate(names)})


def _version(v):
    return tuple(int(p) for p in v.split(".")[:2])


def _read(ptr, n, dtype):
    ctype = {np.float32: ctypes.c_float, np.float16: ctypes.c_uint16}[dtype]
    raw = np.ctypeslib.as_array((ctype * n).from_address(ptr))
    return raw.view(np.float16) if dtype is np.float16 else raw.copy()


def _write(ptr, array):
    array = np.ascontiguousarray(array)
    ctypes.memmove(ptr, array.ctypes.data, array.nbytes)


def make_tensorrt(version):
    """A ``tensorrt`` module with the API of TensorRT ``version`` ("8.2.1.8", "8.5.2.2", "10.3.0.30")."""
    v = _version(version)
    m = types.ModuleType("tensorrt")
    m.__version__ = version
    m.calls = []
    dtypes = _enum("DataType", ["FLOAT", "HALF", "INT8", "INT32", "BOOL"])
    m.DataType = dtypes
    m.float32, m.float16, m.int8, m.int32, m.bool = dtypes.FLOAT, dtypes.HALF, dtypes.INT8, dtypes.INT32, dtypes.BOOL
    np_of = {id(m.float32): np.float32, id(m.float16): np.float16}
    m.LayerType = _enum("LayerType", ["CONVOLUTION", "SCALE", "ACTIVATION", "POOLING", "ELEMENTWISE", "REDUCE",
                                      "SHUFFLE", "MATRIX_MULTIPLY", "CONSTANT"]
                        + (["FULLY_CONNECTED"] if v < (10, 0) else []))
    flags = ["FP16", "INT8", "GPU_FALLBACK", "REFIT"] + (["STRICT_TYPES"] if v < (10, 0) else [])
    flags += ["OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS"] if v >= (8, 2) else []
    m.BuilderFlag = _enum("BuilderFlag", flags)
    m.CalibrationAlgoType = _enum("CalibrationAlgoType", ["LEGACY_CALIBRATION", "ENTROPY_CALIBRATION",
                                                          "ENTROPY_CALIBRATION_2", "MINMAX_CALIBRATION"])
    m.DeviceType = _enum("DeviceType", ["GPU", "DLA"])
    m.NetworkDefinitionCreationFlag = _enum("NetworkDefinitionCreationFlag", ["EXPLICIT_BATCH"])
    if v >= (8, 4):
        m.MemoryPoolType = _enum("MemoryPoolType", ["WORKSPACE", "DLA_MANAGED_SRAM"])
    if v >= (8, 5):
        m.TensorIOMode = _enum("TensorIOMode", ["NONE", "INPUT", "OUTPUT"])
    severity = _enum("Severity", ["INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"])

    class ILogger:
        Severity = severity

        def __init__(self):
            pass

        def log(self, severity, msg):
            pass

    class Logger(ILogger):
        def __init__(self, min_severity=severity.WARNING):
            ILogger.__init__(self)

    for name in ("INTERNAL_ERROR", "ERROR", "WARNING", "INFO", "VERBOSE"):
        setattr(Logger, name, getattr(severity, name))
    m.ILogger, m.Logger = ILogger, Logger

    class IInt8Calibrator:
        def __init__(self):
            pass

    class IInt8MinMaxCalibrator(IInt8Calibrator):
        pass

    class IInt8EntropyCalibrator2(IInt8Calibrator):
        pass

    m.IInt8Calibrator, m.IInt8MinMaxCalibrator, m.IInt8EntropyCalibrator2 = (
        IInt8Calibrator, IInt8MinMaxCalibrator, IInt8EntropyCalibrator2)

    class Tensor:
        def __init__(self, name, shape, dtype):
            self.name, self.shape, self.dtype = name, tuple(shape), dtype
            self.is_network_output = False

    class Layer:
        def __init__(self, kind, name, out_dtype=None):
            self.type, self.name = kind, name
            self.precision = m.float32
            self.num_outputs = 1
            self._out = Tensor(name + ":out", (), out_dtype or m.float32)
            self.output_types = {}

        def get_output(self, index):
            return self._out

        def set_output_type(self, index, dtype):
            self.output_types[index] = dtype

    class Network:
        def __init__(self):
            self.layers, self.inputs, self.outputs = [], [], []

        @property
        def num_layers(self):
            return len(self.layers)

        def get_layer(self, index):
            return self.layers[index]

        def add_input(self, name, dtype, shape):
            t = Tensor(name, shape, dtype)
            self.inputs.append(t)
            return t

        def mark_output(self, tensor):
            tensor.is_network_output = True
            self.outputs.append(tensor)

    class HostMemory:
        def __init__(self, data):
            self._data = bytes(data)

        def __bytes__(self):
            return self._data

    class Config:
        def __init__(self):
            self.flags, self.int8_calibrator, self._workspace = set(), None, None
            self.pools = {}
            self.default_device_type = m.DeviceType.GPU
            self.DLA_core = 0

        def set_flag(self, flag):
            self.flags.add(flag.name)

        def set_device_type(self, layer, device_type):
            pass

        def add_optimization_profile(self, profile):
            return 0

        def set_calibration_profile(self, profile):
            pass

    if v < (10, 0):
        def _get_ws(self):
            return self._workspace

        def _set_ws(self, size):
            m.calls.append(("config.max_workspace_size", int(size)))
            self._workspace = int(size)

        Config.max_workspace_size = property(_get_ws, _set_ws)
    if v >= (8, 4):
        def set_memory_pool_limit(self, pool, pool_size):
            m.calls.append(("config.set_memory_pool_limit", pool.name, int(pool_size)))
            self.pools[pool.name] = int(pool_size)

        Config.set_memory_pool_limit = set_memory_pool_limit

    class Profile:
        def set_shape(self, input, min, opt, max):
            pass

    class Builder:
        fail = None  # tests set a message: the next build logs it as an error and returns None

        def __init__(self, logger):
            assert isinstance(logger, ILogger), "Builder(logger) needs an ILogger"
            self.logger = logger
            if v < (10, 0):
                self.max_batch_size = 1

        def create_builder_config(self):
            return Config()

        def create_network(self, flags=0):
            return Network()

        def create_optimization_profile(self):
            return Profile()

        def _build(self, network, config):
            m.calls.append(("build", sorted(config.flags), dict(config.pools), config._workspace))
            if Builder.fail:
                self.logger.log(severity.ERROR, Builder.fail)
                return None
            key = network.key
            model, in_dt, out_dt, _ = MODELS[key]
            noise = 0.0
            if "INT8" in config.flags:
                cal = config.int8_calibrator
                assert isinstance(cal, IInt8Calibrator), "int8 needs an IInt8Calibrator"
                assert cal.get_batch_size() == 1
                fed = 0
                shape = network.inputs[0].shape
                while True:
                    ptrs = cal.get_batch([network.inputs[0].name])
                    if not ptrs:
                        break
                    assert len(ptrs) == 1 and isinstance(ptrs[0], int)
                    x = _read(ptrs[0], int(np.prod(shape)), np.float32)
                    assert np.isfinite(x).all() and x.max() <= 255.0
                    fed += 1
                m.calls.append(("calibrated", fed, cal.get_algorithm().name))
                kept = {"fp16": [l.name for l in network.layers if l.precision is m.float16],
                        "fp32": [l.name for l in network.layers if l.precision is m.float32 and l.output_types]}
                m.calls.append(("kept", kept, [l.name for l in network.layers if l.get_output(0).is_network_output
                                               and l.output_types]))
                noise = 1e-3  # int8 is not exact
            MODELS[key] = (model, in_dt, out_dt, noise)
            return b"FAKEPLAN" + version.encode() + b":" + str(key).encode()

        def build_serialized_network(self, network, config):
            m.calls.append(("build_serialized_network",))
            plan = self._build(network, config)
            return None if plan is None else HostMemory(plan)

    if v < (10, 0):
        def build_engine(self, network, config):
            m.calls.append(("build_engine",))
            plan = self._build(network, config)
            return None if plan is None else Runtime(self.logger).deserialize_cuda_engine(plan)

        Builder.build_engine = build_engine
    m.Builder = Builder

    class Engine:
        def __init__(self, key):
            self.key = key
            model, in_dt, out_dt, _ = MODELS[key]
            self._io = [("input_0", True, tuple(model.example_shape), in_dt),
                        ("output_0", False, (1, model.outputs), out_dt)]

        def serialize(self):
            return HostMemory(b"FAKEPLAN" + version.encode() + b":" + str(self.key).encode())

        def create_execution_context(self):
            return Context(self)

    if v < (10, 0):
        Engine.num_bindings = property(lambda self: len(self._io))
        Engine.get_binding_name = lambda self, index: self._io[index][0]
        Engine.get_binding_index = lambda self, name: [n for n, *_ in self._io].index(name)
        Engine.binding_is_input = lambda self, index: self._io[index][1]
        Engine.get_binding_shape = lambda self, index: self._io[index][2]
        Engine.get_binding_dtype = lambda self, index: self._io[index][3]
    if v >= (8, 5):
        def _find(self, name):
            return next(t for t in self._io if t[0] == name)

        Engine.num_io_tensors = property(lambda self: len(self._io))
        Engine.get_tensor_name = lambda self, index: self._io[index][0]
        Engine.get_tensor_mode = lambda self, name: m.TensorIOMode.INPUT if _find(self, name)[1] else \
            m.TensorIOMode.OUTPUT
        Engine.get_tensor_shape = lambda self, name: _find(self, name)[2]
        Engine.get_tensor_dtype = lambda self, name: _find(self, name)[3]

    class Context:
        def __init__(self, engine):
            self.engine, self.addresses = engine, {}

        def _run(self, addresses, stream_handle):
            model, in_dt, out_dt, noise = MODELS[self.engine.key]
            shape = tuple(model.example_shape)
            x = _read(addresses["input_0"], int(np.prod(shape)), np_of[id(in_dt)]).astype(np.float32)
            with torch.no_grad():
                y = model(torch.from_numpy(x.reshape(shape))).numpy() + noise
            _write(addresses["output_0"], y.astype(np_of[id(out_dt)]))
            return True

    if v < (10, 0):
        def execute_async_v2(self, bindings, stream_handle, input_consumed=None):
            assert isinstance(bindings, list) and all(isinstance(b, int) and b for b in bindings)
            assert isinstance(stream_handle, int)
            m.calls.append(("execute_async_v2", len(bindings), stream_handle))
            return self._run({name: bindings[i] for i, (name, *_) in enumerate(self.engine._io)}, stream_handle)

        def set_binding_shape(self, binding, shape):
            m.calls.append(("set_binding_shape", binding, tuple(shape)))
            return True

        Context.execute_async_v2, Context.set_binding_shape = execute_async_v2, set_binding_shape
    if v >= (8, 5):
        def set_tensor_address(self, name, memory):
            assert isinstance(name, str) and isinstance(memory, int) and memory
            m.calls.append(("set_tensor_address", name))
            self.addresses[name] = memory
            return True

        def execute_async_v3(self, stream_handle):
            assert isinstance(stream_handle, int)
            m.calls.append(("execute_async_v3", stream_handle))
            return self._run(self.addresses, stream_handle)

        def set_input_shape(self, name, shape):
            return True

        Context.set_tensor_address, Context.execute_async_v3 = set_tensor_address, execute_async_v3
        Context.set_input_shape = set_input_shape

    class Runtime:
        def __init__(self, logger):
            assert isinstance(logger, ILogger), "Runtime(logger) needs an ILogger"
            self.logger = logger

        def deserialize_cuda_engine(self, serialized_engine):
            data = bytes(serialized_engine)
            m.calls.append(("deserialize_cuda_engine", len(data)))
            head = b"FAKEPLAN" + version.encode() + b":"
            if not data.startswith(head):
                self.logger.log(severity.ERROR, "1: [stdArchiveReader.cpp::StdArchiveReader::40] Error Code 1: "
                                                "Serialization (Serialization assertion stdVersionRead == "
                                                "serializationVersion failed.Version tag does not match.)")
                return None
            return Engine(int(data[len(head):]))

    m.Runtime = Runtime
    m.Network, m.Layer = Network, Layer
    return m


def register_model(model, example_shape, outputs, in_dtype, out_dtype):
    """An engine key for ``model`` (the network an engine made of it runs)."""
    key = next(_KEYS)
    model.example_shape, model.outputs = tuple(example_shape), int(outputs)
    MODELS[key] = (model, in_dtype, out_dtype, 0.0)
    return key


def plan_bytes(trt_module, key):
    return b"FAKEPLAN" + trt_module.__version__.encode() + b":" + str(key).encode()


# -- torch2trt, per release ----------------------------------------------------------------------------
class TRTModule(torch.nn.Module):
    def __init__(self, engine=None, input_names=None, output_names=None):
        super().__init__()
        self.engine, self.input_names, self.output_names = engine, input_names, output_names


def _convert(builder, model, inputs):
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH))
    x = inputs[0]
    with torch.no_grad():
        outputs = model(x).numel()
    network.key = register_model(model, x.shape, outputs, trt.float32, trt.float32)
    network.add_input("input_0", trt.float32, tuple(x.shape))
    L = trt.LayerType
    fc = getattr(L, "FULLY_CONNECTED", L.MATRIX_MULTIPLY)
    for kind, name in ((L.CONVOLUTION, "model.conv1"), (L.SCALE, "model.bn1"), (L.ACTIVATION, "model.relu"),
                       (L.POOLING, "model.maxpool"), (L.CONVOLUTION, "model.layer1.0.conv1"),
                       (L.REDUCE, "model.avgpool"), (L.SHUFFLE, "model.flatten"), (fc, "model.fc"),
                       (L.ELEMENTWISE, "model.fc.bias")):
        network.layers.append(trt.Layer(kind, name))
    network.layers.append(trt.Layer(L.SHUFFLE, "shape", out_dtype=trt.int32))
    network.mark_output(network.layers[-2].get_output(0))
    return network


def _common(model, inputs, log_level, fp16_mode, int8_mode, int8_calib_algorithm):
    logger = trt.Logger(log_level)
    builder = trt.Builder(logger)
    config = builder.create_builder_config()
    network = _convert(builder, model, inputs)
    if fp16_mode:
        config.set_flag(trt.BuilderFlag.FP16)
    config.default_device_type = trt.DeviceType.GPU
    if int8_mode:
        config.set_flag(trt.BuilderFlag.INT8)

        class DatasetCalibrator(trt.IInt8Calibrator):  # torch2trt's own: fed the example only
            def get_batch_size(self):
                return 1

            def get_batch(self, *args):
                raise AssertionError("torch2trt's own calibrator must not be used")

            def get_algorithm(self):
                return int8_calib_algorithm

        config.int8_calibrator = DatasetCalibrator()
    return builder, network, config


def torch2trt_v030(module, inputs, input_names=None, output_names=None, log_level=None, max_batch_size=1,
                   fp16_mode=False, max_workspace_size=1 << 25, strict_type_constraints=False, keep_network=True,
                   int8_mode=False, int8_calib_dataset=None, int8_calib_algorithm=None, int8_calib_batch_size=1,
                   use_onnx=False, **kwargs):
    builder = trt.Builder(trt.Logger(log_level))
    return TRTModule(builder.build_cuda_engine(None))  # TensorRT 7's API: AttributeError on TensorRT 8


def torch2trt_v040(module, inputs, input_names=None, output_names=None, log_level=None, max_batch_size=1,
                   fp16_mode=False, max_workspace_size=1 << 25, strict_type_constraints=False, keep_network=True,
                   int8_mode=False, int8_calib_dataset=None, int8_calib_algorithm=None, int8_calib_batch_size=1,
                   use_onnx=False, default_device_type=None, dla_core=0, gpu_fallback=True, device_types=None,
                   **kwargs):
    builder, network, config = _common(module, inputs, log_level, fp16_mode, int8_mode, int8_calib_algorithm)
    config.max_workspace_size = max_workspace_size
    builder.max_batch_size = max_batch_size
    return TRTModule(builder.build_engine(network, config), ["input_0"], ["output_0"])


torch2trt_v050 = torch2trt_v040  # same build calls: max_workspace_size and build_engine unconditionally


def torch2trt_master(module, inputs, input_names=None, output_names=None, log_level=None, fp16_mode=False,
                     max_workspace_size=1 << 25, strict_type_constraints=False, keep_network=True, int8_mode=False,
                     int8_calib_dataset=None, int8_calib_algorithm=None, use_onnx=False, default_device_type=None,
                     dla_core=0, gpu_fallback=True, device_types=None, min_shapes=None, max_shapes=None,
                     opt_shapes=None, onnx_opset=None, max_batch_size=None, avg_timing_iterations=None, **kwargs):
    builder, network, config = _common(module, inputs, log_level, fp16_mode, int8_mode, int8_calib_algorithm)
    major = int(trt.__version__.split(".")[0])
    if major < 10:
        config.max_workspace_size = max_workspace_size
        engine = builder.build_engine(network, config)
    else:
        plan = builder.build_serialized_network(network, config)
        engine = None if plan is None else trt.Runtime(trt.Logger()).deserialize_cuda_engine(plan)
    return TRTModule(engine, ["input_0"], ["output_0"])


def install(monkeypatch, trt_version="8.5.2.2", torch2trt_release="master"):
    """Put a stand-in ``tensorrt`` (and ``torch2trt`` of that release, unless None) in sys.modules."""
    global trt
    trt_module = make_tensorrt(trt_version)
    monkeypatch.setitem(sys.modules, "tensorrt", trt_module)
    monkeypatch.setattr(sys.modules[__name__], "trt", trt_module)
    if torch2trt_release is None:
        monkeypatch.setitem(sys.modules, "torch2trt", None)
        return trt_module
    package = types.ModuleType("torch2trt")
    package.__file__ = "/usr/local/lib/python3/dist-packages/torch2trt/__init__.py"
    package.__path__ = []
    package.torch2trt = {"v0.3.0": torch2trt_v030, "v0.4.0": torch2trt_v040, "v0.5.0": torch2trt_v050,
                         "master": torch2trt_master}[torch2trt_release]
    package.TRTModule = TRTModule
    monkeypatch.setitem(sys.modules, "torch2trt", package)
    monkeypatch.setitem(sys.modules, "torch2trt.torch2trt", sys.modules[__name__])
    if torch2trt_release == "master":
        trt_module_mod = types.ModuleType("torch2trt.trt_module")
        trt_module_mod.__spec__ = types.SimpleNamespace(name="torch2trt.trt_module")
        monkeypatch.setitem(sys.modules, "torch2trt.trt_module", trt_module_mod)
    else:
        monkeypatch.setitem(sys.modules, "torch2trt.trt_module", None)
    return trt_module
