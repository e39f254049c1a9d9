"""The tidy tables of a study, one row per group, gap or class: each group summarised over
its seeds, each dataset's gap to the reference (Welch's, Holm-adjusted), and per-class
accuracy and confusion counts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from cnn_study.analysis.chapter import TARGET, reference_cell
from cnn_study.analysis.grouping import default_reference, factor_name, factor_value, group_label
from cnn_study.analysis.inference import contrast, holm, mean_interval, welch


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
