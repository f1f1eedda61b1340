"""Datasets: JetRacer's XY format on disk, augmentation for training, expert data from the simulator."""

from .xy import XYDataset, list_samples, normalise_xy, parse_sample_name, sample_name, save_sample

__all__ = ["XYDataset", "list_samples", "normalise_xy", "parse_sample_name", "sample_name", "save_sample"]
