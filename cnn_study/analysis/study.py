"""One study grouped and summarised: what every kind of report is made from.

The complete runs are put in a reader's order (MNIST first, the chapter's cell first),
labelled by group (every config value that varies) and by cell (the same, the dataset left
out), and summarised over seeds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cnn_study.analysis.collect import Collection
from cnn_study.analysis.searches import Search
from cnn_study.analysis.stats import (
    CHAPTER_CELL,
    confusion,
    dataset_order,
    factor_name,
    gaps,
    group_keys,
    group_label,
    per_class,
    summarise,
)


@dataclass
class Study:
    """A study as every kind of report reads it: its runs, grouped, ordered and summarised."""

    collection: Collection  # every run found, complete or not
    runs: pd.DataFrame  # the complete runs in a reader's order, with "group" and "cell"
    epochs: pd.DataFrame  # their epochs, with each run's group
    keys: list[str]  # the config keys that split the runs into groups
    names: dict[str, str]  # dataset.name -> the name a reader knows (MNIST)
    summary: pd.DataFrame  # one row per group
    gaps: pd.DataFrame  # the gap between the datasets, per cell
    per_class: pd.DataFrame  # one row per group and class
    confusion: dict[str, tuple]  # group -> its confusion matrix, all seeds pooled
    paths: list[Path]  # the folders analysed, as given
    command: str | None  # the analysis command, as typed
    searches: list[Search] = field(default_factory=list)  # recipe searches found (tuned study)
    trial_runs: pd.DataFrame = field(default_factory=pd.DataFrame)  # the searches' runs

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
) -> Study:
    """Group the complete runs of a collection and summarise each group over its seeds;
    searches and their trial runs ride along for the kinds that read them."""
    runs = collection.complete.copy()
    keys = group_keys(runs)
    names = dataset_names(runs)
    runs = reader_order(runs, keys, names)
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
        gaps=gaps(runs, keys, names),
        per_class=classes,
        confusion=confusion(runs, collection.results, keys, names),
        paths=list(paths),
        command=command,
        searches=list(searches or []),
        trial_runs=trials.complete if trials is not None else pd.DataFrame(),
    )


def dataset_names(runs: pd.DataFrame) -> dict[str, str]:
    """mnist -> MNIST, fashion -> FashionMNIST: each dataset's label, or, for runs made before
    datasets had labels, the torchvision class it was read with."""
    names = {}
    for _, row in runs.drop_duplicates("dataset.name").iterrows():
        label, source = row.get("dataset.label"), row.get("dataset.source")
        if isinstance(label, str):
            names[row["dataset.name"]] = label
        elif isinstance(source, str) and source != "image_folder":
            names[row["dataset.name"]] = source.rsplit(".", 1)[-1]
    return names


def _natural(values: list) -> list:
    try:
        return sorted(values, key=float)
    except (TypeError, ValueError):
        return sorted(values, key=str)


def reader_order(runs: pd.DataFrame, keys: list[str], names: dict) -> pd.DataFrame:
    """Runs sorted as a reader expects: MNIST first, the chapter's model and optimizer first,
    other values in natural order."""
    ranks = {}
    for key in keys:
        values = list(runs[key].dropna().unique())
        if key == "dataset.name":
            ordered = dataset_order(values)
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
