"""Conditional parts of a search space, which a flat list of params cannot say.

Named in a search config as hydra.sweeper.custom_search_space; the sweeper calls it with the
sweep's config and each new trial, after the params of hydra.sweeper.params are drawn.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf


def sgd_momentum(cfg: DictConfig, trial: Any) -> None:
    """Search SGD's momentum in [0, 0.95] on the trials that use SGD (Adam has none: its
    betas keep PyTorch's defaults)."""
    optimizer = trial.params.get("optimizer") or OmegaConf.select(
        cfg, "hydra.runtime.choices.optimizer"
    )
    if optimizer in ("sgd", "momentum"):
        trial.suggest_float("optimizer.momentum", 0.0, 0.95)
