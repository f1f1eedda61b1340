"""An XY dataset that also yields each image's throttle label from the sidecar (``labels.json``).

Item: ``(image tensor, category, tensor [x_n, y_n, throttle, has_throttle])``. Images without a
throttle label (an old dataset, a hand-clicked sample) get ``has_throttle = 0`` and teach only the
aim point, so old and new datasets train together. Throttle labels are car commands in [-1, 1]:
``jetracer collect`` writes the steady command that holds the racer's speed at that spot, a
Donkeycar tub import the throttle the person drove with.
"""

from .sidecar import read_labels
from .xy import XYDataset

__all__ = ["THROTTLE_CATEGORY", "ThrottleXYDataset"]

#: The name of the extra output pair (throttle, unused) that follows the categories in a model with a
#: throttle output; the checkpoint says so with ``"throttle_output": true``.
THROTTLE_CATEGORY = "throttle"


class ThrottleXYDataset(XYDataset):
    def __init__(self, roots, categories=None, input_size=(224, 224), transform=None, mean=None, std=None,
                 key="throttle"):
        super().__init__(roots, categories=categories, input_size=input_size, transform=transform, mean=mean,
                         std=std)
        self.key = key
        sidecars = {}
        self.throttles = []
        for s in self.samples:
            folder = s.path.parent
            if folder not in sidecars:
                sidecars[folder] = read_labels(folder)
            value = sidecars[folder].get(s.path.name, {}).get(key)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and -1.0 <= value <= 1.0
            self.throttles.append(float(value) if ok else None)
        self._index = 0

    def labelled(self):
        """How many samples carry a throttle label."""
        return sum(t is not None for t in self.throttles)

    def load(self, index):
        self._index = index  # which sample _to_item is finishing (the base class skips bad files)
        return super().load(index)

    def _to_item(self, img, category, x_n, y_n):
        import torch

        tensor, category, target = super()._to_item(img, category, x_n, y_n)
        throttle = self.throttles[self._index]
        extra = torch.tensor([throttle if throttle is not None else 0.0, 1.0 if throttle is not None else 0.0])
        return tensor, category, torch.cat([target, extra])
