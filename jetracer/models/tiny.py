"""``tiny``: a small CNN that learns road following in a minute on a laptop CPU.

Four strided conv blocks, then a 4x4 spatial pool (it keeps *where* the road is, which a global
pool would blur), then two linear layers. Meant for 64x64 inputs; tests and quick simulator runs.
Imported only by the factory, so torch loads only when a model is built.
"""

import torch.nn as nn

__all__ = ["TinyNet"]


def _block(cin, cout):
    return [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class TinyNet(nn.Module):
    def __init__(self, outputs=2):
        super().__init__()
        self.features = nn.Sequential(*(_block(3, 16) + _block(16, 32) + _block(32, 48) + _block(48, 64)))
        self.pool = nn.AdaptiveAvgPool2d((4, 4))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 16, 64), nn.ReLU(inplace=True), nn.Linear(64, outputs))

    def forward(self, x):
        return self.head(self.pool(self.features(x)))
