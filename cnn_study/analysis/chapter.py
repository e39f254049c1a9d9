"""The chapter whose claim the studies test, defined once: its cell (model, optimizer,
schedule and recipe), its datasets, its epochs and the test accuracy it claims.

Every report that measures something against the chapter reads it from here.
"""

from __future__ import annotations

import pandas as pd

TARGET = 0.99  # the chapter's claim: about 99% test accuracy
TARGET_LABEL = f"{TARGET:.0%}"  # the claim, as text says it
CHAPTER_EPOCHS = 40  # the chapter trains its CNN for 40 epochs
# The chapter's own comparison, which the chapter kind reports against its 99% claim.
CHAPTER_DATASETS = frozenset({"mnist", "fashion"})
# The chapter's reference dataset: every gap is measured from it when no other is chosen.
CHAPTER_REFERENCE = "mnist"
# The chapter's recipe, as the tuned study labels it (recipe=chapter).
CHAPTER_RECIPE = "chapter"
# The chapter's cell: its value of every factor (cnn_study.factors) that has one.
CHAPTER_CELL: dict[str, str] = {
    "recipe": CHAPTER_RECIPE,
    "model._target_": "cnn_study.model.ChapterCNN",
    "optimizer._target_": "torch.optim.SGD",
    "scheduler._target_": "torch.optim.lr_scheduler.ConstantLR",
}
# The same cell by the config options' names where runs recorded them (sgd and momentum
# share torch.optim.SGD).
CHAPTER_CHOICES = {"model_name": "cnn", "optimizer_name": "sgd", "scheduler_name": "none"}


def is_chapter_cell(run: pd.Series | dict) -> bool:
    """Is this run the chapter's model, optimizer and schedule? Every key is checked, varying
    or not: a grid of adam runs only has no chapter's cell."""
    for key, value in CHAPTER_CELL.items():
        if key in run and isinstance(run[key], str) and run[key] != value:  # None: no label
            return False
    for key, value in CHAPTER_CHOICES.items():
        name = run.get(key)
        if isinstance(name, str) and name != value:
            return False
    return "model._target_" in run and "optimizer._target_" in run


def reference_cell(cells: list[pd.Series | dict]) -> int | None:
    """Index of the chapter's cell among cells of the other factors (each given by one of
    its runs), or None where no cell is the chapter's."""
    for i, cell in enumerate(cells):
        if is_chapter_cell(cell):
            return i
    return None
