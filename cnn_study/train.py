"""One epoch of training and one pass of evaluation, on tensors already on the device."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnn_study.data import Split


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    confusion: torch.Tensor  # (classes, classes): rows true class, columns predicted, on the CPU


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: Split,
    batch_size: int,
    generator: torch.Generator,
) -> tuple[float, float]:
    """Train on every example once, in an order drawn from generator; mean loss and accuracy."""
    model.train()
    order = torch.randperm(len(data), generator=generator).to(data.labels.device)
    # Sums stay on the device: reading them per batch would stall a GPU every step.
    loss_sum = torch.zeros((), device=data.labels.device)
    correct = torch.zeros((), dtype=torch.long, device=data.labels.device)
    for batch in order.split(batch_size):
        images, labels = data.images[batch], data.labels[batch]
        optimizer.zero_grad()
        output = model(images)
        loss = F.cross_entropy(output, labels)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(batch)
        correct += (output.argmax(1) == labels).sum()
    return loss_sum.item() / len(data), correct.item() / len(data)


@torch.inference_mode()
def evaluate(model: nn.Module, data: Split, batch_size: int, num_classes: int) -> Evaluation:
    """Mean loss, accuracy and confusion matrix over a split, without dropout or autograd."""
    model.eval()
    loss_sum = torch.zeros((), device=data.labels.device)
    predictions = []
    for images, labels in zip(
        data.images.split(batch_size), data.labels.split(batch_size), strict=True
    ):
        output = model(images)
        loss_sum += F.cross_entropy(output, labels, reduction="sum")
        predictions.append(output.argmax(1))
    predicted = torch.cat(predictions)
    confusion = torch.bincount(
        data.labels * num_classes + predicted, minlength=num_classes * num_classes
    ).view(num_classes, num_classes)
    return Evaluation(
        loss=loss_sum.item() / len(data),
        accuracy=(predicted == data.labels).sum().item() / len(data),
        confusion=confusion.cpu(),
    )
