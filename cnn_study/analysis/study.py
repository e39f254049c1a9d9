"""One study grouped and summarised: what every kind of report is made from.

The complete runs are put in a reader's order (the reference dataset first, MNIST unless
another is chosen; the chapter's cell first), labelled by group (every config value that
varies) and by cell (the same, the dataset left out), and summarised over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cnn_study.analysis.chapter import CHAPTER_CELL
from cnn_study.analysis.collect import Collection
from cnn_study.analysis.grouping import (
    dataset_order,
    default_reference,
    factor_name,
    group_keys,
    group_label,
)
from cnn_study.analysis.searches import Search
from cnn_study.analysis.tables import confusion, gaps, per_class, summarise
from cnn_study.errors import StudyError


@dataclass
class Study:
    """A study as every kind of report reads it: its runs, grouped, ordered and summarised."""

    collection: Collection  # every run found, complete or not
    runs: pd.DataFrame  # the complete runs in a reader's order, with "group" and "cell"
    epochs: pd.DataFrame  # their epochs, with each run's group
    keys: list[str]  # the config keys that split the runs into groups
    names: dict[str, str]  # dataset.name -> the name a reader knows (MNIST)
    summary: pd.DataFrame  # one row per group
    gaps: pd.DataFrame  # each dataset's gap to the reference, per cell
    per_class: pd.DataFrame  # one row per group and class
    confusion: dict[str, tuple]  # group -> its confusion matrix, all seeds pooled
    paths: list[Path]  # the folders analysed, as given
    command: str | None  # the analysis command, as typed
    searches: list[Search] = field(default_factory=list)  # recipe searches found (tuned study)
    trial_runs: pd.DataFrame = field(default_factory=pd.DataFrame)  # the searches' runs
    reference: str | None = None  # the dataset.name every gap is measured from
    reference_chosen: bool = False  # given with --reference (else the default)

    @property
    def cell_keys(self) -> list[str]:
        """The keys that vary besides the dataset: a grid's factors."""
        return [k for k in self.keys if k != "dataset.name"]

    @property
    def factors(self) -> list[str]:
        return [factor_name(k) for k in self.cell_keys]

    @property
    def order(self) -> list[str]:
        """The groups in a reader's order."""
        return list(self.summary["group"])


def summarise_study(
    collection: Collection,
    paths: list[Path],
    command: str | None,
    searches: list[Search] | None = None,
    trials: Collection | None = None,
    reference: str | None = None,
) -> Study:
    """Group the complete runs of a collection and summarise each group over its seeds;
    searches and their trial runs ride along for the kinds that read them.

    reference: the dataset every gap is measured from, by dataset.name or label in any case
    (default: MNIST where present, else the first in name order); StudyError if no run has it.
    """
    runs = collection.complete.copy()
    keys = group_keys(runs)
    names = dataset_names(runs)
    chosen = resolve_reference(reference, names) if reference is not None else None
    runs = reader_order(runs, keys, names, chosen)
    runs["group"] = [group_label(row, keys, names) for _, row in runs.iterrows()]
    cell_keys = [k for k in keys if k != "dataset.name"]
    runs["cell"] = [group_label(row, cell_keys, names) for _, row in runs.iterrows()]
    epochs = collection.epochs.merge(runs[["run", "group"]], on="run")
    summary = summarise(runs, epochs, keys, names)
    summary["cell"] = summary["group"].map(runs.drop_duplicates("group").set_index("group")["cell"])
    summary["dataset_label"] = summary["dataset"].map(lambda d: names.get(d, d))
    order = list(summary["group"])
    classes = per_class(runs, collection.results, keys, names)
    classes = classes.sort_values("group", key=lambda s: s.map(order.index), kind="stable")
    return Study(
        collection=collection,
        runs=runs,
        epochs=epochs,
        keys=keys,
        names=names,
        summary=summary,
        gaps=gaps(runs, keys, names, chosen),
        per_class=classes,
        confusion=confusion(runs, collection.results, keys, names),
        paths=list(paths),
        command=command,
        searches=list(searches or []),
        trial_runs=trials.complete if trials is not None else pd.DataFrame(),
        reference=chosen or _default_reference(runs),
        reference_chosen=chosen is not None,
    )


def dataset_names(runs: pd.DataFrame) -> dict[str, str]:
    """dataset.name -> the name a reader knows: the dataset's label where its runs record
    one (KMNIST, My leaves), else the torchvision class it was read with (MNIST,
    FashionMNIST), else the name itself. Old runs, made before labels, read as before."""
    if "dataset.name" not in runs:
        return {}
    return {
        name: _display_name(name, block) for name, block in runs.groupby("dataset.name", sort=False)
    }


def _display_name(name: str, runs: pd.DataFrame) -> str:
    # Older runs' dataset.torchvision_class reads as dataset.source (run_identity.flat_config). Only
    # a dataset class's import path names the dataset (torchvision.datasets.MNIST); a
    # registered source's name (image_folder) does not, and has no dot.
    for column in ("dataset.label", "dataset.source"):
        values = runs[column].dropna() if column in runs else pd.Series(dtype=object)
        values = values[values.map(lambda v: isinstance(v, str) and v.strip() != "")]
        if column == "dataset.source":
            values = values[values.str.contains(".", regex=False)].str.rsplit(".", n=1).str[-1]
        if len(values):
            return values.iloc[0]
    return str(name)


def _default_reference(runs: pd.DataFrame) -> str | None:
    return default_reference(runs["dataset.name"]) if "dataset.name" in runs else None


def resolve_reference(given: str, names: dict[str, str]) -> str:
    """The dataset.name that --reference names, by its name or its label, in any case."""
    wanted = given.strip().casefold()
    for name, label in names.items():
        if wanted in (str(name).casefold(), str(label).casefold()):
            return name
    listed = ", ".join(f"{n} = {names[n]}" for n in dataset_order(names))
    raise StudyError(
        f"--reference {given}: no such dataset among the runs ({listed}): give one of those names"
    )


def _natural(values: list) -> list:
    try:
        return sorted(values, key=float)
    except (TypeError, ValueError):
        return sorted(values, key=str)


def reader_order(
    runs: pd.DataFrame, keys: list[str], names: dict, reference: str | None = None
) -> pd.DataFrame:
    """Runs sorted as a reader expects: the reference dataset first (default: MNIST), the
    chapter's model and optimizer first, other values in natural order."""
    ranks = {}
    for key in keys:
        values = list(runs[key].dropna().unique())
        if key == "dataset.name":
            ordered = dataset_order(values, reference)
        else:
            chapter = CHAPTER_CELL.get(key)
            ordered = ([chapter] if chapter in values else []) + _natural(
                [v for v in values if v != chapter]
            )
        ranks[key] = {v: i for i, v in enumerate(ordered)}
    order = [f"_rank_{k}" for k in keys]
    ranked = runs.assign(**{f"_rank_{k}": runs[k].map(ranks[k]) for k in keys})
    # Cells first, the dataset last, so that the two datasets of a cell sit side by side in
    # the cell order, and the dataset is the outer order of the tables.
    inner = [f"_rank_{k}" for k in keys if k != "dataset.name"]
    outer = ["_rank_dataset.name"] if "dataset.name" in keys else []
    ranked = ranked.sort_values(outer + inner[::-1] + ["seed"], kind="stable")
    return ranked.drop(columns=order).reset_index(drop=True)
