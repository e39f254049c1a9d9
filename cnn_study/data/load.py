"""Load a dataset, whatever its source, into normalised tensors on the training device.

A dataset is described by its config (conf/dataset/*.yaml): where it comes from (its source,
data/sources.py), its files and checksums, its classes, channels, image size and
normalisation. Sources hand back 8-bit images; this module checks them against the config and
the memory they may use, holds out a validation split, takes subsets, and normalises each
channel once.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from cnn_study.data.normalisation import normalisation
from cnn_study.data.raw import RawData
from cnn_study.data.sources import source_for
from cnn_study.errors import StudyError
from cnn_study.hardware import total_memory

# Of the memory free when a run starts, the share its dataset may fill (the model, its
# gradients and the batches need the rest).
_AUTO_SHARE = 0.8


@dataclass(frozen=True)
class Split:
    """One split held whole: normalised images (N, C, H, W) float32 and labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Dataset:
    name: str
    classes: list[str]
    train: Split
    test: Split
    # A hold-out from the training set for model selection and tuning; None without one.
    val: Split | None = None
    # SHA-256 of the held-out indices: runs that report the same one saw the same split.
    split_fingerprint: str | None = None
    # What the images were normalised with, per channel.
    mean: tuple[float, ...] = ()
    std: tuple[float, ...] = ()
    # Identifies the images read: the same string, the same data.
    fingerprint: str | None = None


def balanced_indices(labels: torch.Tensor, limit: int | None, num_classes: int) -> torch.Tensor:
    """Indices of the first examples of each class, as even across classes as limit allows.

    The subset depends only on the data, not on the run's seed, so every seed of a study
    trains on the same examples. Indices keep the dataset's order.
    """
    if limit is None or limit >= len(labels):
        return torch.arange(len(labels))
    per_class = [
        limit // num_classes + (1 if c < limit % num_classes else 0) for c in range(num_classes)
    ]
    chosen = [torch.nonzero(labels == c).flatten()[:n] for c, n in enumerate(per_class)]
    return torch.sort(torch.cat(chosen)).values


def validation_indices(
    labels: torch.Tensor, val_size: int, num_classes: int, split_seed: int
) -> torch.Tensor:
    """A class-balanced random hold-out of val_size indices, sorted.

    It depends only on the labels and split_seed, never on a run's seed, so every run, seed
    and tuning trial of a study holds out the same images. Classes get val_size // classes
    images each, the first val_size % classes classes one more.
    """
    generator = torch.Generator().manual_seed(split_seed)
    chosen = []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()
        wanted = val_size // num_classes + (1 if c < val_size % num_classes else 0)
        if wanted >= len(members):
            raise StudyError(
                f"dataset.val_size={val_size} holds out {wanted} images of class {c}, which "
                f"has only {len(members)} training images: choose a smaller dataset.val_size"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:wanted]])
    return torch.sort(torch.cat(chosen)).values


def split_fingerprint(indices: torch.Tensor) -> str:
    return hashlib.sha256(indices.to(torch.int64).numpy().tobytes()).hexdigest()


def _images_kept(dataset_cfg: Mapping[str, Any], train: int, test: int) -> int:
    """How many images load_dataset keeps: the validation hold-out, the training images
    left after it (up to train_limit) and the test images (up to test_limit)."""
    val = dataset_cfg.get("val_size") or 0
    kept_train = train - val
    if dataset_cfg.get("train_limit") is not None:
        kept_train = min(kept_train, dataset_cfg["train_limit"])
    kept_test = test
    if dataset_cfg.get("test_limit") is not None:
        kept_test = min(kept_test, dataset_cfg["test_limit"])
    return val + kept_train + kept_test


def memory_check(
    dataset_cfg: Mapping[str, Any], device: torch.device, parallel_jobs: int = 1
) -> Callable[[int, int], None]:
    """A check that a dataset of this many training and test images fits in the memory it
    may use: dataset.max_memory_gb, or by default 80% of the device's memory, shared by the
    runs of a sweep that run at once on it (a share of the total, not of what is free when a
    run starts: runs that start later would see the earlier ones' data and count it twice)."""
    configured = dataset_cfg.get("max_memory_gb")
    if configured is None:
        total = total_memory(device)
        gpus = torch.cuda.device_count() if device.type == "cuda" else 1
        sharing = max(1, math.ceil(parallel_jobs / max(1, gpus)))
        limit = _AUTO_SHARE * total / sharing
        source = f"{_AUTO_SHARE:.0%} of the {total / 1e9:.3g} GB of {device}" + (
            f", shared by {sharing} parallel runs" if sharing > 1 else ""
        )
    else:
        limit, source = float(configured) * 1e9, f"dataset.max_memory_gb={configured}"
    pixels = dataset_cfg["in_channels"] * dataset_cfg["image_size"] ** 2
    shrink = source_for(dataset_cfg).shrink_fix
    smaller = f", {shrink}" if shrink else ""

    def check(train: int, test: int) -> None:
        kept = _images_kept(dataset_cfg, train, test)
        # float32 tensors of the kept images on the device; on the CPU the same memory also
        # holds every image as read (8-bit) and the kept ones' 8-bit copy while converting.
        need = kept * pixels * 4
        if device.type != "cuda":
            need += (train + test) * pixels + kept * pixels
        if need > limit:
            raise StudyError(
                f"{dataset_cfg['name']}: {kept:,} images of {pixels:,} values need "
                f"{need / 1e9:.3g} GB on {device}, more than the {limit / 1e9:.3g} GB the "
                f"dataset may use ({source})",
                f"take a subset with dataset.train_limit=N{smaller}, or allow more with "
                "dataset.max_memory_gb",
            )

    return check


def read_source(
    dataset_cfg: Mapping[str, Any],
    data_dir: str | Path,
    cache_dir: str | Path,
    check_memory: Callable[[int, int], None],
) -> RawData:
    """Both splits whole, as 8-bit images, from the dataset's source, checked."""
    source = source_for(dataset_cfg)
    source.check(dataset_cfg)
    raw = source.read(dataset_cfg, data_dir, cache_dir, check_memory)
    raw.check(dataset_cfg)
    return raw


def load_dataset(
    dataset_cfg: Mapping[str, Any],
    data_dir: str | Path,
    cache_dir: str | Path,
    device: torch.device,
    channels_last: bool = False,
    parallel_jobs: int = 1,
) -> Dataset:
    """Verify and load both splits, normalised once, as tensors on the device."""
    raw = read_source(
        dataset_cfg, data_dir, cache_dir, memory_check(dataset_cfg, device, parallel_jobs)
    )
    mean, std = normalisation(dataset_cfg, raw, cache_dir)
    if len(mean) == 1:  # one channel: plain numbers, as before datasets had several channels
        mean_t, std_t = mean[0], std[0]
    else:
        shape = (1, len(mean), 1, 1)
        mean_t = torch.tensor(mean, dtype=torch.float32, device=device).view(shape)
        std_t = torch.tensor(std, dtype=torch.float32, device=device).view(shape)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    num_classes = dataset_cfg["num_classes"]

    def to_split(images: torch.Tensor, labels: torch.Tensor) -> Split:
        images = images.to(device).float().div_(255).sub_(mean_t).div_(std_t)
        return Split(images.contiguous(memory_format=memory_format), labels.to(device))

    def limited(images, labels, limit: int | None) -> Split:
        keep = balanced_indices(labels, limit, num_classes)
        return to_split(images[keep], labels[keep])

    train_images, train_labels = raw.train.images, raw.train.labels
    val, fingerprint = None, None
    val_size = dataset_cfg.get("val_size") or 0
    if val_size:
        # Held out of the whole training split first, so that train_limit never moves it.
        held = validation_indices(train_labels, val_size, num_classes, dataset_cfg["split_seed"])
        rest = torch.ones(len(train_labels), dtype=torch.bool)
        rest[held] = False
        val, fingerprint = to_split(train_images[held], train_labels[held]), split_fingerprint(held)
        train_images, train_labels = train_images[rest], train_labels[rest]

    return Dataset(
        name=dataset_cfg["name"],
        classes=[str(c) for c in dataset_cfg["classes"]],
        train=limited(train_images, train_labels, dataset_cfg["train_limit"]),
        test=limited(raw.test.images, raw.test.labels, dataset_cfg["test_limit"]),
        val=val,
        split_fingerprint=fingerprint,
        mean=tuple(mean),
        std=tuple(std),
        fingerprint=raw.fingerprint,
    )
