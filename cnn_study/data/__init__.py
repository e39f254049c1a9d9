"""Datasets: described by their YAML, read from their source, held whole on the device."""

from cnn_study.data.load import (
    Dataset,
    Split,
    balanced_indices,
    load_dataset,
    split_fingerprint,
    validation_indices,
)

__all__ = [
    "Dataset",
    "Split",
    "balanced_indices",
    "load_dataset",
    "split_fingerprint",
    "validation_indices",
]
