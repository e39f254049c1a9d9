"""Name and order the groups of a study's runs: which config keys split them, what each
group and factor is called, and the order datasets are shown in.

Seeds are the repetitions: a group is every complete run that shares all other config values
that matter.
"""

from __future__ import annotations

import pandas as pd

from cnn_study.analysis.chapter import CHAPTER_REFERENCE
from cnn_study.factors import GROUPING_KEYS
from cnn_study.run_identity import is_incidental

# Keys tried first when naming groups (the factors, then the study), so that a dataset sweep
# is grouped by dataset.name rather than by a key that merely moves with it (dataset.mean,
# dataset.classes...). The study is a key like any other: runs of two studies are never
# pooled into one group. The training length comes before keys that follow from it (a
# cosine schedule's T_max is its epochs), so that these never name a group.
_PRIORITY = [*GROUPING_KEYS, "study", "trainer.epochs"]
# A dataset's label only names it (old runs have none): it never tells runs apart.
_NOT_GROUPING = {"seed", "dataset.label"}


def _varying(runs: pd.DataFrame) -> list[str]:
    config_columns = [c for c in runs.columns if "." in c or c in (*_PRIORITY, "seed")]
    return [
        c
        for c in config_columns
        if c not in _NOT_GROUPING and not is_incidental(c) and runs[c].nunique(dropna=False) > 1
    ]


def group_keys(runs: pd.DataFrame) -> list[str]:
    """The config keys whose values split the runs into groups, redundant ones left out."""
    candidates = sorted(
        _varying(runs), key=lambda c: (_PRIORITY.index(c) if c in _PRIORITY else len(_PRIORITY), c)
    )
    keys: list[str] = []
    groups = 1
    for key in candidates:
        n = runs.groupby(keys + [key], dropna=False).ngroups
        if n > groups:  # this key splits runs that the keys so far keep together
            keys.append(key)
            groups = n
    if not keys and "dataset.name" in runs:
        keys = ["dataset.name"]  # one dataset only: still label the group by it
    return keys


def factor_name(key: str) -> str:
    """model._target_ -> model; dataset.name -> dataset; other keys stay as they are."""
    if key == "dataset.name":
        return "dataset"
    return key.removesuffix("._target_")


def factor_value(values: pd.Series | dict, key: str, names: dict | None = None) -> str:
    """A factor's value as a reader knows it: MNIST, cnn_bn, adam, 0.1."""
    value = values[key]
    if key == "dataset.name":
        return str((names or {}).get(value, value))
    if key.endswith("._target_"):
        name = values.get(f"{factor_name(key)}_name")
        return str(name) if isinstance(name, str) else str(value).rsplit(".", 1)[-1]
    return str(value)


def group_label(values: pd.Series | dict, keys: list[str], names: dict | None = None) -> str:
    """A readable name for a group: 'MNIST', 'MNIST, optimizer.lr=0.1', 'MNIST, model=cnn_bn'.

    names maps a dataset.name (mnist) to its display name (MNIST).
    """
    parts = []
    for key in keys:
        value = factor_value(values, key, names)
        parts.append(value if key == "dataset.name" else f"{factor_name(key)}={value}")
    return ", ".join(parts) or "all runs"


def default_reference(names) -> str:
    """The chapter's MNIST where the runs have it, else the first dataset in name order."""
    present = sorted(set(names))
    return CHAPTER_REFERENCE if CHAPTER_REFERENCE in present else present[0]


def dataset_order(names, reference: str | None = None) -> list[str]:
    """The reference first (default: MNIST, the chapter's), then the others in name order."""
    present = set(names)
    first = reference if reference in present else None
    if first is None and present:
        first = default_reference(present)
    return sorted(present, key=lambda n: (n != first, n))
