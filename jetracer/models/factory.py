"""The road-following network: an image in, one normalised (x, y) aim point per category out.

ResNet-18 with a ``Linear(512, 2)`` head is JetRacer's network, so its state_dicts load here
unchanged. ResNet-34 and MobileNetV3-small trade speed for accuracy either way; ``tiny`` is a small
CNN that trains in a minute on a laptop CPU (tests, quick experiments in the simulator); ``fast`` is a
plain 96x96 CNN built to be ~100x cheaper than ResNet-18 and fast under TensorRT (see ``fast.py``).
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ..errors import ModelError

if TYPE_CHECKING:
    import torch

__all__ = ["ARCHS", "build_model", "default_input_size", "pretrained_weights_path"]

#: arch -> (default input size [h, w], ImageNet weights file name in the torch hub cache or None)
ARCHS: Dict[str, Tuple[Tuple[int, int], Optional[str]]] = {
    "resnet18": ((224, 224), "resnet18-f37072fd.pth"),
    "resnet34": ((224, 224), "resnet34-b627a593.pth"),
    "mobilenet_v3_small": ((224, 224), "mobilenet_v3_small-047dcff4.pth"),
    "tiny": ((64, 64), None),
    "fast": ((96, 96), None),
}

# Older torchvision releases (the Jetson wheels) cached the same weights under these names.
_LEGACY_FILES = {
    "resnet18": ("resnet18-5c106cde.pth",),
    "resnet34": ("resnet34-333f7ec4.pth",),
}

_DOWNLOAD_URL = "https://download.pytorch.org/models/"


def default_input_size(arch: str) -> List[int]:
    _check_arch(arch)
    return list(ARCHS[arch][0])


def _check_arch(arch: str) -> None:
    if arch not in ARCHS:
        raise ModelError("unknown model arch %r: choose one of %s" % (arch, ", ".join(sorted(ARCHS))))


def build_model(arch: str = "resnet18", num_categories: int = 1, pretrained: bool = False) -> "torch.nn.Module":
    """A network with ``2 * num_categories`` outputs: (x, y) per category, each about [-1, 1].

    ``pretrained`` loads torchvision's ImageNet weights into the backbone, but only from the local
    torch hub cache: nothing is downloaded at run time (a car on a track has no network).
    """
    _check_arch(arch)
    num_categories = int(num_categories)
    if num_categories < 1:
        raise ModelError("a model needs at least one category, got %d" % num_categories)
    outputs = 2 * num_categories
    if arch in ("tiny", "fast"):
        if pretrained:
            raise _no_weights(arch)
        if arch == "fast":
            from .fast import FastNet

            return FastNet(outputs)
        from .tiny import TinyNet

        return TinyNet(outputs)
    import torch

    model = _torchvision_builder(arch)()
    if pretrained:
        path = pretrained_weights_path(arch)
        state = _torch_load(torch, path)
        model.load_state_dict(state)
    if arch.startswith("resnet"):
        model.fc = torch.nn.Linear(model.fc.in_features, outputs)
    else:
        last = model.classifier[-1]
        model.classifier[-1] = torch.nn.Linear(last.in_features, outputs)
    return model


def _no_weights(arch: str) -> ModelError:
    return ModelError("arch %r has no pretrained weights: drop --pretrained or pick resnet18" % arch)


def _torchvision_builder(arch: str) -> Callable[[], Any]:
    import torchvision.models as tvm

    fn = getattr(tvm, arch)

    def build() -> Any:
        try:
            return fn(weights=None)
        except TypeError:  # torchvision < 0.13 (older Jetson wheels)
            return fn(pretrained=False)

    return build


def pretrained_weights_path(arch: str) -> Path:
    """The cached ImageNet weights file for ``arch``; a one-line ModelError saying how to fetch it."""
    _check_arch(arch)
    import torch

    cache = Path(torch.hub.get_dir()) / "checkpoints"
    name = ARCHS[arch][1]
    if name is None:
        raise _no_weights(arch)
    for candidate in (name,) + _LEGACY_FILES.get(arch, ()):
        if (cache / candidate).is_file():
            return cache / candidate
    raise ModelError(
        "ImageNet weights for %s are not in %s (nothing is downloaded at run time): fetch them once with "
        "`mkdir -p %s && wget -P %s %s%s`, or train without --pretrained" % (
            arch, cache, cache, cache, _DOWNLOAD_URL, name))


def _torch_load(torch: Any, path: Path) -> Any:
    """torchvision's weight files through the allow-list unpickler (the same on torch 1.10 to 2.x)."""
    from ..util.safe_pickle import TENSOR_GLOBALS, torch_load_allowed

    return torch_load_allowed(str(path), TENSOR_GLOBALS)
