"""The XY dataset exactly as JetRacer stores it: ``DIR/CATEGORY/{x}_{y}_{uuid}.jpg``.

``x`` and ``y`` are the clicked pixel in the saved image (integers). The model learns them normalised
as JetRacer does, ``x_n = 2 * (x / width - 0.5)`` (and the same for y with the height), so a dataset
made with NVIDIA's notebooks trains here unchanged, and one made here trains there.

A dataset is something people spend evenings clicking, so: samples are written atomically (a crash
leaves no half JPEG), and one bad file (truncated copy, stray name) is skipped with a warning that
names it, never a crash in the middle of an epoch. Data that would train the network wrong is
refused the same way when the dataset is opened: an empty category folder (it would become a
category whose head never trains), a label outside its image, an image smaller than the network
input, the same image twice; the summary counts what was skipped and why.
"""

import collections
import logging
import re
import uuid
from pathlib import Path
from typing import (
    TYPE_CHECKING,
    Any,
    Callable,
    Counter,
    Dict,
    Iterable,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from ..errors import DataError
from ..util.atomic import atomic_write_bytes
from ..util.digest import file_sha256
from .sidecar import SIDECAR_NAME

if TYPE_CHECKING:
    import numpy as np
    import torch
    from PIL.Image import Image

    from ..protocols import PathLike

#: one dataset folder or several
Roots = Union[str, Path, Iterable[Union[str, Path]]]
#: what a transform takes and gives: (PIL image, x_n, y_n)
Transform = Callable[[Any, float, float], Tuple[Any, float, float]]

__all__ = ["IMAGE_SUFFIXES", "parse_sample_name", "sample_name", "normalise_xy", "denormalise_xy",
           "save_sample", "list_samples", "find_categories", "check_samples", "SKIP_REASONS", "Sample", "XYDataset"]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_NAME = re.compile(r"^(-?\d+)_(-?\d+)_([^/]+)$")


def parse_sample_name(name: "PathLike") -> Optional[Tuple[int, int]]:
    """``(x, y)`` pixel ints from ``{x}_{y}_{uuid}.jpg``, or None when the name is not a sample."""
    name = Path(name).name
    stem, suffix = name.rsplit(".", 1) if "." in name else (name, "")
    if "." + suffix.lower() not in IMAGE_SUFFIXES:
        return None
    m = _NAME.match(stem)
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


def sample_name(x: float, y: float) -> str:
    """A new file name for a sample at pixel (x, y), as JetRacer writes it."""
    return "%d_%d_%s.jpg" % (int(round(x)), int(round(y)), uuid.uuid1())


def normalise_xy(x: float, y: float, width: float, height: float) -> Tuple[float, float]:
    """Pixel -> JetRacer's normalised label, about [-1, 1] across the image."""
    return 2.0 * (x / float(width) - 0.5), 2.0 * (y / float(height) - 0.5)


def denormalise_xy(x_n: float, y_n: float, width: float, height: float) -> Tuple[float, float]:
    return (x_n / 2.0 + 0.5) * width, (y_n / 2.0 + 0.5) * height


def encode_jpeg(image_bgr: "np.ndarray", quality: int = 95) -> bytes:
    """JPEG bytes of a BGR uint8 image (OpenCV when present, else Pillow)."""
    import numpy as np

    image_bgr = np.ascontiguousarray(image_bgr)
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
        raise DataError("a sample image must be an HxWx3 uint8 BGR array, got %s %s" % (
            image_bgr.dtype, image_bgr.shape))
    cv2: Any = None  # OpenCV when importable
    try:
        import cv2
    except ImportError:
        pass
    if cv2 is not None:
        ok, buf = cv2.imencode(".jpg", image_bgr, [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
        if ok:
            return buf.tobytes()
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image_bgr[:, :, ::-1]).save(out, format="JPEG", quality=int(quality))
    return out.getvalue()


def save_sample(root: "PathLike", category: str, image_bgr: "np.ndarray", x: float, y: float,
                quality: int = 95) -> Path:
    """Write one labelled image to ``root/category/{x}_{y}_{uuid}.jpg`` atomically; returns its path."""
    if not category or "/" in category or category.startswith("."):
        raise DataError("bad category name %r: use a plain folder name such as 'apex'" % (category,))
    data = encode_jpeg(image_bgr, quality)
    path = Path(root) / category / sample_name(x, y)
    atomic_write_bytes(path, data)
    return path




class Sample(NamedTuple):
    """One file on disk: its path, category index and the labelled pixel."""

    path: Path
    category: int
    x: int
    y: int


def _visible_files(folder: Path) -> List[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _has_images(folder: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in _visible_files(folder))


def _has_samples(folder: Path) -> bool:
    return any(parse_sample_name(p.name) is not None for p in _visible_files(folder))


def _category_dirs(root: "PathLike") -> Dict[str, Path]:
    """``{category: folder}`` of one root; a root that *is* a category folder (images inside) counts as one."""
    root = Path(root)
    if not root.is_dir():
        raise DataError("dataset folder %s not found: pass the folder holding CATEGORY/{x}_{y}_{uuid}.jpg" % root)
    subdirs = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    if not subdirs and _has_images(root):
        return {root.name: root}
    return subdirs


def find_categories(roots: Iterable["PathLike"]) -> List[str]:
    """Sorted union of the category folders under ``roots`` that hold samples.

    An empty folder beside the real ones (made by hand, or by a collection that wrote nothing) is
    ignored with a warning: counted, it would become a category whose head never trains, and an
    engine told to steer with category 0 would use it."""
    names: Set[str] = set()
    empty: Dict[str, Path] = {}
    for root in roots:
        for name, folder in _category_dirs(root).items():
            if _has_samples(folder):
                names.add(name)
            else:
                empty.setdefault(name, folder)
    if names:  # with no samples at all, the caller's one-line "no samples" says it better than a list
        for name, folder in sorted(empty.items()):
            if name not in names:
                log.warning("ignoring category folder %s: it holds no {x}_{y}_{uuid}.jpg samples", folder)
    return sorted(names)


def list_samples(roots: Roots, categories: Optional[Sequence[str]] = None) -> Tuple[List[Sample], List[str], List[str]]:
    """``(samples, categories, skipped)`` from the file names alone (cheap: no image is opened).

    Names that do not parse are skipped with a warning naming them; temp files of an interrupted save
    (hidden, ``.tmp``) are ignored silently.
    """
    if isinstance(roots, (str, Path)):
        roots = [roots]
    roots = [Path(r) for r in roots]
    if not roots:
        raise DataError("no dataset folder given: pass at least one DIR")
    given = bool(categories)
    categories = list(categories) if categories else find_categories(roots)
    index = {name: i for i, name in enumerate(categories)}
    samples, skipped = [], []
    for root in roots:
        for name, folder in _category_dirs(root).items():
            if name not in index:
                continue
            for path in _visible_files(folder):
                xy = parse_sample_name(path.name)
                if xy is None:
                    if not path.name.endswith(".tmp") and path.name != SIDECAR_NAME:  # extra labels
                        log.warning("skipping %s: the name is not {x}_{y}_{uuid}.jpg", path)
                        skipped.append(str(path))
                    continue
                samples.append(Sample(path, index[name], xy[0], xy[1]))
    if given and samples:
        found = {s.category for s in samples}
        for i, name in enumerate(categories):
            if i not in found:
                log.warning("category %r has no samples in %s: its output will not be trained", name,
                            ", ".join(str(r) for r in roots))
    if not samples:
        raise DataError("no samples in %s (categories %s): expected CATEGORY/{x}_{y}_{uuid}.jpg files, e.g. from "
                        "`jetracer collect --sim --out DIR` or the data collection notebook" % (
                            ", ".join(str(r) for r in roots), ", ".join(categories) or "none found"))
    return samples, categories, skipped


#: why a sample was left out, as counted in :meth:`XYDataset.summary`
SKIP_REASONS = {
    "name": "the name is not {x}_{y}_{uuid}.jpg",
    "unreadable": "the image cannot be read",
    "label_outside": "the label lies outside the image",
    "too_small": "the image is smaller than the network input",
    "duplicate": "the same image is already in the dataset",
}

#: warnings naming files, per reason; beyond this the rest are counted in one line
_NAMED_PER_REASON = 20


def check_samples(samples: Iterable[Sample], input_size: Optional[Sequence[int]] = None
                  ) -> Tuple[List[Sample], List[Tuple[Path, str]]]:
    """``(kept, skipped)``: samples fit to train on, and ``[(path, reason), ...]`` for the others.

    Reads each image's header only (its size), never the pixels. A label must lie in the image
    (``0 <= x <= width``, ``0 <= y <= height``: JetRacer normalises by the image size, so a label
    past it is a target off the picture); an image must be at least ``input_size`` (height, width),
    since an upscaled thumbnail teaches nothing; an image whose bytes equal an earlier one (a folder
    passed twice, a copied file) counts once, and the first in listing order (by name within a folder)
    is the one kept. Each skipped file is named in a warning."""
    from PIL import Image

    kept: List[Sample] = []
    skipped: List[Tuple[Path, str]] = []
    sizes: Dict[int, List[Sample]] = {}
    seen_paths = set()
    for s in samples:
        real = str(Path(s.path).resolve())
        if real in seen_paths:
            skipped.append((s.path, "duplicate"))
            continue
        seen_paths.add(real)
        try:
            with Image.open(str(s.path)) as img:
                width, height = img.size
        except Exception:  # noqa: BLE001 - PIL raises many types for a damaged file
            skipped.append((s.path, "unreadable"))
            continue
        if not (0 <= s.x <= width and 0 <= s.y <= height):
            skipped.append((s.path, "label_outside"))
            continue
        if input_size is not None and (height < input_size[0] or width < input_size[1]):
            skipped.append((s.path, "too_small"))
            continue
        kept.append(s)
        sizes.setdefault(Path(s.path).stat().st_size, []).append(s)
    duplicates = set()
    for same_size in sizes.values():  # hash only files whose size another file shares
        if len(same_size) < 2:
            continue
        first = {}
        for s in same_size:
            try:
                digest = file_sha256(s.path)
            except OSError:
                continue
            if digest in first:
                duplicates.add(s.path)
            else:
                first[digest] = s.path
    if duplicates:
        kept = [s for s in kept if s.path not in duplicates]
        skipped += [(p, "duplicate") for p in sorted(duplicates)]
    _warn_skipped(skipped)
    return kept, skipped


def _warn_skipped(skipped: Iterable[Tuple[Path, str]]) -> None:
    named: Counter[str] = collections.Counter()
    for path, reason in skipped:
        named[reason] += 1
        if named[reason] <= _NAMED_PER_REASON:
            log.warning("skipping %s: %s", path, SKIP_REASONS[reason])
    for reason, count in sorted(named.items()):
        if count > _NAMED_PER_REASON:
            log.warning("... and %d more skipped because %s", count - _NAMED_PER_REASON, SKIP_REASONS[reason])


def load_rgb(path: "PathLike") -> "Image":
    """A decoded RGB PIL image; raises OSError/ValueError on a damaged file."""
    from PIL import Image

    with Image.open(str(path)) as img:
        img.load()
        return img.convert("RGB")


class XYDataset:
    """A torch-style Dataset over one or more XY folders.

    Item: ``(image tensor 3xHxW normalised, category index, tensor [x_n, y_n])``. ``transform`` (see
    :mod:`jetracer.data.augment`) receives and returns ``(PIL image, x_n, y_n)`` after the resize, so a
    flip or shift moves the label with the picture. A file that fails to decode is skipped with a
    warning and another sample is returned in its place.
    """

    def __init__(self, roots: Roots, categories: Optional[Sequence[str]] = None,
                 input_size: Sequence[int] = (224, 224), transform: Optional[Transform] = None,
                 mean: Optional[Sequence[float]] = None, std: Optional[Sequence[float]] = None,
                 check: bool = True) -> None:
        from ..models.checkpoint import IMAGENET_MEAN, IMAGENET_STD

        self.roots = [Path(r) for r in ([roots] if isinstance(roots, (str, Path)) else roots)]
        self.samples, self.categories, self.skipped = list_samples(self.roots, categories)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.skip_reasons = collections.Counter({"name": len(self.skipped)} if self.skipped else {})
        if check:
            listed = len(self.samples) + len(self.skipped)
            self.samples, checked = check_samples(self.samples, self.input_size)
            self.skipped += [str(path) for path, _ in checked]
            self.skip_reasons.update(reason for _, reason in checked)
            if self.skip_reasons:
                log.warning("skipped %d of %d files: %s", sum(self.skip_reasons.values()), listed, ", ".join(
                    "%d %s" % (n, reason.replace("_", " ")) for reason, n in sorted(self.skip_reasons.items())))
            if not self.samples:
                raise DataError("no usable samples in %s: all %d were skipped (%s)" % (
                    ", ".join(str(r) for r in self.roots), listed, ", ".join(
                        "%d %s" % (n, SKIP_REASONS[reason]) for reason, n in sorted(self.skip_reasons.items()))))
        self.transform = transform
        self.mean = list(mean or IMAGENET_MEAN)
        self.std = list(std or IMAGENET_STD)
        self._bad: Set[int] = set()

    def __len__(self) -> int:
        return len(self.samples)

    def with_transform(self, transform: Optional[Transform]) -> "XYDataset":
        """The same samples seen through another transform (training augments, validation does not)."""
        import copy

        view = copy.copy(self)
        view.transform = transform
        return view

    def summary(self) -> Dict[str, Any]:
        """What the checkpoint records about its training data."""
        per_category = {name: 0 for name in self.categories}
        for s in self.samples:
            per_category[self.categories[s.category]] += 1
        reasons = dict(self.skip_reasons)
        if self._bad:
            reasons["unreadable"] = reasons.get("unreadable", 0) + len(self._bad)
        return {"roots": [str(r) for r in self.roots], "samples": len(self.samples),
                "per_category": per_category, "skipped_files": len(self.skipped) + len(self._bad),
                "skipped": reasons}

    def load(self, index: int) -> Tuple["Image", int, float, float]:
        """``(PIL image resized to input_size, category, x_n, y_n)`` of sample ``index``, or raises."""
        from PIL import Image

        s = self.samples[index]
        img = load_rgb(s.path)
        x_n, y_n = normalise_xy(s.x, s.y, img.width, img.height)
        h, w = self.input_size
        if img.size != (w, h):
            img = img.resize((w, h), Image.BILINEAR)  # type: ignore[attr-defined]  # Pillow 8 has no Resampling
        return img, s.category, x_n, y_n

    def __getitem__(self, index: int) -> Tuple["torch.Tensor", int, "torch.Tensor"]:
        n = len(self.samples)
        for attempt in range(n):
            i = (index + attempt) % n
            if i in self._bad:
                continue
            try:
                img, category, x_n, y_n = self.load(i)
            except (OSError, ValueError, SyntaxError) as exc:
                self._bad.add(i)
                log.warning("skipping %s: cannot read the image (%s)", self.samples[i].path, exc)
                continue
            return self._to_item(img, category, x_n, y_n)
        raise DataError("no readable image among the %d samples in %s: the files are damaged" % (
            n, ", ".join(str(r) for r in self.roots)))

    def _to_item(self, img: "Image", category: int, x_n: float, y_n: float
                 ) -> Tuple["torch.Tensor", int, "torch.Tensor"]:
        import torch
        from torchvision.transforms import functional as TF

        if self.transform is not None:
            img, x_n, y_n = self.transform(img, x_n, y_n)
        tensor = TF.normalize(TF.to_tensor(img), self.mean, self.std)
        return tensor, category, torch.tensor([x_n, y_n], dtype=torch.float32)
