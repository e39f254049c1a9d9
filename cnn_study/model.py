"""The study's models, each with its sizes as constructor arguments (defaults = the configs).

- ChapterCNN: the chapter's CNN, exactly as the chapter builds it.
- BatchNormCNN: a small modern CNN of the kind published FashionMNIST results use.
- MLP: no convolutions; the baseline that shows what convolution buys.
"""

from __future__ import annotations

from collections.abc import Sequence

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


class BatchNormCNN(nn.Module):
    """Blocks of conv(k3, padding 1) -> BatchNorm -> ReLU -> 2x2 max-pool, one per entry of
    channels, then dropout -> fc(hidden) -> ReLU -> dropout -> fc(classes)."""

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        num_classes: int = 10,
        channels: Sequence[int] = (16, 32, 64),
        hidden_units: int = 128,
        dropout: float = 0.3,
    ):
        super().__init__()
        if image_size >> len(channels) < 1:
            raise ValueError(
                f"image_size {image_size} is too small for {len(channels)} 2x2 poolings"
            )
        blocks: list[nn.Module] = []
        for c_in, c_out in zip([in_channels, *channels[:-1]], channels, strict=True):
            blocks += [
                # No conv bias: BatchNorm's shift does that job.
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
        self.features = nn.Sequential(*blocks)
        side = image_size >> len(channels)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels[-1] * side * side, hidden_units),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden_units, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


class MLP(nn.Module):
    """flatten -> [fc -> ReLU -> dropout] per hidden layer -> fc(classes)."""

    def __init__(
        self,
        in_channels: int = 1,
        image_size: int = 28,
        num_classes: int = 10,
        hidden_units: Sequence[int] = (256, 128),
        dropout: float = 0.2,
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = in_channels * image_size * image_size
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            width = units
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def has_convolutions(model: nn.Module) -> bool:
    """Channels-last pays for convolutions only; an MLP is faster without it."""
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
