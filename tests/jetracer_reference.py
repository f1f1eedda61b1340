"""NVIDIA JetRacer's own per-frame code, re-typed from its notebooks (for the CPU), so tests can
check that what this package does equals what a JetRacer user's notebook does."""

import numpy as np
import torch
import torchvision

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def jetracer_preprocess(frame):
    """notebooks/utils.py ``preprocess``: the BGR camera frame as it is, to_tensor, normalise, [None]."""
    import PIL.Image
    import torchvision.transforms.functional as tf

    image = tf.to_tensor(PIL.Image.fromarray(frame))
    image.sub_(torch.tensor(IMAGENET_MEAN)[:, None, None]).div_(torch.tensor(IMAGENET_STD)[:, None, None])
    return image[None, ...]


def jetracer_load(path, outputs=2):
    """road_following.ipynb: resnet18, ``fc = Linear(512, 2 * len(CATEGORIES))``, load_state_dict(torch.load)."""
    model = torchvision.models.resnet18(weights=None)
    model.fc = torch.nn.Linear(512, outputs)
    model.load_state_dict(torch.load(str(path)))
    return model.eval()


def jetracer_steer(model, frames):
    """The live loop's ``x = float(model(preprocess(image)).detach().cpu().numpy().flatten()[0])`` per frame."""
    with torch.no_grad():
        return np.array([float(model(jetracer_preprocess(f)).detach().cpu().numpy().flatten()[0]) for f in frames])
