"""Content hashes of files: engine cache keys, a model's provenance, duplicate dataset images."""

import hashlib

from ..protocols import PathLike

__all__ = ["file_sha256"]


def file_sha256(path: PathLike) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks (a model file need not fit in memory twice)."""
    h = hashlib.sha256()
    with open(str(path), "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
