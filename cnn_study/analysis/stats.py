"""Group runs by what varies between them and summarise each group over its seeds.

Seeds are the repetitions: a group is every complete run that shares all other config values
that matter. Intervals are two-sided 95% Student t intervals of the mean; each dataset's gap to
the reference dataset is Welch's (unequal variances), with its t-test.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from cnn_study.factors import CHAPTER_CELL, GROUPING_KEYS
from cnn_study.run_identity import is_incidental

CONFIDENCE = 0.95
TARGET = 0.99  # the chapter's claim: about 99% test accuracy

# Keys tried first when naming groups (the factors, then the study), so that a dataset sweep
# is grouped by dataset.name rather than by a key that merely moves with it (dataset.mean,
# dataset.classes...). The study is a key like any other: runs of two studies are never
# pooled into one group.
_PRIORITY = [*GROUPING_KEYS, "study"]
# A dataset's label only names it (old runs have none): it never tells runs apart.
_NOT_GROUPING = {"seed", "dataset.label"}
# The chapter's cell of a grid: its model, optimizer and (no) schedule, by class, and by the
# config options' names where runs recorded them (sgd and momentum share torch.optim.SGD).
CHAPTER_CHOICES = {"model_name": "cnn", "optimizer_name": "sgd", "scheduler_name": "none"}


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


def mean_interval(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, sample std, and the 95% t interval of the mean (NaN where n < 2)."""
    n = len(values)
    mean = float(np.mean(values)) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(np.std(values, ddof=1))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def first_epoch_reaching(curve: pd.Series, target: float = TARGET) -> float:
    """The first epoch at which a mean test-accuracy curve reaches target, or NaN."""
    reached = curve[curve >= target]
    return float(reached.index[0]) if len(reached) else math.nan


def summarise(
    runs: pd.DataFrame, epochs: pd.DataFrame, keys: list[str], names: dict | None = None
) -> pd.DataFrame:
    """One row per group of complete runs: seeds, final accuracy with its interval, and more."""
    rows = []
    for _, group in runs.groupby(keys, dropna=False, sort=False):
        final = group["final_test_acc"].to_numpy(dtype=float)
        mean, std, low, high = mean_interval(final)
        curve = epochs[epochs["run"].isin(group["run"])].groupby("epoch")["test_acc"].mean()
        first = group.iloc[0]
        rows.append(
            {
                "group": group_label(first, keys, names),
                **{k: first[k] for k in keys},
                **{
                    factor_name(k): factor_value(first, k, names)
                    for k in keys
                    if k != "dataset.name"
                },
                "dataset": first.get("dataset.name"),
                "seeds": group["seed"].nunique(),
                "epochs": int(first["trainer.epochs"]),
                "final_acc_mean": mean,
                "final_acc_std": std,
                "final_acc_ci_low": low,
                "final_acc_ci_high": high,
                "final_acc_min": float(final.min()),
                "final_acc_max": float(final.max()),
                "best_acc_mean": float(group["best_test_acc"].mean()),
                "best_acc_max": float(group["best_test_acc"].max()),
                "best_epoch_median": float(group["best_epoch"].median()),
                "first_epoch_mean_reaches_99": first_epoch_reaching(curve),
                "seeds_ever_reaching_99": int((group["best_test_acc"] >= TARGET).sum()),
                "seeds_final_reaching_99": int((group["final_test_acc"] >= TARGET).sum()),
                "train_seconds_mean": float(group["train_seconds"].mean()),
                "train_seconds_total": float(group["train_seconds"].sum()),
                "parameters": first.get("parameters"),
            }
        )
    return pd.DataFrame(rows)


def welch(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Difference of means a - b with Welch's 95% interval and two-sided t-test."""
    diff = float(np.mean(a) - np.mean(b))
    if len(a) < 2 or len(b) < 2:
        return {
            "gap": diff,
            "gap_ci_low": math.nan,
            "gap_ci_high": math.nan,
            "welch_t": math.nan,
            "welch_df": math.nan,
            "p_value": math.nan,
        }
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:  # identical runs within each side: no spread to test against
        return {
            "gap": diff,
            "gap_ci_low": diff,
            "gap_ci_high": diff,
            "welch_t": math.nan,
            "welch_df": math.nan,
            "p_value": math.nan,
        }
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se
    with warnings.catch_warnings():
        # one side may have seeds that all agree (zero spread): scipy warns of precision
        # loss there, though the test is well defined while the other side varies
        warnings.simplefilter("ignore", RuntimeWarning)
        test = stats.ttest_ind(a, b, equal_var=False)
    return {
        "gap": diff,
        "gap_ci_low": diff - half,
        "gap_ci_high": diff + half,
        "welch_t": float(test.statistic),
        "welch_df": float(df),
        "p_value": float(test.pvalue),
    }


# The chapter's reference dataset: every gap is measured from it when no other is chosen.
CHAPTER_REFERENCE = "mnist"


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


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment: family-wise error held at the nominal level."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def contrast(samples: list[np.ndarray], weights: list[float]) -> dict[str, float]:
    """sum(w_i * mean_i) over independent samples, with a Welch-Satterthwaite 95% interval
    and t-test; e.g. a difference of two gaps: weights [1, -1, -1, 1]."""
    estimate = float(sum(w * np.mean(x) for w, x in zip(weights, samples, strict=True)))
    nan = {"ci_low": math.nan, "ci_high": math.nan, "t": math.nan, "df": math.nan, "p": math.nan}
    if any(len(x) < 2 for x in samples):
        return {"estimate": estimate, **nan}
    parts = [w * w * np.var(x, ddof=1) / len(x) for w, x in zip(weights, samples, strict=True)]
    se = math.sqrt(sum(parts))
    if se == 0:
        return {"estimate": estimate, **nan, "ci_low": estimate, "ci_high": estimate}
    df = sum(parts) ** 2 / sum(v * v / (len(x) - 1) for v, x in zip(parts, samples, strict=True))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se
    t = estimate / se
    return {
        "estimate": estimate,
        "ci_low": estimate - half,
        "ci_high": estimate + half,
        "t": t,
        "df": df,
        "p": float(2 * stats.t.sf(abs(t), df)),
    }


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


def gaps(
    runs: pd.DataFrame,
    keys: list[str],
    names: dict | None = None,
    reference: str | None = None,
) -> pd.DataFrame:
    """Final-accuracy gaps of every other dataset to the reference (reference - other),
    within cells equal in every other key; reference: a dataset.name (default: MNIST where
    present, else the first in name order).

    Where there is more than one gap (several datasets, or a grid), p-values are adjusted
    with Holm's method. Where there are several cells (a grid), each gap is also compared
    with the same pair's gap in the chapter's cell: the difference of the two gaps, with its
    Welch-Satterthwaite interval and t-test, answers "does this model or optimizer close the
    gap?". The gaps and the gap differences are separate families for Holm's adjustment.
    """
    names = names or {}
    if "dataset.name" not in keys or runs["dataset.name"].nunique() < 2:
        return pd.DataFrame()
    reference = reference or default_reference(runs["dataset.name"])
    others = [k for k in keys if k != "dataset.name"]
    blocks = list(runs.groupby(others, dropna=False, sort=False)) if others else [((), runs)]
    rows, samples = [], []
    for _, block in blocks:
        first = block.iloc[0]
        for other in _compared_with(block, reference):
            acc_a, acc_b = _finals(block, reference), _finals(block, other)
            rows.append(_gap_row(first, others, names, reference, other, acc_a, acc_b))
            samples.append(((reference, other), first, acc_a, acc_b))
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    if len(table) > 1 or len(blocks) > 1:
        table["p_holm"] = holm(table["p_value"])
    if len(blocks) > 1:
        _compare_with_chapters_cell(table, samples)
    return table


def _compared_with(block: pd.DataFrame, reference: str) -> list[str]:
    """The datasets of a cell measured against the reference: none where the cell lacks it
    (a gap to some other dataset would not be the gap the table promises)."""
    present = set(block["dataset.name"])
    return sorted(present - {reference}) if reference in present else []


def _gap_row(
    first: pd.Series,
    others: list[str],
    names: dict,
    a: str,
    b: str,
    acc_a: np.ndarray,
    acc_b: np.ndarray,
) -> dict:
    context = group_label(first, others, names) if others else ""
    return {
        "comparison": f"{names.get(a, a)} - {names.get(b, b)}"
        + (f" ({context})" if context else ""),
        **{factor_name(k): factor_value(first, k, names) for k in others},
        "a": a,
        "b": b,
        "a_label": names.get(a, a),
        "b_label": names.get(b, b),
        "seeds_a": len(acc_a),
        "seeds_b": len(acc_b),
        "mean_a": float(acc_a.mean()),
        "mean_b": float(acc_b.mean()),
        **welch(acc_a, acc_b),
    }


_CONTRAST_FIELDS = ("estimate", "ci_low", "ci_high", "t", "df", "p")  # as the columns


def _compare_with_chapters_cell(table: pd.DataFrame, samples: list[tuple]) -> None:
    """Each pair's gap in every cell against the same pair's gap in the chapter's cell
    (columns added to table in place; the chapter's cell is marked in "reference")."""
    table["reference"] = ""
    columns = ["gap_minus_chapter", "diff_ci_low", "diff_ci_high", "diff_t", "diff_df", "diff_p"]
    for column in columns:
        table[column] = math.nan
    for pair in dict.fromkeys(s[0] for s in samples):
        members = [i for i, s in enumerate(samples) if s[0] == pair]
        ref = reference_cell([samples[i][1] for i in members])
        if ref is None:
            continue
        ref = members[ref]
        table.loc[ref, "reference"] = "chapter's cell"
        _, _, ref_a, ref_b = samples[ref]
        for i in members:
            if i == ref:
                continue
            _, _, acc_a, acc_b = samples[i]
            c = contrast([acc_a, acc_b, ref_a, ref_b], [1, -1, -1, 1])
            table.loc[i, columns] = [c[k] for k in _CONTRAST_FIELDS]
    table["diff_p_holm"] = holm(table["diff_p"])


def _finals(block: pd.DataFrame, dataset: str) -> np.ndarray:
    return block.loc[block["dataset.name"] == dataset, "final_test_acc"].to_numpy(float)


def per_class(
    runs: pd.DataFrame, results: dict[str, dict], keys: list[str], names: dict | None = None
) -> pd.DataFrame:
    """One row per group and class: mean final per-class test accuracy over seeds, with range."""
    rows = []
    for _, group in runs.groupby(keys, dropna=False, sort=False):
        label = group_label(group.iloc[0], keys, names)
        table = pd.DataFrame([results[r]["per_class_test_acc"] for r in group["run"]])
        for name in table.columns:
            rows.append(
                {
                    "group": label,
                    "dataset": group.iloc[0].get("dataset.name"),
                    "class": name,
                    "acc_mean": float(table[name].mean()),
                    "acc_min": float(table[name].min()),
                    "acc_max": float(table[name].max()),
                    "seeds": len(table),
                }
            )
    return pd.DataFrame(rows)


def confusion(
    runs: pd.DataFrame, results: dict[str, dict], keys: list[str], names: dict | None = None
) -> dict[str, tuple]:
    """Per group: (class names, confusion counts summed over seeds; rows = true class)."""
    matrices = {}
    for _, group in runs.groupby(keys, dropna=False, sort=False):
        first = results[group["run"].iloc[0]]
        total = sum(np.array(results[r]["confusion_matrix"]) for r in group["run"])
        matrices[group_label(group.iloc[0], keys, names)] = (first["classes"], total)
    return matrices
