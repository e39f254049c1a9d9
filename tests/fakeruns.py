"""Synthetic run folders with known numbers, in the real run-folder format (cnn_study.runs).

Used by the analysis tests and by benchmarks/analysis_speed.py.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from omegaconf import OmegaConf

from cnn_study.runs import RunFolder
from tests.conftest import CONF, compose_config

_BASE: dict[tuple[str, ...], dict[str, Any]] = {}
# The figures a report of datasets side by side draws (the chapter and datasets kinds).
FIGURES = [
    "learning_curves",
    "final_accuracy",
    "per_class_accuracy",
    "confusion_matrices",
    "loss_curves",
]


def base_config(dataset: str, model: str = "cnn", optimizer: str = "sgd") -> dict[str, Any]:
    """The real composed config of a dataset, model and optimizer, resolved (composed once
    per process)."""
    key = (dataset, model, optimizer)
    if key not in _BASE:
        cfg = compose_config(
            f"dataset={dataset}",
            f"model={model}",
            f"optimizer={optimizer}",
            "paths.root_dir=/study",
            "paths.cache_dir=/cache",
        )
        _BASE[key] = OmegaConf.to_container(cfg, resolve=True)
    return copy.deepcopy(_BASE[key])


def has_config(dataset: str) -> bool:
    """Does conf/dataset/ define this dataset?"""
    return (CONF / "dataset" / f"{dataset}.yaml").is_file()


def write_run(
    root: Path,
    dataset: str,
    seed: int,
    test_acc: list[float],
    *,
    finished: bool = True,
    planned_epochs: int | None = None,
    overrides: dict[str, Any] | None = None,
    model: str = "cnn",
    optimizer: str = "sgd",
    test_size: int = 10000,
    confusion: list[list[int]] | None = None,
    dataset_keys: dict[str, Any] | None = None,
) -> RunFolder:
    """A run of len(test_acc) epochs whose test accuracy per epoch is test_acc.

    Runs of the chapter's model and optimizer go to root/<dataset>/seed=<n>; others to
    root/<dataset>/<model>/<optimizer>/seed=<n>, with Hydra's record of the choices.
    confusion (rows = true class, columns = predicted) gives the final model's errors and,
    from them, its per-class accuracy; by default every class is at the final accuracy.
    dataset_keys replace keys of config["dataset"] (label, classes, num_classes...); a
    dataset without its own conf/dataset file is MNIST's config renamed, with no source or
    label unless dataset_keys give them (a user's own images have none).
    """
    config = base_config(dataset if has_config(dataset) else "mnist", model, optimizer)
    if not has_config(dataset):
        config["dataset"]["name"] = dataset
        config["dataset"].pop("source", None)
        config["dataset"].pop("label", None)
    config["dataset"].update(copy.deepcopy(dataset_keys or {}))
    config["seed"] = seed
    config["trainer"]["epochs"] = planned_epochs or len(test_acc)
    config["dataset"]["test_limit"] = 1000 if test_size == 1000 else None
    for key, value in (overrides or {}).items():
        *sections, name = key.split(".")
        node = config
        for section in sections:
            node = node[section]
        node[name] = value
    chapter = (model, optimizer) == ("cnn", "sgd")
    where = root / dataset if chapter else root / dataset / model / optimizer
    folder = RunFolder(where / f"seed={seed}")
    (folder.path / ".hydra").mkdir(parents=True)
    folder.config_file.write_text(yaml.safe_dump(config))
    overrides_list = [f"dataset={dataset}", f"seed={seed}"]
    if not chapter:
        overrides_list += [f"model={model}", f"optimizer={optimizer}"]
    choices = {"dataset": dataset, "model": model, "optimizer": optimizer, "scheduler": "none"}
    (folder.path / ".hydra" / "hydra.yaml").write_text(
        yaml.safe_dump({"hydra": {"runtime": {"choices": choices}}})
    )
    (folder.path / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides_list))
    folder.write_metrics(
        [
            {
                "epoch": i + 1,
                "train_loss": 1.0 / (i + 1),
                "train_acc": acc - 0.01,
                "test_loss": 1.0 - acc,
                "test_acc": acc,
                "lr": 0.01,
                "seconds": 10.0,
            }
            for i, acc in enumerate(test_acc)
        ]
    )
    if finished:
        results = results_for(config, test_acc, confusion)
        folder.write_results({**results, "test_size": test_size})
    return folder


def results_for(
    config: dict[str, Any], test_acc: list[float], confusion: list[list[int]] | None = None
) -> dict[str, Any]:
    """results.json of a run with this accuracy curve: 1,000 test images per class, unless
    a confusion matrix says otherwise."""
    classes = config["dataset"]["classes"]
    final = test_acc[-1]
    if confusion is None:
        # Every class at the final accuracy; errors go to the next class.
        correct = round(final * 1000)
        confusion = [[0] * len(classes) for _ in classes]
        for i in range(len(classes)):
            confusion[i][i] = correct
            confusion[i][(i + 1) % len(classes)] = 1000 - correct
    # As the trainer computes it: the share of each true class (a row) predicted right.
    per_class = {c: confusion[i][i] / sum(confusion[i]) for i, c in enumerate(classes)}
    best = max(range(len(test_acc)), key=lambda i: (test_acc[i], -i))
    return {
        "dataset": config["dataset"]["name"],
        "seed": config["seed"],
        "epochs": len(test_acc),
        "epochs_completed": len(test_acc),
        "final_test_acc": final,
        "final_test_loss": 1.0 - final,
        "final_train_acc": final - 0.01,
        "best_test_acc": test_acc[best],
        "best_epoch": best + 1,
        "per_class_test_acc": per_class,
        "confusion_matrix": confusion,
        "classes": classes,
        "parameters": 21840,
        "train_size": 60000,
        "test_size": 10000,
        "train_seconds": 10.0 * len(test_acc),
        "last_session_seconds": 10.0 * len(test_acc) + 1,
        "finished": "2026-01-01T00:00:00+00:00",
        "device": "cpu",
        "device_name": "test",
        "num_threads": 1,
        "torch": "x",
        "torchvision": "y",
        "python": "3",
        "git_commit": "abc",
        "host": "testhost",
        "launcher": "basic",
        "job_id": None,
        "config": config,
    }
