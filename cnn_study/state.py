"""What training carries from one epoch to the next, and its checkpoint.

A checkpoint holds everything that decides the next epoch's numbers: weights, optimizer and
scheduler state, the history so far, and every random state (dropout's on the CPU and on
each GPU, the batch order's own generator). Restored, a run goes on exactly as if it had
never stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig
from torch import nn

from cnn_study.model import has_convolutions


@dataclass
class TrainingState:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    batch_order: torch.Generator
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch done

    @classmethod
    def fresh(cls, cfg: DictConfig, device: torch.device) -> TrainingState:
        """The state before the first epoch: weights drawn from cfg.seed, then dropout's."""
        torch.manual_seed(cfg.seed)  # initial weights, then dropout
        model = instantiate(cfg.model)
        layout = torch.channels_last if channels_last(cfg, model) else torch.contiguous_format
        model = model.to(device, memory_format=layout)
        optimizer = instantiate(cfg.optimizer)(model.parameters())
        scheduler = instantiate(cfg.scheduler)(optimizer)
        return cls(model, optimizer, scheduler, torch.Generator().manual_seed(cfg.seed))

    @property
    def epoch(self) -> int:
        """Epochs done."""
        return len(self.history)

    def checkpoint(self) -> dict[str, Any]:
        return {
            "epoch": len(self.history),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": self.history,
            "rng_torch": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "rng_batch_order": self.batch_order.get_state(),
        }

    def restore(self, checkpoint: dict[str, Any]) -> None:
        """Continue from checkpoint; also sets the process's random states, as they were."""
        self.model.load_state_dict(checkpoint["model"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        if "scheduler" in checkpoint:  # checkpoints from before schedulers had none (constant)
            self.scheduler.load_state_dict(checkpoint["scheduler"])
        torch.set_rng_state(checkpoint["rng_torch"])
        # A run checkpointed on a GPU may resume on a CPU (its CUDA states then go unused),
        # and one checkpointed on a CPU holds none to restore.
        if checkpoint["rng_cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["rng_cuda"])
        self.batch_order.set_state(checkpoint["rng_batch_order"])
        self.history = list(checkpoint["history"])


def channels_last(cfg: DictConfig, model: nn.Module) -> bool:
    """Images and weights channels-last: where asked for and the model has convolutions."""
    return bool(cfg.trainer.channels_last) and has_convolutions(model)
