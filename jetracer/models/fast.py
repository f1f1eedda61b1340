"""``fast``: a small plain CNN for 96x96 frames, about 100x cheaper than ResNet-18 at 224x224.

Why it is fast under TensorRT on a Jetson Nano (Maxwell GPU, no tensor cores) by construction:

- only dense 3x3 convolutions, batch norm and ReLU: TensorRT folds each BN into its convolution and
  fuses the ReLU, so every block is one fused kernel; there are no depthwise or grouped convolutions
  (poorly served on Maxwell, where they are memory-bound and get no fast kernels), no squeeze-excite,
  no hard-swish, no upsampling, nothing TensorRT 8.2 (JetPack 4.6) lacks;
- channel counts are multiples of 8 (fp16 and int8 kernels want aligned channels);
- 96x96 input: the camera frame is resized once (the engine's resize), and the whole network is
  about 30 MFLOPs (ResNet-18 at 224x224: 3.6 GFLOPs), ~0.2 M parameters, small enough that weights
  and activations stay in the Nano's L2 cache between layers;
- strided convolutions instead of pooling layers, and a final 3x3 average pool that keeps coarse
  *where* information (left/right of the road) before one linear layer.
"""

import torch.nn as nn

__all__ = ["FastNet"]

#: (output channels, stride) of each 3x3 conv; 96 -> 48 -> 24 -> 12 -> 6
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
        self.pool = nn.AdaptiveAvgPool2d((3, 3))
        self.flatten = nn.Flatten()
        self.out = nn.Linear(cin * 9, outputs)

    def forward(self, x):
        return self.out(self.flatten(self.pool(self.body(x))))
