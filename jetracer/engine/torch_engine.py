"""The torch backend: the folded network in PyTorch, on the CPU or (fast) on a CUDA GPU.

On a GPU the per-frame work is one host copy into pinned memory, one asynchronous upload, one
CUDA-graph replay (uint8 -> fp16 into the padded channels_last buffer, then the whole network: a
single launch instead of ~60 kernel launches from Python) and one small download. Buffers are
allocated once; nothing is allocated per frame.
"""

import io
import logging

import numpy as np

from ..errors import EngineError
from .base import Engine

__all__ = ["TorchEngine"]

log = logging.getLogger(__name__)


def _first_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


class TorchEngine(Engine):
    """``folded``: a :class:`~jetracer.engine.fold.RawPixelModel`. ``source``: the unfolded model's
    {"arch", "state_dict", "model_meta"} so the engine can be saved and rebuilt.

    ``device`` None picks CUDA when available. ``precision`` fp32 or fp16 (GPU only).
    ``channels_last`` and ``cuda_graph`` default to on for the GPU.
    """

    backend = "torch"

    def __init__(self, folded, meta, device=None, precision="fp32", channels_last=None, cuda_graph=None,
                 source=None):
        import torch

        meta = dict(meta, pad=list(folded.pad), pad_value=list(folded.pad_value), precision=precision)
        super().__init__(meta)
        self._torch = torch
        self.source = source
        self.device = torch.device(device) if device is not None else torch.device(
            "cuda" if torch.cuda.is_available() else "cpu")
        gpu = self.device.type == "cuda"
        if precision not in ("fp32", "fp16"):
            raise EngineError("the torch backend runs fp32 or fp16, not %s: use --backend onnxruntime for int8"
                              % precision)
        if precision == "fp16" and not gpu:
            raise EngineError("fp16 with the torch backend needs a CUDA GPU: use precision fp32 on %s" % self.device)
        self.channels_last = gpu if channels_last is None else bool(channels_last)
        self.cuda_graph = gpu if cuda_graph is None else (bool(cuda_graph) and gpu)
        dtype = torch.float16 if precision == "fp16" else torch.float32
        fmt = torch.channels_last if self.channels_last else torch.contiguous_format
        self.model = folded.to(device=self.device, dtype=dtype, memory_format=fmt).eval()
        h, w = self.input_size
        ph, pw = self.pad
        self._input = torch.empty((1, 3, h + 2 * ph, w + 2 * pw), dtype=dtype, device=self.device,
                                  memory_format=fmt)
        self._input[:] = torch.tensor(self.pad_value, dtype=dtype, device=self.device).view(1, 3, 1, 1)
        if gpu:
            self._setup_gpu()
        else:
            self._input_np = self._interior(self._input.numpy())  # strided view; np.copyto fills it

    # -- CPU -----------------------------------------------------------------------------------------
    def _stage(self, image):
        if self.device.type == "cuda":
            np.copyto(self._host_image, image)
        else:
            np.copyto(self._input_np, image.transpose(2, 0, 1), casting="unsafe")

    def _infer(self):
        if self.device.type == "cuda":
            return self._infer_gpu()
        with self._torch.no_grad():
            out = self.model(self._input)
        return out.numpy()

    # -- GPU -----------------------------------------------------------------------------------------
    def _setup_gpu(self):
        torch = self._torch
        h, w = self.input_size
        ph, pw = self.pad
        torch.backends.cudnn.benchmark = True  # fixed input shape: let cuDNN pick its fastest kernels once
        self._host_image_t = torch.empty((h, w, 3), dtype=torch.uint8, pin_memory=True)
        self._host_image = self._host_image_t.numpy()
        self._dev_image = torch.empty((h, w, 3), dtype=torch.uint8, device=self.device)
        self._interior_t = self._input[:, :, ph:ph + h, pw:pw + w]
        outputs = 2 * len(self.categories)
        self._dev_out = torch.empty((1, outputs), dtype=torch.float32, device=self.device)
        self._host_out_t = torch.empty((1, outputs), dtype=torch.float32, pin_memory=True)
        self._host_out = self._host_out_t.numpy()
        self._stream = torch.cuda.Stream(device=self.device)
        self._graph = None
        # warm up on a side stream (cuDNN autotuning, lazy allocations) before any capture
        self._stream.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(self._stream):
            for _ in range(3):
                self._device_step()
        torch.cuda.current_stream(self.device).wait_stream(self._stream)
        torch.cuda.synchronize(self.device)
        if self.cuda_graph and not hasattr(torch.cuda, "graph"):  # torch < 1.10: no graph API at all
            log.info("this torch has no CUDA graphs; running the network eagerly")
            self.cuda_graph = False
        if self.cuda_graph:
            try:
                # JetPack 4.6's torch 1.10 has the API but is built for CUDA 10.2, and graphs need CUDA 11:
                # CUDAGraph() itself raises there, so the Nano always lands in the eager fallback below.
                graph = torch.cuda.CUDAGraph()
            except RuntimeError as exc:
                log.info("no CUDA graphs with this torch (%s); running the network eagerly", _first_line(exc))
                graph = None
                self.cuda_graph = False
            if graph is not None:
                try:
                    with torch.cuda.graph(graph, stream=self._stream):
                        self._device_step()
                    self._graph = graph
                except RuntimeError as exc:  # an op that cannot be captured: run eagerly, still correct
                    log.warning("CUDA graph capture failed (%s); running the network eagerly", _first_line(exc))
                    self.cuda_graph = False
                    torch.cuda.synchronize(self.device)

    def _device_step(self):
        """Everything between upload and download: cast + pad + layout, the network, fp32 out."""
        with self._torch.no_grad():
            self._interior_t.copy_(self._dev_image.permute(2, 0, 1).unsqueeze(0))
            self._dev_out.copy_(self.model(self._input))

    def _infer_gpu(self):
        torch = self._torch
        with torch.cuda.stream(self._stream):
            self._dev_image.copy_(self._host_image_t, non_blocking=True)
            if self._graph is not None:
                self._graph.replay()
            else:
                self._device_step()
            self._host_out_t.copy_(self._dev_out, non_blocking=True)
        self._stream.synchronize()
        return self._host_out

    # -- saving --------------------------------------------------------------------------------------
    def payload(self):
        if self.source is None:
            raise EngineError("this torch engine was made from a bare module, not a model file: "
                              "save the model with jetracer.models.save_checkpoint instead")
        buf = io.BytesIO()
        self._torch.save(self.source, buf)
        return buf.getvalue()

    def close(self):
        self._graph = None
