"""Datasets: described by their YAML, read from their source, held whole on the device."""

# The built-in sources register themselves on import (data/sources.py).
from cnn_study.data import image_folder, torchvision_source  # noqa: F401
from cnn_study.data.load import (
    Dataset,
    Split,
    balanced_indices,
    load_dataset,
    split_fingerprint,
    validation_indices,
)
from cnn_study.data.sources import Source, check_source, register_source, source_for

__all__ = [
    "Dataset",
    "Source",
    "Split",
    "balanced_indices",
    "check_source",
    "load_dataset",
    "register_source",
    "source_for",
    "split_fingerprint",
    "validation_indices",
]
