"""One epoch of training and one pass of evaluation, on tensors already on the device.

train_step and evaluation_pass are the units cnn_study.graphs records as CUDA graphs: the
eager loop and the graphs run the same code.
"""

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


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    grads_in_place: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on one batch: its mean loss and its number of correct predictions,
    both left on the device.

    grads_in_place zeroes the gradients instead of dropping them, so that every step writes
    into the same tensors: what a CUDA graph replays into.
    """
    optimizer.zero_grad(set_to_none=not grads_in_place)
    output = model(images)
    loss = F.cross_entropy(output, labels)
    loss.backward()
    optimizer.step()
    return loss.detach(), (output.argmax(1) == labels).sum()


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
        loss, batch_correct = train_step(model, optimizer, data.images[batch], data.labels[batch])
        loss_sum += loss * len(batch)
        correct += batch_correct
    return loss_sum.item() / len(data), correct.item() / len(data)


def evaluation_pass(
    model: nn.Module, data: Split, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The summed loss over a split and every prediction, on the device; no autograd or mode
    switch here (the caller's: evaluate() eagerly, or a graph capture)."""
    loss_sum = torch.zeros((), device=data.labels.device)
    predictions = []
    for images, labels in zip(
        data.images.split(batch_size), data.labels.split(batch_size), strict=True
    ):
        output = model(images)
        loss_sum += F.cross_entropy(output, labels, reduction="sum")
        predictions.append(output.argmax(1))
    return loss_sum, torch.cat(predictions)


def summarize(
    loss_sum: torch.Tensor, predicted: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> Evaluation:
    """Mean loss, accuracy and confusion matrix from an evaluation pass's sums."""
    confusion = torch.bincount(
        labels * num_classes + predicted, minlength=num_classes * num_classes
    ).view(num_classes, num_classes)
    return Evaluation(
        loss=loss_sum.item() / len(labels),
        accuracy=(predicted == labels).sum().item() / len(labels),
        confusion=confusion.cpu(),
    )


@torch.inference_mode()
def evaluate(model: nn.Module, data: Split, batch_size: int, num_classes: int) -> Evaluation:
    """Mean loss, accuracy and confusion matrix over a split, without dropout or autograd."""
    model.eval()
    loss_sum, predicted = evaluation_pass(model, data, batch_size)
    return summarize(loss_sum, predicted, data.labels, num_classes)
