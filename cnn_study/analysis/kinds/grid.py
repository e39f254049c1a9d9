"""A factorial grid: the dataset crossed with other factors (model, optimizer...), asking
whether any cell closes the gap between the datasets.

Its cells are the combinations of the other factors; the chapter's cell (its CNN, SGD, no
schedule) is the reference that each factor's effect and each gap is measured against. The
answer is told in sentences and tables made from the numbers alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from cnn_study.analysis import figures
from cnn_study.analysis.chapter import CHAPTER_EPOCHS
from cnn_study.analysis.inference import significant
from cnn_study.analysis.kinds import common
from cnn_study.analysis.kinds.base import Kind, Report, SummaryTable, Tables
from cnn_study.analysis.kinds.formats import (
    ALPHA_LABEL,
    LEVEL,
    interval,
    intervals,
    p_value,
    pct,
    points,
    seeds,
    signed,
)
from cnn_study.analysis.kinds.gap_tables import gap_difference_table, several_pairs
from cnn_study.analysis.report import Figure as Caption
from cnn_study.analysis.study import Study


def matches(study: Study) -> bool:
    """The dataset varies, and something else besides it."""
    return len(study.cell_keys) > 0 and "dataset.name" in study.keys


def cell_table(summary: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """One row per cell and dataset: mean, std, interval, distinct seeds."""
    return pd.DataFrame(
        {
            "dataset": summary["dataset_label"],
            **{f: summary[f] for f in factors},
            "seeds": summary["seeds"],
            "epochs": summary["epochs"],
            "parameters": summary["parameters"].map(lambda v: f"{int(v):,}"),
            "final test acc, mean": summary["final_acc_mean"].map(pct),
            "std (points)": summary["final_acc_std"].map(lambda v: points(v, 2)),
            f"{LEVEL} CI": intervals(
                summary["final_acc_ci_low"], summary["final_acc_ci_high"], pct
            ),
        }
    )


def cell_name(row: pd.Series, factors: list[str]) -> str:
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
                f"{r[factor]} {signed(r['final_acc_mean'] - base_mean)} points "
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


def gap_sentences(gaps: pd.DataFrame, factors: list[str], epochs: str) -> list[str]:
    """The gap in the chapter's cell, the smallest gap, and whether any cell closes it."""
    lines = []
    ref = gaps[gaps["reference"] != ""]
    if len(ref):
        r = ref.iloc[0]
        lines.append(
            f"- In the chapter's cell ({cell_name(r, factors)}, {epochs} epochs) the gap "
            f"{r['a_label']} - {r['b_label']} is **{points(r['gap'])} points** "
            f"({LEVEL} CI {interval(r['gap_ci_low'], r['gap_ci_high'])})."
        )
    smallest = gaps.loc[gaps["gap"].idxmin()]
    largest = gaps.loc[gaps["gap"].idxmax()]
    line = (
        f"- The smallest gap is **{points(smallest['gap'])} points** with "
        f"{cell_name(smallest, factors)} ({LEVEL} CI "
        f"{interval(smallest['gap_ci_low'], smallest['gap_ci_high'])})"
    )
    if smallest["reference"] == "" and not math.isnan(smallest["gap_minus_chapter"]):
        line += (
            f", {points(-smallest['gap_minus_chapter'])} points less than the chapter's cell "
            f"({LEVEL} CI of the difference "
            f"{interval(-smallest['diff_ci_high'], -smallest['diff_ci_low'])}, "
            f"Holm-adjusted p = {p_value(smallest['diff_p_holm'])})"
        )
    lines.append(
        line
        + f"; the largest is {points(largest['gap'])} points with {cell_name(largest, factors)}."
    )
    # Judged by the Holm-adjusted p the table shows, not by the unadjusted intervals: a
    # gap "closes" where it cannot be told from zero, a difference is "significant" where
    # its adjusted p is below ALPHA.
    tested = gaps[gaps["p_holm"].notna()]
    closed = tested[~tested["p_holm"].map(significant)]
    if closed.empty:
        side = "above" if (tested["gap"] > 0).all() else "away from"
        lines.append(
            f"- **No cell closes the gap**: in every cell the gap is {side} zero, with "
            f"Holm-adjusted p below {ALPHA_LABEL} (the largest: "
            f"{p_value(tested['p_holm'].max())})."
        )
    else:
        names = ", ".join(cell_name(r, factors) for _, r in closed.iterrows())
        lines.append(
            "- The gap cannot be told apart from zero (Holm-adjusted p of "
            f"{ALPHA_LABEL} or more) in: {names}."
        )
    others = gaps[gaps["reference"] == ""]
    differs = others["diff_p_holm"].map(significant)
    narrower = others[differs & (others["gap_minus_chapter"] < 0)]
    wider = others[differs & (others["gap_minus_chapter"] > 0)]
    lines.append(
        f"- Against the chapter's cell, the gap is significantly smaller in {len(narrower)} "
        f"and larger in {len(wider)} of {len(others)} other cells (the difference's "
        f"Holm-adjusted p below {ALPHA_LABEL})."
    )
    return lines


def pair_sentences(gaps: pd.DataFrame, factors: list[str], epochs: str) -> list[str]:
    """gap_sentences for each dataset's gap to the reference, each line naming its pair
    where there are several."""
    if not several_pairs(gaps):
        return gap_sentences(gaps, factors, epochs)
    lines = []
    for _, block in gaps.groupby("b", sort=False):
        pair = f"{block['a_label'].iloc[0]} - {block['b_label'].iloc[0]}"
        lines += [f"- {pair}: {line[2:]}" for line in gap_sentences(block, factors, epochs)]
    return lines


def tables(study: Study) -> Tables:
    return {
        "cells": SummaryTable(
            "Final test accuracy per cell", cell_table(study.summary, study.factors)
        ),
        "gaps": SummaryTable(
            "The gap per cell, and against the chapter's cell",
            gap_difference_table(study.gaps, study.factors),
        ),
    }


def _interaction_axes(factors: list[str]) -> tuple[str, str | None]:
    """x: the model where it varies (else the first factor); panels: the next factor."""
    x = "model" if "model" in factors else factors[0]
    rest = [f for f in factors if f != x]
    return x, (rest[0] if rest else None)


def draw(study: Study) -> dict[str, Figure]:
    summary = study.summary
    return {
        "interaction": figures.interaction(summary, study.gaps, *_interaction_axes(study.factors)),
        "learning_curves": figures.learning_curves_grid(study.epochs, summary),
        "final_accuracy": figures.final_accuracy_dots(summary, study.runs),
        "per_class_accuracy": figures.per_class_heatmap(study.per_class, summary),
        "confusion_matrices": figures.confusion_matrices(study.confusion, study.order),
        "loss_curves": figures.loss_curves(study.epochs, study.order),
    }


def report(study: Study, found: Tables) -> Report:
    """The gap per cell, what each factor changed, figures, records."""
    runs, summary, gap, factors = study.runs, study.summary, study.gaps, study.factors
    reference = gap[gap["reference"] != ""] if "reference" in gap else gap.iloc[:0]
    chapter = {f: reference[f].iloc[0] for f in factors} if len(reference) else None
    epochs = sorted({int(e) for e in runs["trainer.epochs"]})
    epochs_text = " or ".join(map(str, epochs))
    answer_lines = pair_sentences(gap, factors, epochs_text) if not gap.empty else []
    if chapter:
        answer_lines += factor_effects(summary, factors, chapter)
    answer = []
    if CHAPTER_EPOCHS not in epochs:
        answer.append(
            f"These runs train for {epochs_text} epochs, not the chapter's {CHAPTER_EPOCHS}: "
            "the cell with the chapter's CNN and SGD is the chapter's recipe cut short, not "
            f"the chapter study, whose own report gives its {CHAPTER_EPOCHS}-epoch numbers."
        )
    if study.reference_chosen or (not gap.empty and several_pairs(gap)):
        answer.append(common.reference_sentence(study))
    return Report(
        title="does a stronger model close the gap?",
        opening=f": {summary['dataset_label'].nunique()} datasets x "
        + " x ".join(f"{summary[f].nunique()} {f}s" for f in factors)
        + f", {epochs_text} epochs, seeds {seeds(runs['seed'].unique())}",
        answer=[*answer, "\n".join(answer_lines)],
        tables=list(found.values()),
        figures=[
            Caption(
                Path("interaction.png"),
                figures.interaction_caption(gap, *_interaction_axes(factors)),
            ),
            Caption(Path("learning_curves.png"), figures.learning_curves_grid_caption(summary)),
            Caption(Path("final_accuracy.png"), figures.final_accuracy_caption("cell")),
        ],
        class_figure=Caption(
            Path("per_class_accuracy.png"),
            "Final test accuracy per class and cell, mean over seeds; one colour scale for "
            "every panel.",
        ),
        differences="Cells differ in: "
        + ", ".join(f"`{k}`" for k in study.cell_keys)
        + "; seeds are the repetitions, and each is counted once.",
        varied=tuple(c for c in runs.columns if c.startswith(tuple(f"{f}." for f in factors))),
        method=(
            f"Accuracies are fractions of the {common.test_set_size(runs)} test images "
            f"classified correctly after the last epoch. Intervals are two-sided {LEVEL} "
            "Student t intervals of the mean over seeds. Each cell's gap between the datasets "
            "uses Welch's interval and t-test (unequal variances). The difference between a "
            "cell's gap and the chapter's cell's gap is a contrast of four independent means, "
            "(a1 - b1) - (a0 - b0), with a Welch-Satterthwaite interval and t-test. p-values "
            "are adjusted for multiple comparisons with Holm's step-down method, separately for "
            "the family of gaps and the family of gap differences; intervals are not adjusted. "
            "A gap closes, and a difference is significant, by its Holm-adjusted p against "
            f"{ALPHA_LABEL} (the p the tables show), so an unadjusted interval may exclude zero "
            "where the adjusted p does not. With three seeds per cell the intervals are wide: "
            "they say how sure a mean is, not how a single run will land."
        ),
    )


KIND = Kind(
    name="grid",
    title="cnn-study report: why the gap?",
    matches=matches,
    tables=tables,
    figures=draw,
    report=report,
)
