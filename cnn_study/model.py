"""The chapter's CNN, with its layer sizes as arguments (defaults = the chapter)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ChapterCNN(nn.Module):
    """conv(1->10, k5) -> pool -> relu -> conv(10->20, k5) -> dropout2d -> pool -> relu
    -> flatten -> fc(320->50) -> relu -> dropout -> fc(50->10), as in the chapter."""

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        num_classes: int = 10,
        conv1_channels: int = 10,
        conv2_channels: int = 20,
        kernel_size: int = 5,
        hidden_units: int = 50,
        conv_dropout: float = 0.5,
        dropout: float = 0.5,
    ):
        super().__init__()
        side = ((image_size - kernel_size + 1) // 2 - kernel_size + 1) // 2
        if side < 1:
            raise ValueError(
                f"image_size {image_size} is too small for two kernel_size {kernel_size} "
                "convolutions with 2x2 pooling"
            )
        self.conv1 = nn.Conv2d(in_channels, conv1_channels, kernel_size)
        self.conv2 = nn.Conv2d(conv1_channels, conv2_channels, kernel_size)
        self.conv2_drop = nn.Dropout2d(conv_dropout)
        self.fc1 = nn.Linear(conv2_channels * side * side, hidden_units)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden_units, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
        x = torch.flatten(x, 1)
        x = self.drop(F.relu(self.fc1(x)))
        return self.fc2(x)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
