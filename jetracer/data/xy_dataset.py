"""JetRacer's ``XYDataset``, drop-in: NVIDIA's ``interactive_regression`` notebook runs with its
import changed from ``from xy_dataset import XYDataset`` to ``from jetracer.data.xy_dataset import
XYDataset``, and nothing else.

Same constructor ``XYDataset(directory, categories, transform=None, random_hflip=False)``, same
methods (``save_entry``, ``get_count``, ``refresh``), same ``annotations`` list, and the same items:
``(image, category_index, torch.Tensor([x, y]))`` where ``image`` is JetRacer's: the file decoded
as BGR (as ``cv2.imread`` gives it), wrapped in a PIL image without swapping, then ``transform``.
So a model trained through it is in JetRacer's input convention, which is how this package reads
the plain state_dict the notebook saves. With ``random_hflip``, half the items are mirrored left to
right (the last axis of the transformed tensor) and their ``x`` negated, as JetRacer does.

What differs is what can go wrong: samples are written atomically (a crash leaves no half JPEG),
a file whose name is not ``{x}_{y}_{uuid}.jpg`` is skipped with a warning instead of stopping
``refresh``, and an image that no longer decodes is skipped for the next readable one. For this
package's own training, :class:`jetracer.data.xy.XYDataset` is the richer class (several folders,
label-aware augmentation); both read and write the same files.
"""

import logging
import os

from ..errors import DataError
from .xy import normalise_xy, parse_sample_name, save_sample

__all__ = ["XYDataset"]

log = logging.getLogger(__name__)


def _read_bgr_as_pil(path):
    """JetRacer's ``PIL.Image.fromarray(cv2.imread(path))``: BGR bytes in a PIL image, unswapped."""
    import numpy as np
    import PIL.Image

    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        bgr = cv2.imread(path, cv2.IMREAD_COLOR)
        if bgr is None:
            raise OSError("OpenCV cannot decode it")
    else:
        with PIL.Image.open(path) as img:
            bgr = np.asarray(img.convert("RGB"))[:, :, ::-1]
    return PIL.Image.fromarray(np.ascontiguousarray(bgr))


def _base():
    try:
        import torch.utils.data

        return torch.utils.data.Dataset
    except ImportError:  # reading and writing samples needs no torch; items do
        return object


class XYDataset(_base()):
    """JetRacer's dataset class: ``directory/CATEGORY/{x}_{y}_{uuid}.jpg``, one label per file name."""

    def __init__(self, directory, categories, transform=None, random_hflip=False):
        super().__init__()
        if isinstance(categories, str):
            raise DataError("categories must be a list of names, e.g. ['apex'], not the string %r" % categories)
        self.directory = str(directory)
        self.categories = list(categories)
        self.transform = transform
        self.random_hflip = random_hflip
        self.refresh()

    def __len__(self):
        return len(self.annotations)

    def __getitem__(self, idx):
        n = len(self.annotations)
        if n == 0:
            raise IndexError("the dataset in %s is empty" % self.directory)
        for attempt in range(n):
            ann = self.annotations[(idx + attempt) % n]
            try:
                image = _read_bgr_as_pil(ann["image_path"])
            except (OSError, ValueError, SyntaxError) as exc:
                log.warning("skipping %s: cannot read the image (%s)", ann["image_path"], exc)
                continue
            return self._item(image, ann)
        raise DataError("no readable image among the %d samples in %s: the files are damaged" % (n, self.directory))

    def _item(self, image, ann):
        import numpy as np
        import torch

        x, y = normalise_xy(ann["x"], ann["y"], image.width, image.height)  # -1 left/top, +1 right/bottom
        if self.transform is not None:
            image = self.transform(image)
        if self.random_hflip and float(np.random.random(1)[0]) > 0.5:
            if isinstance(image, torch.Tensor):
                image = torch.flip(image, dims=[-1])
            elif hasattr(image, "transpose"):  # a PIL image (no transform): mirror it too
                import PIL.Image

                image = image.transpose(PIL.Image.FLIP_LEFT_RIGHT)
            x = -x
        return image, ann["category_index"], torch.Tensor([x, y])

    def refresh(self):
        """Re-read the file names (cheap: no image is opened)."""
        self.annotations = []
        for index, category in enumerate(self.categories):
            folder = os.path.join(self.directory, category)
            try:
                names = sorted(os.listdir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue  # a category nobody has clicked yet
            except OSError as exc:  # unreadable folder: say so, keep the other categories
                log.warning("skipping category folder %s: %s", folder, exc.strerror or exc)
                continue
            for name in names:
                path = os.path.join(folder, name)
                if name.startswith(".") or name.endswith(".tmp") or not os.path.isfile(path):
                    continue
                xy = parse_sample_name(name)
                if xy is None:
                    log.warning("skipping %s: the name is not {x}_{y}_{uuid}.jpg", path)
                    continue
                self.annotations.append({"image_path": path, "category_index": index, "category": category,
                                         "x": xy[0], "y": xy[1]})

    def save_entry(self, category, image, x, y):
        """Save the BGR ``image`` (``camera.value``) labelled with pixel (x, y) under ``category``."""
        path = save_sample(self.directory, category, image, x, y)
        self.refresh()
        return str(path)

    def get_count(self, category):
        return sum(1 for a in self.annotations if a["category"] == category)
