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

from cnn_study.analysis import figures, report
from cnn_study.analysis.chapter import CHAPTER_EPOCHS
from cnn_study.analysis.inference import CONFIDENCE
from cnn_study.analysis.kinds import common
from cnn_study.analysis.kinds.base import Kind, SummaryTable, Tables
from cnn_study.analysis.kinds.common import p_value, pct, points
from cnn_study.analysis.study import Study

LEVEL = f"{CONFIDENCE:.0%}"


def matches(study: Study) -> bool:
    """The dataset varies, and something else besides it."""
    return len(study.cell_keys) > 0 and "dataset.name" in study.keys


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


def _several_pairs(gaps: pd.DataFrame) -> bool:
    """More than two datasets: each other dataset has its own gap to the reference."""
    return gaps["b"].nunique() > 1


def gap_difference_table(gaps: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """Each cell's gap, and how much it differs from the chapter's cell's gap (of the same
    two datasets, where there are more than two)."""
    pair = (
        {"gap of": [f"{a} - {b}" for a, b in zip(gaps["a_label"], gaps["b_label"], strict=True)]}
        if _several_pairs(gaps)
        else {}
    )
    return pd.DataFrame(
        {
            **pair,
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


def gap_sentences(gaps: pd.DataFrame, factors: list[str], epochs: str) -> list[str]:
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


def pair_sentences(gaps: pd.DataFrame, factors: list[str], epochs: str) -> list[str]:
    """gap_sentences for each dataset's gap to the reference, each line naming its pair
    where there are several."""
    if not _several_pairs(gaps):
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


def write_report(study: Study, found: Tables) -> list[report.Block]:
    """The gap per cell, what each factor changed, figures, records."""
    B = report
    runs, summary, gap, factors = study.runs, study.summary, study.gaps, study.factors
    reference = gap[gap["reference"] != ""] if "reference" in gap else gap.iloc[:0]
    chapter = {f: reference[f].iloc[0] for f in factors} if len(reference) else None
    epochs = sorted({int(e) for e in runs["trainer.epochs"]})
    epochs_text = " or ".join(map(str, epochs))
    answer_lines = pair_sentences(gap, factors, epochs_text) if not gap.empty else []
    if chapter:
        answer_lines += factor_effects(summary, factors, chapter)
    blocks: list[report.Block] = [
        B.Heading("cnn-study report: does a stronger model close the gap?", 1),
        B.Paragraph(
            common.generated(study)
            + f": {summary['dataset_label'].nunique()} datasets x "
            + " x ".join(f"{summary[f].nunique()} {f}s" for f in factors)
            + f", {epochs_text} epochs, seeds "
            + ", ".join(map(str, sorted(runs["seed"].unique())))
            + "."
        ),
        *common.commands(study),
        B.Heading("The answer"),
    ]
    if CHAPTER_EPOCHS not in epochs:
        blocks.append(
            B.Paragraph(
                f"These runs train for {epochs_text} epochs, not the chapter's {CHAPTER_EPOCHS}: "
                "the cell with the chapter's CNN and SGD is the chapter's recipe cut short, not "
                f"the chapter study, whose own report gives its {CHAPTER_EPOCHS}-epoch numbers."
            )
        )
    if study.reference_chosen or (not gap.empty and _several_pairs(gap)):
        blocks.append(B.Paragraph(common.reference_sentence(study)))
    blocks += [
        B.Paragraph("\n".join(answer_lines)),
        *(block for table in found.values() for block in table.blocks()),
        B.Figure(
            Path("interaction.png"),
            figures.interaction_caption(gap, *_interaction_axes(factors)),
        ),
        B.Figure(Path("learning_curves.png"), figures.learning_curves_grid_caption(summary)),
        B.Figure(Path("final_accuracy.png"), figures.final_accuracy_caption("cell")),
        B.Figure(
            Path("per_class_accuracy.png"),
            "Final test accuracy per class and cell, mean over seeds.",
        ),
        *common.errors_and_losses(),
        *common.what_was_run(
            study,
            "Cells differ in: "
            + ", ".join(f"`{k}`" for k in study.cell_keys)
            + "; seeds are the repetitions, and each is counted once.",
            [c for c in runs.columns if c.startswith(tuple(f"{f}." for f in factors))],
        ),
        *common.machine(study),
        *common.appendix(study),
        B.Heading("Method"),
        B.Paragraph(
            f"Accuracies are fractions of the {common.test_set_size(runs)} test images "
            "classified correctly after the last epoch. Intervals are two-sided 95% Student t "
            "intervals of the mean over seeds. Each cell's gap between the datasets uses Welch's "
            "interval and t-test (unequal variances). The difference between a cell's gap and "
            "the chapter's cell's gap is a contrast of four independent means, (a1 - b1) - "
            "(a0 - b0), with a Welch-Satterthwaite interval and t-test. p-values are adjusted "
            "for multiple comparisons with Holm's step-down method, separately for the family "
            "of gaps and the family of gap differences; intervals are not adjusted. With three "
            "seeds per cell the intervals are wide: they say how sure a mean is, not how a "
            "single run will land."
        ),
    ]
    return blocks


KIND = Kind(
    name="grid",
    title="cnn-study report: why the gap?",
    matches=matches,
    tables=tables,
    figures=draw,
    report=write_report,
)
