"""The `fast` network at the shipped 128x128 input exports to ONNX (the route to onnxruntime and TensorRT)
with the numbers torch gives: its last feature map (8x8) does not divide into the 3x3 pool, which ONNX's
adaptive pooling refuses, so the pool is two constant matrix products there."""

import numpy as np
import pytest
import torch
import torch.nn as nn

from jetracer.models.fast import FastNet, GridAveragePool


@pytest.mark.parametrize("size", [(8, 8), (6, 6), (7, 5), (13, 9)])
def test_grid_pool_is_adaptive_average_pooling(size):
    x = torch.randn(2, 4, *size)
    assert torch.allclose(GridAveragePool(3)(x), nn.AdaptiveAvgPool2d(3)(x), atol=1e-6)


@pytest.mark.parametrize("side", [96, 128])
def test_fast_net_exports_to_onnx_with_the_same_outputs(tmp_path, side):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    torch.manual_seed(0)
    net = FastNet(outputs=4).eval()
    x = torch.rand(1, 3, side, side)
    path = tmp_path / "fast.onnx"
    import inspect

    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(net, x, str(path), input_names=["x"], output_names=["y"], opset_version=13, **legacy)
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        expected = net(x).numpy()
    assert np.allclose(out, expected, atol=1e-4)
