"""What every source hands back: both splits whole, as 8-bit images, before normalisation.

Checked here against the dataset's config, the same way for every source: the images' shape
and the labels' range.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch

from cnn_study.errors import StudyError


@dataclass(frozen=True)
class RawSplit:
    images: torch.Tensor  # (N, C, H, W) uint8
    labels: torch.Tensor  # (N,) int64: indices into dataset.classes
    where: str  # the files it was read from, for messages

    def check(self, dataset_cfg: Mapping[str, Any]) -> None:
        channels, size = dataset_cfg["in_channels"], dataset_cfg["image_size"]
        shape = tuple(self.images.shape[1:])
        if shape != (channels, size, size):
            raise StudyError(
                f"{self.where}: images are {'x'.join(map(str, shape))} (channels x height x "
                f"width) but dataset.in_channels={channels} and dataset.image_size={size}",
                f"set them to {shape[0]} and {shape[1]} in the dataset's YAML",
            )
        num_classes = dataset_cfg["num_classes"]
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= num_classes):
            raise StudyError(
                f"{self.where}: labels range {self.labels.min().item()}.."
                f"{self.labels.max().item()}, outside 0..{num_classes - 1}: the files are "
                "corrupt, or dataset.classes lists too few classes; fetch them again, or list "
                "every class in dataset.classes"
            )


@dataclass(frozen=True)
class RawData:
    train: RawSplit
    test: RawSplit
    # Identifies the images' contents: the same string means the same data.
    fingerprint: str

    def check(self, dataset_cfg: Mapping[str, Any]) -> None:
        self.train.check(dataset_cfg)
        self.test.check(dataset_cfg)
