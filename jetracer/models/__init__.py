"""Road-following networks: the factory, checkpoint files and training.

Imports stay light (torch is imported inside the functions) so ``import jetracer.models`` works on a
machine that only wants to read a checkpoint's metadata or print ``--help``.
"""

from .checkpoint import load_model, save_checkpoint
from .factory import ARCHS, build_model, default_input_size

__all__ = ["build_model", "ARCHS", "default_input_size", "save_checkpoint", "load_model"]
