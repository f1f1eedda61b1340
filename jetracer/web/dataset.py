"""The Label and Data pages' file work on one XY dataset folder, with every path checked.

Pages name a sample as ``CATEGORY/{x}_{y}_{uuid}.jpg`` relative to the dataset folder. Nothing a
page sends is trusted: a category is a plain folder name, a file name must be a sample name, the
resolved path must lie inside the folder (no ``..``, no symlink leading out), and nothing is ever
deleted: "delete" moves the file to ``.trash/CATEGORY/`` inside the folder (hidden, so training
and JetRacer's own code never see it) and "restore" moves it back. A re-label renames the file to
the new pixel and keeps its uuid; every move is one ``os.replace`` on the same file system.
"""

import logging
import os
import re
from pathlib import Path

from ..data.xy import IMAGE_SUFFIXES, parse_sample_name, save_sample

__all__ = ["DatasetFolder", "DatasetRequestError", "TRASH"]

log = logging.getLogger(__name__)

TRASH = ".trash"
_CATEGORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_SAMPLE = re.compile(r"^(-?\d+)_(-?\d+)_([A-Za-z0-9-]{1,64})\.(jpg|jpeg|png)$", re.IGNORECASE)


class DatasetRequestError(ValueError):
    """A request naming something outside the rules; the text goes back to the page."""


def check_category(name):
    if not isinstance(name, str) or not _CATEGORY.match(name):
        raise DatasetRequestError("category must be a plain folder name (letters, digits, _ or -, at most 64), "
                                  "got %r" % (name,))
    return name


class DatasetFolder:
    """An XY dataset folder the web app may write to (created when missing)."""

    def __init__(self, root):
        from ..errors import DataError

        self.root = Path(root).expanduser().resolve()
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataError("dataset folder %s: %s (pass another with --data, or set [web] dataset_dir)" % (
                self.root, exc.strerror or exc)) from None

    # -- paths ---------------------------------------------------------------------------------------
    def _inside(self, path):
        """True when ``path`` (no symlinks anywhere below the root) resolves inside the root."""
        real = os.path.realpath(str(path))
        return real.startswith(str(self.root) + os.sep)

    def resolve(self, rel, trash=False):
        """The file a page's ``CATEGORY/NAME`` means, checked (it need not exist)."""
        if not isinstance(rel, str) or "\x00" in rel or "\\" in rel:
            raise DatasetRequestError("bad sample path %r" % (rel,))
        parts = rel.split("/")
        if len(parts) != 2:
            raise DatasetRequestError("a sample path is CATEGORY/{x}_{y}_{uuid}.jpg, got %r" % (rel,))
        category, name = parts
        check_category(category)
        if not _SAMPLE.match(name):
            raise DatasetRequestError("not a sample file name: %r" % (name,))
        base = self.root / TRASH if trash else self.root
        folder = base / category
        path = folder / name
        for step in (base, folder, path):
            if step.is_symlink():
                raise DatasetRequestError("%s is a symbolic link: refused" % rel)
        if not self._inside(path):
            raise DatasetRequestError("%s is outside the dataset folder: refused" % rel)
        return path

    def _existing(self, rel, trash=False):
        path = self.resolve(rel, trash=trash)
        if not path.is_file():
            raise DatasetRequestError("%s%s not found" % ("trash/" if trash else "", rel))
        return path

    # -- reading -------------------------------------------------------------------------------------
    def categories(self):
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and not p.is_symlink() and _CATEGORY.match(p.name))

    def scan(self, category=None, trash=False):
        """``{"samples": [...], "counts": {...}, "warnings": [...]}`` from file names alone."""
        base = self.root / TRASH if trash else self.root
        names = [check_category(category)] if category else (
            self.categories() if not trash else (
                sorted(p.name for p in base.iterdir() if p.is_dir() and _CATEGORY.match(p.name))
                if base.is_dir() and not base.is_symlink() else []))
        samples, counts, warnings = [], {}, []
        if not category and not trash and self.root.is_dir():
            for p in sorted(self.root.iterdir()):
                if p.is_dir() and not p.name.startswith(".") and (p.is_symlink() or not _CATEGORY.match(p.name)):
                    warnings.append("folder %s: %s, not shown" % (p.name, "a symbolic link" if p.is_symlink() else
                                                                   "not a plain category name (letters, digits, _ -)"))
        for name in names:
            folder = base / name
            counts[name] = 0
            if not folder.is_dir() or folder.is_symlink():
                continue
            try:
                entries = sorted(folder.iterdir())
            except OSError as exc:
                warnings.append("cannot read %s: %s" % (name, exc.strerror))
                continue
            for path in entries:
                if path.name.startswith(".") or path.name.endswith(".tmp"):
                    continue
                if path.is_symlink() or not path.is_file():
                    warnings.append("%s/%s: not a plain file, skipped" % (name, path.name))
                    continue
                xy = parse_sample_name(path.name) if _SAMPLE.match(path.name) else None
                if xy is None:
                    if path.suffix.lower() in IMAGE_SUFFIXES or path.suffix == "":
                        warnings.append("%s/%s: name is not {x}_{y}_{uuid}.jpg, skipped" % (name, path.name))
                    continue
                counts[name] += 1
                samples.append({"path": "%s/%s" % (name, path.name), "category": name, "x": xy[0], "y": xy[1],
                                "mtime": path.stat().st_mtime})
        return {"samples": samples, "counts": counts, "warnings": warnings}

    def image_bytes(self, rel, trash=False):
        return self._existing(rel, trash=trash).read_bytes()

    # -- writing -------------------------------------------------------------------------------------
    def save(self, image_bgr, category, x, y):
        """A new sample (atomic write); returns its relative path."""
        check_category(category)
        folder = self.root / category
        if folder.is_symlink():
            raise DatasetRequestError("%s is a symbolic link: refused" % category)
        path = save_sample(self.root, category, image_bgr, x, y)
        return "%s/%s" % (category, path.name)

    def relabel(self, rel, x, y):
        """Rename to the new pixel, same uuid; returns the new relative path."""
        path = self._existing(rel)
        match = _SAMPLE.match(path.name)
        new_name = "%d_%d_%s.%s" % (int(x), int(y), match.group(3), match.group(4))
        target = path.with_name(new_name)
        if target != path:
            if target.exists():
                raise DatasetRequestError("%s already exists" % new_name)
            os.replace(str(path), str(target))
        return "%s/%s" % (path.parent.name, new_name)

    def delete(self, rel):
        """Move to the trash (restorable); returns the path in the trash."""
        path = self._existing(rel)
        target = self.resolve(rel, trash=True)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise DatasetRequestError("trash/%s already exists" % rel)
        os.replace(str(path), str(target))
        return rel

    def restore(self, rel):
        """Move back from the trash; returns the restored relative path."""
        path = self._existing(rel, trash=True)
        target = self.resolve(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            raise DatasetRequestError("%s already exists" % rel)
        os.replace(str(path), str(target))
        return rel
