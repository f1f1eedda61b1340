"""The TensorRT backend through torch2trt: the car's path (fp16 on a Nano, int8 from Xavier on).

The payload is torch2trt's own ``TRTModule`` state_dict (so torch2trt tools can read it); our
header adds what a serialized TensorRT engine silently depends on: the TensorRT version and the
GPU it was built for. A mismatch would otherwise surface as a deserialisation error deep inside
TensorRT (or a segfault); here it is one line telling the user to rebuild on this device.
``check_tensorrt_compat`` is plain Python over two dicts, so it is tested without TensorRT.
"""

import io

import numpy as np

from ..errors import EngineError
from .backends import cuda_device_info, require
from .base import Engine

__all__ = ["TensorRTEngine", "build_tensorrt", "tensorrt_runtime", "check_tensorrt_compat"]


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


def build_tensorrt(folded, meta, precision, calibration_inputs=None, workspace_bytes=1 << 28):
    """A TensorRTEngine from a folded model; ``calibration_inputs``: padded float32 arrays (int8)."""
    import torch

    runtime = tensorrt_runtime()
    torch2trt = require("torch2trt")
    h, w = meta["input_size"]
    ph, pw = folded.pad
    model = folded.float().cuda().eval()
    example = torch.zeros((1, 3, h + 2 * ph, w + 2 * pw), dtype=torch.float32, device="cuda")
    example[:] = torch.tensor(folded.pad_value, device="cuda").view(1, 3, 1, 1)
    options = dict(fp16_mode=precision in ("fp16", "int8"), max_workspace_size=workspace_bytes)
    if precision == "int8":
        if not calibration_inputs:
            raise EngineError("int8 needs calibration frames: pass --calib DIR (an XY dataset)")
        options.update(int8_mode=True,
                       int8_calib_dataset=[[torch.from_numpy(x).cuda()] for x in calibration_inputs])
    with torch.no_grad():
        module = torch2trt.torch2trt(model, [example], **options)
    meta = dict(meta, pad=list(folded.pad), pad_value=list(folded.pad_value), precision=precision, **runtime)
    return TensorRTEngine(module, meta)


def load_trt_module(payload, header, path):
    """A TRTModule from our payload, after the version/GPU check."""
    import torch

    check_tensorrt_compat(header, tensorrt_runtime(), path)
    torch2trt = require("torch2trt")
    module = torch2trt.TRTModule()
    try:
        try:
            state = torch.load(io.BytesIO(payload), map_location="cuda", weights_only=True)
        except TypeError:  # torch < 1.13 (JetPack 4) has no weights_only
            state = torch.load(io.BytesIO(payload), map_location="cuda")
        module.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - TensorRT reports deserialisation failures in many ways
        raise EngineError("TensorRT could not deserialise %s (%s): rebuild it on this device with `jetracer optimize`"
                          % (path, str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__)) from None
    return module


class TensorRTEngine(Engine):
    """Frames staged in pinned memory, uploaded asynchronously, cast and padded on the GPU."""

    backend = "tensorrt"

    def __init__(self, module, meta):
        import torch

        super().__init__(meta)
        self._torch = torch
        self.module = module
        h, w = self.input_size
        ph, pw = self.pad
        self._input = torch.empty((1, 3, h + 2 * ph, w + 2 * pw), dtype=torch.float32, device="cuda")
        self._input[:] = torch.tensor(self.pad_value, device="cuda").view(1, 3, 1, 1)
        self._interior_t = self._input[:, :, ph:ph + h, pw:pw + w]
        self._host_image_t = torch.empty((h, w, 3), dtype=torch.uint8, pin_memory=True)
        self._host_image = self._host_image_t.numpy()
        self._dev_image = torch.empty((h, w, 3), dtype=torch.uint8, device="cuda")
        self._host_out_t = torch.empty((1, 2 * len(self.categories)), dtype=torch.float32, pin_memory=True)
        self._host_out = self._host_out_t.numpy()
        self._stream = torch.cuda.Stream()
        self._stream.wait_stream(torch.cuda.current_stream())  # the padding fill above happens first

    def close(self):
        """Drop the TensorRT execution context and the device buffers."""
        self.module = None
        self._input = self._interior_t = self._dev_image = None

    def _stage(self, image):
        np.copyto(self._host_image, image)

    def _infer(self):
        torch = self._torch
        with torch.cuda.stream(self._stream), torch.no_grad():
            self._dev_image.copy_(self._host_image_t, non_blocking=True)
            self._interior_t.copy_(self._dev_image.permute(2, 0, 1).unsqueeze(0))
            out = self.module(self._input)
            self._host_out_t.copy_(out.float().view(1, -1), non_blocking=True)
        self._stream.synchronize()
        return self._host_out

    def payload(self):
        buf = io.BytesIO()
        self._torch.save(self.module.state_dict(), buf)
        return buf.getvalue()
