"""A grid's answer in plain sentences and tables, made from its numbers alone.

A grid crosses the dataset with other factors (model, optimizer...). Its cells are the
combinations of the other factors; the chapter's cell (its CNN, SGD, no schedule) is the
reference that each factor's effect and each gap is measured against.
"""

from __future__ import annotations

import math

import pandas as pd

from cnn_study.analysis.report import p_value, pct, points
from cnn_study.analysis.stats import CONFIDENCE

LEVEL = f"{CONFIDENCE:.0%}"


def _signed(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}{abs(100 * value):.2f}"


def _interval(low: float, high: float) -> str:
    return "n/a" if math.isnan(low) else f"{points(low)} to {points(high)}"


def cell_table(summary: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """One row per cell and dataset: mean, std, 95% CI, distinct seeds."""
    return pd.DataFrame(
        {
            "dataset": summary["dataset_label"],
            **{f: summary[f] for f in factors},
            "seeds": summary["seeds"],
            "epochs": summary["epochs"],
            "parameters": summary["parameters"].map(lambda v: f"{int(v):,}"),
            "final test acc, mean": summary["final_acc_mean"].map(pct),
            "std (points)": summary["final_acc_std"].map(lambda v: points(v, 2)),
            f"{LEVEL} CI": [
                "n/a" if math.isnan(lo) else f"{pct(lo)} to {pct(hi)}"
                for lo, hi in zip(
                    summary["final_acc_ci_low"], summary["final_acc_ci_high"], strict=True
                )
            ],
        }
    )


def gap_difference_table(gaps: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """Each cell's gap, and how much it differs from the chapter's cell's gap."""
    return pd.DataFrame(
        {
            **{f: gaps[f] for f in factors},
            "seeds": [f"{a} vs {b}" for a, b in zip(gaps["seeds_a"], gaps["seeds_b"], strict=True)],
            "gap (points)": gaps["gap"].map(points),
            f"{LEVEL} CI (Welch)": [
                _interval(lo, hi)
                for lo, hi in zip(gaps["gap_ci_low"], gaps["gap_ci_high"], strict=True)
            ],
            "p (Holm)": gaps["p_holm"].map(p_value),
            "gap - chapter's gap": [
                "reference" if ref else ("n/a" if math.isnan(d) else _signed(d))
                for d, ref in zip(gaps["gap_minus_chapter"], gaps["reference"], strict=True)
            ],
            f"{LEVEL} CI of the difference": [
                "" if ref else _interval(lo, hi)
                for lo, hi, ref in zip(
                    gaps["diff_ci_low"], gaps["diff_ci_high"], gaps["reference"], strict=True
                )
            ],
            "p (Holm)  ": [
                "" if ref else p_value(p)
                for p, ref in zip(gaps["diff_p_holm"], gaps["reference"], strict=True)
            ],
        }
    )


def _cell_name(row: pd.Series, factors: list[str]) -> str:
    return " + ".join(str(row[f]) for f in factors)


def factor_effects(summary: pd.DataFrame, factors: list[str], reference: dict) -> list[str]:
    """What changing one factor from the chapter's level does, the others held there."""
    lines = []
    for factor in factors:
        held = {f: reference[f] for f in factors if f != factor}
        rows = summary
        for f, level in held.items():
            rows = rows[rows[f] == level]
        context = ", ".join(f"{f} {v}" for f, v in held.items())
        parts = []
        for label, block in rows.groupby("dataset_label", sort=False):
            base = block[block[factor] == reference[factor]]
            if base.empty:
                continue
            base_mean = base["final_acc_mean"].iloc[0]
            changes = [
                f"{r[factor]} {_signed(r['final_acc_mean'] - base_mean)} points "
                f"({pct(r['final_acc_mean'])})"
                for _, r in block.iterrows()
                if r[factor] != reference[factor]
            ]
            parts.append(
                f"on {label}, from {pct(base_mean)} with {reference[factor]}: " + ", ".join(changes)
            )
        if parts:
            lines.append(f"- **{factor}** ({context or 'alone'}): " + "; ".join(parts) + ".")
    return lines


def gap_sentences(gaps: pd.DataFrame, factors: list[str], epochs: int) -> list[str]:
    """The gap in the chapter's cell, the smallest gap, and whether any cell closes it."""
    lines = []
    ref = gaps[gaps["reference"] != ""]
    if len(ref):
        r = ref.iloc[0]
        lines.append(
            f"- In the chapter's cell ({_cell_name(r, factors)}, {epochs} epochs) the gap "
            f"{r['a_label']} - {r['b_label']} is **{points(r['gap'])} points** "
            f"({LEVEL} CI {_interval(r['gap_ci_low'], r['gap_ci_high'])})."
        )
    smallest = gaps.loc[gaps["gap"].idxmin()]
    largest = gaps.loc[gaps["gap"].idxmax()]
    line = (
        f"- The smallest gap is **{points(smallest['gap'])} points** with "
        f"{_cell_name(smallest, factors)} ({LEVEL} CI "
        f"{_interval(smallest['gap_ci_low'], smallest['gap_ci_high'])})"
    )
    if smallest["reference"] == "" and not math.isnan(smallest["gap_minus_chapter"]):
        line += (
            f", {points(-smallest['gap_minus_chapter'])} points less than the chapter's cell "
            f"({LEVEL} CI of the difference "
            f"{_interval(-smallest['diff_ci_high'], -smallest['diff_ci_low'])}, "
            f"Holm-adjusted p = {p_value(smallest['diff_p_holm'])})"
        )
    lines.append(
        line
        + f"; the largest is {points(largest['gap'])} points with {_cell_name(largest, factors)}."
    )
    closed = gaps[gaps["gap_ci_low"] <= 0]
    if closed.empty:
        lines.append(
            "- **No cell closes the gap**: in every cell the gap's interval lies above zero, "
            f"the lowest bound being {points(gaps['gap_ci_low'].min())} points."
        )
    else:
        names = ", ".join(_cell_name(r, factors) for _, r in closed.iterrows())
        lines.append(f"- The gap's interval reaches zero in: {names}.")
    narrower = gaps[(gaps["diff_ci_high"] < 0)]
    wider = gaps[(gaps["diff_ci_low"] > 0)]
    lines.append(
        f"- Against the chapter's cell, the gap is significantly smaller in {len(narrower)} "
        f"and larger in {len(wider)} of {len(gaps) - len(ref)} other cells (the difference's "
        f"{LEVEL} interval excludes zero)."
    )
    return lines
