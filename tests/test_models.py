"""The network factory and model files: JetRacer state_dicts load, damaged or foreign files are one line."""

import os
import pickle

import pytest
import torch
import torchvision

from jetracer.errors import ModelError
from jetracer.models import build_model, load_model, save_checkpoint


@pytest.mark.parametrize("arch,size", [("resnet18", 224), ("resnet34", 224), ("mobilenet_v3_small", 224),
                                       ("tiny", 64)])
def test_each_arch_outputs_an_xy_pair_per_category(arch, size):
    model = build_model(arch, num_categories=2).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, size, size))
    assert tuple(out.shape) == (1, 4)


def test_default_is_jetracers_resnet18():
    model = build_model()
    assert isinstance(model, torchvision.models.ResNet)
    assert (model.fc.in_features, model.fc.out_features) == (512, 2)


def _same_outputs(a, b, size=64, atol=1e-5):
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return torch.allclose(a.eval()(x), b.eval()(x), atol=atol)


def test_checkpoint_round_trip(tmp_path):
    model = build_model("tiny", num_categories=2)
    path = tmp_path / "m.pth"
    meta = {"arch": "tiny", "input_size": [64, 64], "categories": ["apex", "bottleneck"], "val_loss": 0.01,
            "dataset": {"samples": 10, "roots": [tmp_path]}, "channel_order": "rgb"}
    save_checkpoint(path, model, meta)
    assert os.listdir(tmp_path) == ["m.pth"]  # written through a temp file, nothing left beside it
    loaded, got = load_model(path)
    assert not loaded.training
    assert got["format"] == "jetracer-model" and got["version"] == 1
    assert got["categories"] == ["apex", "bottleneck"] and got["input_size"] == [64, 64]
    assert got["channel_order"] == "RGB" and got["mean"] == [0.485, 0.456, 0.406]
    assert got["dataset"]["roots"] == [str(tmp_path)] and got["val_loss"] == 0.01
    assert _same_outputs(model, loaded)
    raw = torch.load(str(path), weights_only=True)  # the file is a plain dict any torch opens safely
    assert raw["arch"] == "tiny" and "fc.weight" not in raw["state_dict"]


def _jetracer_resnet18():
    """What NVIDIA's training notebook saves: torch.save(model.state_dict()) of resnet18, fc = Linear(512, 2)."""
    model = torchvision.models.resnet18(weights=None)
    model.fc = torch.nn.Linear(512, 2)
    return model


def test_plain_jetracer_state_dict_loads_with_jetracer_defaults(tmp_path):
    model = _jetracer_resnet18()
    path = tmp_path / "road_following_model.pth"
    torch.save(model.state_dict(), str(path))
    loaded, meta = load_model(path)
    assert meta["arch"] == "resnet18" and meta["categories"] == ["apex"] and meta["input_size"] == [224, 224]
    # JetRacer's convention: the BGR camera frame, never swapped, ImageNet statistics in RGB order
    assert meta["channel_order"] == "BGR" and meta["mean"] == [0.485, 0.456, 0.406]
    assert meta["std"] == [0.229, 0.224, 0.225]
    assert _same_outputs(model, loaded, size=96)


def test_fp16_state_dict_loads_into_fp32(tmp_path):
    model = _jetracer_resnet18()
    path = tmp_path / "half.pth"
    torch.save({k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}, str(path))
    loaded, _ = load_model(path)
    assert all(p.dtype == torch.float32 for p in loaded.parameters())
    assert _same_outputs(model, loaded, size=96, atol=2e-2)
    # And our own checkpoints can be stored in fp16 (the shipped model, half the size).
    tiny = build_model("tiny")
    save_checkpoint(tmp_path / "tiny16.pth", tiny, {"arch": "tiny", "input_size": [64, 64]}, half=True)
    loaded, _ = load_model(tmp_path / "tiny16.pth")
    assert next(loaded.parameters()).dtype == torch.float32
    assert (tmp_path / "tiny16.pth").stat().st_size < 0.6 * _size_fp32(tiny, tmp_path)


def _size_fp32(model, tmp_path):
    save_checkpoint(tmp_path / "tiny32.pth", model, {"arch": "tiny"})
    return (tmp_path / "tiny32.pth").stat().st_size


def _one_line(exc_info):
    assert "\n" not in str(exc_info.value)
    return str(exc_info.value)


@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n", os.urandom(4096),
                                     pickle.dumps([1, 2, 3]), pickle.dumps({"weights": "none"})],
                         ids=["empty", "text", "random", "pickled-list", "pickled-dict"])
def test_not_a_model_is_one_line(tmp_path, content):
    path = tmp_path / "model.pth"
    path.write_bytes(content)
    with pytest.raises(ModelError) as exc:
        load_model(path)
    assert str(path) in _one_line(exc)


def test_torch_files_that_are_not_road_following_models(tmp_path):
    torch.save({"a": torch.zeros(3)}, str(tmp_path / "foreign.pth"))
    with pytest.raises(ModelError, match="does not recognise") as exc:
        load_model(tmp_path / "foreign.pth")
    _one_line(exc)
    torch.save({"engine": b"serialized", "input_names": ["input_0"]}, str(tmp_path / "trt.pth"))
    with pytest.raises(ModelError, match="TensorRT engine") as exc:
        load_model(tmp_path / "trt.pth")
    _one_line(exc)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "missing.pth")


def test_arch_and_weights_mismatch_is_one_line(tmp_path):
    resnet34 = build_model("resnet34")
    path = tmp_path / "m.pth"
    save_checkpoint(path, resnet34, {"arch": "resnet18"})  # metadata that lies about the weights
    with pytest.raises(ModelError, match="do not fit arch resnet18") as exc:
        load_model(path)
    _one_line(exc)
    # Categories that disagree with the head's size.
    save_checkpoint(path, build_model("tiny", 1), {"arch": "tiny", "categories": ["apex", "bottleneck"]})
    with pytest.raises(ModelError, match="another shape") as exc:
        load_model(path)
    _one_line(exc)
    # A bare resnet18 whose head is not (x, y) pairs.
    model = torchvision.models.resnet18(weights=None)
    model.fc = torch.nn.Linear(512, 3)
    torch.save(model.state_dict(), str(path))
    with pytest.raises(ModelError, match="not a road-following model") as exc:
        load_model(path)
    _one_line(exc)


def test_bare_resnet34_state_dict_is_recognised(tmp_path):
    model = build_model("resnet34")
    torch.save({"module." + k: v for k, v in model.state_dict().items()}, str(tmp_path / "ddp.pth"))
    loaded, meta = load_model(tmp_path / "ddp.pth")
    assert meta["arch"] == "resnet34"


def test_pretrained_only_from_the_local_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(ModelError, match="resnet18-f37072fd.pth") as exc:
        build_model("resnet18", pretrained=True)
    assert "wget" in _one_line(exc)
    with pytest.raises(ModelError, match="no pretrained weights"):
        build_model("tiny", pretrained=True)
    # Weights in the cache (fetched once by the owner) are used, with a fresh head.
    imagenet = torchvision.models.resnet18(weights=None)
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(imagenet.state_dict(), str(cache / "resnet18-f37072fd.pth"))
    model = build_model("resnet18", pretrained=True)
    assert torch.equal(model.conv1.weight, imagenet.conv1.weight)
    assert model.fc.out_features == 2
