"""Checks of a composed config, made before any data is loaded or any file is written."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from cnn_study.errors import StudyError

_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")
# What a run may hand to a sweeper that optimises: validation numbers only, and beside one of
# them, in a multi-objective search (objective: [final_val_acc, train_seconds]), its costs.
OBJECTIVES = ("final_val_acc", "best_val_acc", "final_val_loss")
COSTS = ("train_seconds", "parameters")


def _get(cfg: DictConfig, key: str) -> Any:
    try:
        return OmegaConf.select(cfg, key, throw_on_missing=True)
    except MissingMandatoryValue:
        raise StudyError(
            f"{key} is not set (??? in its YAML)",
            f"give it in the YAML or on the command line, e.g. {key}=...",
        ) from None
    except Exception as exc:  # an interpolation that cannot resolve
        raise StudyError(f"config key {key} cannot be read: {exc}") from None


def _integer(cfg: DictConfig, key: str, minimum: int, allow_null: bool = False) -> None:
    value = _get(cfg, key)
    if value is None and allow_null:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        null = " or null" if allow_null else ""
        raise StudyError(
            f"{key} must be a whole number >= {minimum}{null}, got {value!r}: "
            f"fix it on the command line, e.g. {key}={max(minimum, 1)}"
        )


def _positive_number(cfg: DictConfig, key: str) -> None:
    value = _get(cfg, key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise StudyError(f"{key} must be a number > 0, got {value!r}: e.g. {key}=0.01")


def _boolean(cfg: DictConfig, key: str) -> None:
    value = _get(cfg, key)
    if not isinstance(value, bool):
        raise StudyError(f"{key} must be true or false, got {value!r}")


def validate(cfg: DictConfig) -> None:
    """Raise StudyError naming the first invalid key of a run's config."""
    _integer(cfg, "seed", 0)
    _integer(cfg, "trainer.epochs", 1)
    _integer(cfg, "trainer.batch_size", 1)
    _integer(cfg, "trainer.eval_batch_size", 1)
    _integer(cfg, "dataset.train_limit", 1, allow_null=True)
    _integer(cfg, "dataset.test_limit", 1, allow_null=True)
    _integer(cfg, "dataset.val_size", 0)
    _integer(cfg, "dataset.split_seed", 0)
    objectives(cfg)
    _positive_number(cfg, "optimizer.lr")
    for key in ("trainer.deterministic", "trainer.channels_last", "trainer.progress", "force"):
        _boolean(cfg, key)
    for key in ("dataset.download", "dataset.verify"):
        _boolean(cfg, key)

    device = _get(cfg, "trainer.device")
    if not isinstance(device, str) or not _DEVICE.match(device):
        raise StudyError(
            f"trainer.device must be auto, cpu, cuda, cuda:N or mps, got {device!r}: "
            "e.g. trainer.device=auto"
        )
    threads = _get(cfg, "trainer.num_threads")
    if threads != "auto":
        _integer(cfg, "trainer.num_threads", 1)

    _dataset(cfg)


def _per_channel(cfg: DictConfig, key: str, channels: int) -> None:
    """null, a number > 0 (std) or >= 0 (mean), or one such number per channel."""
    value = _get(cfg, key)
    if value is None:
        return
    values = list(value) if isinstance(value, (list, ListConfig)) else [value]
    low = 0 if key.endswith("mean") else None
    good = all(
        not isinstance(v, bool) and isinstance(v, (int, float)) and (v >= 0 if low == 0 else v > 0)
        for v in values
    )
    if not good or len(values) not in (1, channels):
        raise StudyError(
            f"{key} must be null, a number{' > 0' if low is None else ''}, or one per channel "
            f"({channels}), got {value!r}",
            f"e.g. {key}=null to compute it from the training split",
        )


def _dataset(cfg: DictConfig) -> None:
    """A dataset's YAML: its shape, classes, normalisation and files. What only its source
    reads is that source's to check (cnn_study.data.check_source)."""
    # Set, where a YAML leaves them to the user.
    for key in ("dataset.source", "dataset.folder", "dataset.name"):
        _get(cfg, key)
    _integer(cfg, "dataset.in_channels", 1)
    _integer(cfg, "dataset.image_size", 1)
    channels = _get(cfg, "dataset.in_channels")
    for key in ("dataset.mean", "dataset.std"):
        _per_channel(cfg, key, channels)
    if _get(cfg, "dataset.max_memory_gb") is not None:
        _positive_number(cfg, "dataset.max_memory_gb")
    classes = _get(cfg, "dataset.classes")
    if not isinstance(classes, (list, ListConfig)) or len(classes) < 2:
        raise StudyError(
            f"dataset.classes must list at least two class names, got {classes!r}",
            "e.g. dataset.classes=[cat,dog]",
        )
    if len(set(map(str, classes))) != len(classes):
        raise StudyError(f"dataset.classes names a class twice: {list(classes)}", "fix the list")
    num_classes = _get(cfg, "dataset.num_classes")
    if len(classes) != num_classes:
        raise StudyError(
            f"dataset.classes lists {len(classes)} names but dataset.num_classes is "
            f"{num_classes}: make them agree"
        )
    for entry in _get(cfg, "dataset.files") or []:
        if not isinstance(entry, (dict, DictConfig)) or not entry.get("name"):
            raise StudyError(
                f"dataset.files entries are {{name: FILE}}, with sha256: HEX or md5: HEX and "
                f"optional: true where they apply, got {entry!r}",
                "fix the dataset's YAML",
            )


def objectives(cfg: DictConfig) -> list[str]:
    """The run's objective as a list (one name, or several for a multi-objective search)."""
    objective = _get(cfg, "objective")
    names = list(objective) if isinstance(objective, ListConfig) else [objective]
    bad = [name for name in names if name not in OBJECTIVES + COSTS]
    if bad or not set(names) & set(OBJECTIVES):
        shown = names if isinstance(objective, ListConfig) else objective
        raise StudyError(
            f"objective must be one of {', '.join(OBJECTIVES)}, or a list of them and of "
            f"{', '.join(COSTS)}, got {shown!r}: a sweeper optimises a validation number, "
            "never a test one; e.g. objective=final_val_acc"
        )
    return names


def check_tunable(cfg: DictConfig) -> None:
    """A sweeper that optimises needs a validation split: refuse before anything trains."""
    if not _get(cfg, "dataset.val_size"):
        raise StudyError(
            "this sweep optimises the objective, but dataset.val_size=0 leaves no validation "
            "split, and tuning on the test set would make its numbers optimistic: add "
            "dataset.val_size=10000 (or any count > 0)"
        )


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat
