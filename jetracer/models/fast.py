"""``fast``: a small plain CNN for 96x96 to 128x128 frames, 50-100x cheaper than ResNet-18 at 224x224.

Why it is fast under TensorRT on a Jetson Nano (Maxwell GPU, no tensor cores) by construction:

- only dense 3x3 convolutions, batch norm and ReLU: TensorRT folds each BN into its convolution and
  fuses the ReLU, so every block is one fused kernel; there are no depthwise or grouped convolutions
  (poorly served on Maxwell, where they are memory-bound and get no fast kernels), no squeeze-excite,
  no hard-swish, no upsampling, nothing TensorRT 8.2 (JetPack 4.6) lacks;
- channel counts are multiples of 8 (fp16 and int8 kernels want aligned channels);
- a small input (96x96: ~30 MFLOPs; the shipped 128x128: ~55 MFLOPs; ResNet-18 at 224x224: 3.6
  GFLOPs): the camera frame is resized once (the engine's resize), and with ~0.2 M parameters the
  weights and activations stay in the Nano's L2 cache between layers;
- strided convolutions instead of pooling layers, and a final 3x3 average pool that keeps coarse
  *where* information (left/right of the road) before one linear layer. Where the last feature map
  is not a multiple of 3 (8x8 at 128x128) that pool is two small constant matrix products
  (:class:`GridAveragePool`), which ONNX and TensorRT take, where their adaptive pooling refuses.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["FastNet", "GridAveragePool"]

#: (output channels, stride) of each 3x3 conv; 96 -> 48 -> 24 -> 12 -> 6 (128 -> ... -> 8)
_LAYERS = ((24, 2), (32, 1), (48, 2), (48, 1), (64, 2), (64, 1), (96, 2), (128, 1))


class FastNet(nn.Module):
    def __init__(self, outputs=2):
        super().__init__()
        layers, cin = [], 3
        for cout, stride in _LAYERS:
            layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(cout),
                       nn.ReLU(inplace=True)]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.pool = GridAveragePool(3)
        self.flatten = nn.Flatten()
        self.out = nn.Linear(cin * 9, outputs)

    def forward(self, x):
        return self.out(self.flatten(self.pool(self.body(x))))


def _bin_matrix(size, bins, like):
    """(bins, size) averaging matrix: row i averages the cells adaptive pooling puts in bin i
    (from floor(i * size / bins) to ceil((i + 1) * size / bins))."""
    rows = torch.zeros(bins, size, dtype=like.dtype, device=like.device)
    for i in range(bins):
        start, end = (i * size) // bins, -((-(i + 1) * size) // bins)
        rows[i, start:end] = 1.0 / (end - start)
    return rows


class GridAveragePool(nn.Module):
    """``AdaptiveAvgPool2d((n, n))`` with the same numbers for any input size, that exports.

    ONNX (and so onnxruntime and TensorRT) only takes adaptive pooling whose output divides the
    input; for the other sizes the bins overlap and differ in size, which is a fixed linear map:
    ``rows @ x @ cols.T`` with constant averaging matrices. Divisible sizes keep the plain pool.
    The module has no weights, so checkpoints saved with ``nn.AdaptiveAvgPool2d`` load unchanged.
    """

    def __init__(self, bins):
        super().__init__()
        self.bins = int(bins)

    def forward(self, x):
        h, w = int(x.shape[-2]), int(x.shape[-1])
        if h % self.bins == 0 and w % self.bins == 0:
            return F.adaptive_avg_pool2d(x, self.bins)
        rows, cols = _bin_matrix(h, self.bins, x), _bin_matrix(w, self.bins, x)
        return torch.matmul(torch.matmul(rows, x), cols.t())
