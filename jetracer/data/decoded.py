"""A dataset's frames decoded once, at the network's input size, and kept as uint8 on the training device:
``jetracer train --cache``.

Why: decoding and warping every JPEG every epoch on CPU workers is what limits training on a GPU machine
(:mod:`jetracer.data.batch_augment` says how much). Decoded once, 24,000 frames at 128x128 are 1.2 GB and
at 224x224 3.6 GB, which a training GPU holds beside the network; each batch is then an index into memory
that is augmented where the network runs. The frames come from the dataset's own loading (the same files,
the same resize, unreadable images skipped as in ``__getitem__``), so a cached run learns from exactly
what an uncached one would.
"""

from ..errors import DataError
from .batch_augment import augment_batch

__all__ = ["DecodedFrames", "CachedLoader"]


class DecodedFrames:
    """``dataset[i]`` for each ``i`` of ``indices``: uint8 images (N, 3, H, W), categories and targets,
    all on ``device``. ``dataset`` yields normalised tensors (no augmentation); they are undone to the
    uint8 the JPEG decoded to, exactly, so the cache holds a quarter of the float bytes."""

    def __init__(self, torch, dataset, indices, device, workers=0, chunk=256):
        from torch.utils.data import DataLoader, Subset

        self.device = device
        self.mean = torch.tensor(dataset.mean, dtype=torch.float32, device=device)[None, :, None, None]
        self.std = torch.tensor(dataset.std, dtype=torch.float32, device=device)[None, :, None, None]
        n = len(indices)
        h, w = dataset.input_size
        need_gb = n * 3 * h * w / 1e9
        try:
            self.images = torch.empty((n, 3, h, w), dtype=torch.uint8, device=device)
        except RuntimeError as exc:  # torch.cuda.OutOfMemoryError is a RuntimeError
            raise DataError("--cache needs %.1f GB for %d frames at %dx%d on %s (%s): train without --cache, "
                             "or on fewer frames" % (need_gb, n, w, h, device, str(exc).splitlines()[0])) from None
        self.cats = torch.empty(n, dtype=torch.long, device=device)
        self.targets = None
        loader = DataLoader(Subset(dataset, list(indices)), batch_size=chunk, shuffle=False, num_workers=workers)
        at = 0
        for images, cats, targets in loader:
            k = images.shape[0]
            pixels = (images.to(device) * self.std + self.mean) * 255.0
            self.images[at:at + k] = pixels.round_().clamp_(0, 255).to(torch.uint8)
            self.cats[at:at + k] = cats.to(device)
            if self.targets is None:
                self.targets = torch.empty((n, targets.shape[1]), dtype=torch.float32, device=device)
            self.targets[at:at + k] = targets.to(device)
            at += k

    def __len__(self):
        return self.images.shape[0]

    def normalised(self, images):
        """Frames as floats in [0, 1] -> the network's input (normalised with the dataset's mean and std)."""
        return (images - self.mean) / self.std


class CachedLoader:
    """Batches of :class:`DecodedFrames` in the DataLoader's shape ``(images, categories, targets)``,
    shuffled by ``generator`` and, given an :class:`jetracer.data.augment.Augment`, augmented with its ranges
    on the frames' device."""

    def __init__(self, torch, frames, batch_size, shuffle=False, augment=None, generator=None, drop_last=False):
        self.torch, self.frames, self.batch_size = torch, frames, int(batch_size)
        self.shuffle, self.augment, self.generator, self.drop_last = shuffle, augment, generator, drop_last

    def __len__(self):
        n = len(self.frames)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        torch, frames = self.torch, self.frames
        n = len(frames)
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        order = order.to(frames.device)
        for b in range(len(self)):
            idx = order[b * self.batch_size:(b + 1) * self.batch_size]
            images = frames.images[idx].float() / 255.0
            targets = frames.targets[idx].clone()
            if self.augment is not None:
                images, targets[:, :2] = augment_batch(torch, images, targets[:, :2], self.augment)
            yield frames.normalised(images), frames.cats[idx], targets
