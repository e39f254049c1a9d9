"""Per-channel normalisation: the config's mean and std, or, where it gives none, the training
split's own, computed once per dataset contents and cached under the cache folder."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from cnn_study.data.raw import RawData
from cnn_study.errors import StudyError
from cnn_study.fileio import JsonCache

log = logging.getLogger(__name__)


def per_channel(value: Any, channels: int, key: str) -> list[float] | None:
    """dataset.mean/std as one number per channel: a number stands for every channel."""
    if value is None:
        return None
    values = [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)]
    if len(values) == 1:
        values *= channels
    if len(values) != channels:
        raise StudyError(
            f"{key} gives {len(values)} values for {channels} channels",
            f"give one per channel (dataset.in_channels={channels}), one number, or null",
        )
    return values


def channel_stats(images: torch.Tensor, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Mean and (population) std of each channel of uint8 images scaled to [0, 1], summed in
    float64 a chunk at a time: a large dataset needs no float copy of itself."""
    channels = images.shape[1]
    total = torch.zeros(channels, dtype=torch.float64)
    squares = torch.zeros(channels, dtype=torch.float64)
    for start in range(0, len(images), chunk):
        block = images[start : start + chunk].to(torch.float64).div_(255)
        total += block.sum(dim=(0, 2, 3))
        squares += block.square().sum(dim=(0, 2, 3))
    count = images.numel() / channels
    mean = total / count
    std = (squares / count - mean.square()).clamp(min=0).sqrt()
    return mean.tolist(), std.tolist()


class StatsCache:
    """cache_dir/normalisation.json: data fingerprint -> its training split's mean and std."""

    def __init__(self, cache_dir: str | Path):
        self.path = Path(cache_dir) / "normalisation.json"
        self.entries = JsonCache(self.path)

    def get(self, fingerprint: str) -> tuple[list[float], list[float]] | None:
        entry = self.entries.get(fingerprint)
        return (entry["mean"], entry["std"]) if entry else None

    def put(self, fingerprint: str, mean: list[float], std: list[float]) -> None:
        self.entries.put(fingerprint, {"mean": mean, "std": std})


def normalisation(
    dataset_cfg: Mapping[str, Any], raw: RawData, cache_dir: str | Path
) -> tuple[list[float], list[float]]:
    """(mean, std) per channel: as configured, else the training split's own: the whole split
    as the files hold it, before a validation hold-out or a subset is taken (the chapter's
    0.1307 and 0.3081 for MNIST are the same: its 60,000 training images)."""
    channels = dataset_cfg["in_channels"]
    mean = per_channel(dataset_cfg.get("mean"), channels, "dataset.mean")
    std = per_channel(dataset_cfg.get("std"), channels, "dataset.std")
    if mean is not None and std is not None:
        return mean, std
    cache = StatsCache(cache_dir)
    found = cache.get(raw.fingerprint)
    if found is None:
        found = channel_stats(raw.train.images)
        log.info(
            "%s: training split's mean %s, std %s (computed once, cached in %s)",
            dataset_cfg["name"],
            [round(v, 4) for v in found[0]],
            [round(v, 4) for v in found[1]],
            cache.path,
        )
        cache.put(raw.fingerprint, *found)
    computed_mean, computed_std = found
    if any(s <= 0 for s in computed_std) and std is None:
        raise StudyError(
            f"{dataset_cfg['name']}: a channel of the training images never varies (std 0)",
            "give dataset.std in the YAML, or check the images",
        )
    return mean or computed_mean, std or computed_std
