"""results.json: what a finished run records, and what the analysis reads back.

The schema of the run folder's results.json (cnn_study/runs.py), written once by training
(cnn_study/experiment.py) when the last epoch is done. Keys are only ever added: runs made
before a key existed lack it, so readers use .get() for any key not in every published run.
"""

from __future__ import annotations

from typing import Any, TypedDict


class _Validated(TypedDict, total=False):
    """Written only by runs with a validation split (dataset.val_size > 0)."""

    split_seed: int
    split_fingerprint: str  # which images were held out
    final_val_acc: float
    final_val_loss: float
    best_val_acc: float
    best_val_epoch: int
    test_acc_at_best_val: float  # the honest counterpart of best_test_acc


class _Pruned(TypedDict, total=False):
    """Written only by a run that an Optuna search's pruner stopped early (its trial is
    "pruned"): the epoch it stopped after. The analysis leaves such runs out."""

    pruned_at_epoch: int


class Results(_Validated, _Pruned):
    """results.json's keys; every run that finished since validation splits writes these."""

    # What was measured.
    dataset: str
    seed: int
    epochs: int  # planned (trainer.epochs)
    epochs_completed: int  # rows of metrics.csv when it was written
    val_size: int  # 0: no validation split
    final_test_acc: float
    final_test_loss: float
    final_train_acc: float
    best_test_acc: float  # chosen on the test set: an optimistic bound, never a selection
    best_epoch: int
    per_class_test_acc: dict[str, float]  # class name -> accuracy, at the last epoch
    confusion_matrix: list[list[int]]  # rows: true class, columns: predicted
    classes: list[str]
    data_fingerprint: str | None  # the images' contents
    mean: list[float]  # the normalisation used
    std: list[float]
    parameters: int
    train_size: int
    test_size: int
    train_seconds: float  # all epochs, over every session
    last_session_seconds: float
    finished: str  # UTC, ISO 8601
    # Where, on what and by which job it was made.
    device: str
    device_name: str
    num_threads: int
    torch: str
    torchvision: str
    python: str
    git_commit: str | None
    host: str
    launcher: str
    job_id: str | None
    sweep_id: str | None
    # The run's config, resolved, as it ran.
    config: dict[str, Any]


RESULT_KEYS: frozenset[str] = Results.__required_keys__
VALIDATION_KEYS: frozenset[str] = _Validated.__optional_keys__
PRUNED_KEYS: frozenset[str] = _Pruned.__optional_keys__
