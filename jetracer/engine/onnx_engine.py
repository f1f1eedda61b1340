"""The onnxruntime backend: the folded network exported to ONNX, fp32 or int8 (static QDQ).

The int8 model is quantised per output channel for weights and per tensor for activations,
calibrated on real frames (an XY dataset or simulator renders). The input stays exact: raw pixels
0..255 quantise to uint8 with scale 1. The head after the last convolution (pooling and the
fully connected layers) stays in float: it costs microseconds, and the output (x, y) keeps full
resolution instead of 256 levels and never saturates at a calibrated range.

Inputs and outputs are bound once (IO binding over preallocated numpy buffers), so a frame costs
one copy into the input buffer and one ``run``; no per-frame allocation in Python.
"""

import io
import logging
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np

from ..errors import EngineError
from .backends import require
from .base import Engine

__all__ = ["OnnxEngine", "export_onnx", "quantize_int8", "default_threads", "INPUT_NAME", "OUTPUT_NAME"]

log = logging.getLogger(__name__)

INPUT_NAME = "pixels"
OUTPUT_NAME = "xy"
#: CUDA only: onnxruntime's TensorRT provider rebuilds its engine on every load (minutes on a Nano)
#: unless given a cache; on the car the TensorRT path is the torch2trt backend.
_GPU_PROVIDERS = ("CUDAExecutionProvider",)


def default_threads():
    """Intra-op threads: the cores this process may use, at most 4 (ResNet-18 at batch 1 gains
    little beyond that, and a camera thread and the pilot need a core too on a 4-core Jetson)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


#: 13 is the first opset with per-channel QDQ, and the newest that JetPack 4's torch 1.10 exports
#: (its limit is 14) and older onnxruntime wheels load.
ONNX_OPSET = 13


def export_onnx(folded, opset=ONNX_OPSET):
    """ONNX bytes of a folded (raw-pixel) model with a fixed (1, 3, H', W') float input."""
    import torch

    require("onnx")
    h, w = _folded_input_hw(folded)
    x = torch.zeros((1, 3, h, w), dtype=torch.float32)
    buf = io.BytesIO()
    kwargs = dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=opset, do_constant_folding=True)
    model = folded.float().cpu().eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice in torch >= 2.9
        try:
            torch.onnx.export(model, (x,), buf, dynamo=False, **kwargs)
        except TypeError:  # torch < 2.5 has no `dynamo` argument (the Jetson wheels)
            torch.onnx.export(model, (x,), buf, **kwargs)
    return buf.getvalue()


def _folded_input_hw(folded):
    size = getattr(folded, "input_size", None)
    if size is None:
        raise EngineError("export needs folded.input_size (set by the engine builder)")
    return size[0] + 2 * folded.pad[0], size[1] + 2 * folded.pad[1]


def _head_nodes(model_proto):
    """Nodes after the last convolution (pooling, flatten, the fully connected head): kept in float.

    They cost microseconds, and quantising them buys nothing but risk: a hidden unit of the head
    that exceeds its calibrated range on a new frame clips, and the steering output saturates.
    """
    nodes = list(model_proto.graph.node)
    last_conv = max((i for i, n in enumerate(nodes) if n.op_type == "Conv"), default=-1)
    return [n.name for n in nodes[last_conv + 1:] if n.name]


def quantize_int8(onnx_bytes, calibration_inputs):
    """int8 QDQ ONNX bytes, calibrated on ``calibration_inputs`` (padded float32 (1, 3, H', W') arrays)."""
    onnx = require("onnx")
    require("onnxruntime")
    import onnxruntime.quantization as quantization

    if not calibration_inputs:
        raise EngineError("int8 needs calibration frames: pass --calib DIR (an XY dataset) or run with the simulator")

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self._it = iter(calibration_inputs)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {INPUT_NAME: x}

    with tempfile.TemporaryDirectory(prefix="jetracer-quant-") as tmp:
        src, pre, dst = (Path(tmp) / n for n in ("model.onnx", "pre.onnx", "int8.onnx"))
        src.write_bytes(onnx_bytes)
        try:  # onnxruntime < 1.13 has no pre-processing step
            from onnxruntime.quantization.shape_inference import quant_pre_process

            quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        except Exception as exc:  # noqa: BLE001 - optimisation is optional; quantise the plain export
            log.info("quantisation pre-processing skipped: %s", exc)
            pre = src
        exclude = _head_nodes(onnx.load(str(pre)))
        quantization.quantize_static(
            str(pre), str(dst), Reader(), quant_format=quantization.QuantFormat.QDQ, per_channel=True,
            activation_type=quantization.QuantType.QUInt8, weight_type=quantization.QuantType.QInt8,
            calibrate_method=quantization.CalibrationMethod.MinMax, nodes_to_exclude=exclude,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})
        return dst.read_bytes()


class OnnxEngine(Engine):
    """An onnxruntime session over a folded model (``onnx_bytes``) with IO bound to fixed buffers.

    ``providers`` None: the CUDA provider first when this onnxruntime has it, then CPU.
    ``threads`` None: :func:`default_threads`.
    """

    backend = "onnxruntime"

    def __init__(self, onnx_bytes, meta, providers=None, threads=None):
        ort = require("onnxruntime")
        super().__init__(meta)
        self.onnx_bytes = onnx_bytes
        available = ort.get_available_providers()
        if providers is None:
            providers = [p for p in _GPU_PROVIDERS if p in available] + ["CPUExecutionProvider"]
        self.threads = int(threads or default_threads())
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # No spin-waiting between frames: on a 2-4 core car the camera and pilot threads need those
        # cycles, and on a shared CPU spinning pools starve each other (measured: no cost to latency).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(onnx_bytes, options, providers=list(providers))
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise EngineError("onnxruntime cannot load this engine (%s): rebuild it with `jetracer optimize`"
                              % str(exc).splitlines()[0][:200]) from None
        self.providers = self.session.get_providers()
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or len(outputs) != 1:
            raise EngineError("this ONNX engine has %d inputs and %d outputs, expected 1 and 1: rebuild it with "
                              "`jetracer optimize`" % (len(inputs), len(outputs)))
        self._input = self._padded_input(np.float32)
        if list(inputs[0].shape) != list(self._input.shape):
            raise EngineError("this ONNX engine takes %s, its header says %s: rebuild it with `jetracer optimize`"
                              % (inputs[0].shape, list(self._input.shape)))
        self._input_view = self._interior(self._input)
        self._output = np.zeros((1, 2 * len(self.categories)), dtype=np.float32)
        self._binding = self.session.io_binding()
        self._binding.bind_ortvalue_input(inputs[0].name, ort.OrtValue.ortvalue_from_numpy(self._input))
        self._binding.bind_output(outputs[0].name, "cpu", 0, np.float32, list(self._output.shape),
                                  self._output.ctypes.data)

    def _stage(self, image):
        np.copyto(self._input_view, image.transpose(2, 0, 1), casting="unsafe")

    def _infer(self):
        self.session.run_with_iobinding(self._binding)
        return self._output

    def payload(self):
        return self.onnx_bytes
