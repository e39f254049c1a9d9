"""The chapter study: one recipe on several datasets (or any groups side by side), checked
against the chapter's claim of about 99% test accuracy.

Its report answers in plain words made from the numbers alone: each group's mean with its
interval, whether it reaches 99%, the gap between the datasets, and where the errors are.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from cnn_study.analysis import figures, report
from cnn_study.analysis.chapter import TARGET
from cnn_study.analysis.inference import CONFIDENCE
from cnn_study.analysis.kinds import common
from cnn_study.analysis.kinds.base import Kind, SummaryTable, Tables
from cnn_study.analysis.kinds.common import p_value, pct, points
from cnn_study.analysis.study import Study


def matches(study: Study) -> bool:
    return True  # groups side by side fit any study: the kind of last resort


# --- tables -----------------------------------------------------------------------------


def headline_table(summary: pd.DataFrame) -> pd.DataFrame:
    level = f"{CONFIDENCE:.0%}"
    return pd.DataFrame(
        {
            "group": summary["group"],
            "seeds": summary["seeds"],
            "epochs": summary["epochs"],
            "final test acc, mean": summary["final_acc_mean"].map(pct),
            "std": summary["final_acc_std"].map(lambda v: pct(v, 3)),
            f"{level} CI": [
                f"{pct(lo)} to {pct(hi)}" if not math.isnan(lo) else "n/a (1 seed)"
                for lo, hi in zip(
                    summary["final_acc_ci_low"], summary["final_acc_ci_high"], strict=True
                )
            ],
            "min to max": [
                f"{pct(lo)} to {pct(hi)}"
                for lo, hi in zip(summary["final_acc_min"], summary["final_acc_max"], strict=True)
            ],
            "best epoch acc, mean": summary["best_acc_mean"].map(pct),
            "best epoch (median)": summary["best_epoch_median"].map(lambda v: f"{v:g}"),
            "mean curve first >= 99%": summary["first_epoch_mean_reaches_99"].map(
                lambda v: "never" if math.isnan(v) else f"epoch {v:g}"
            ),
            "train time per run": summary["train_seconds_mean"].map(lambda s: f"{s / 60:.1f} min"),
        }
    )


def gap_table(gaps: pd.DataFrame) -> pd.DataFrame:
    level = f"{CONFIDENCE:.0%}"
    return pd.DataFrame(
        {
            "comparison": gaps["comparison"],
            "seeds": [f"{a} vs {b}" for a, b in zip(gaps["seeds_a"], gaps["seeds_b"], strict=True)],
            "gap (points)": gaps["gap"].map(points),
            f"{level} CI (Welch)": [
                f"{points(lo)} to {points(hi)}" if not math.isnan(lo) else "n/a"
                for lo, hi in zip(gaps["gap_ci_low"], gaps["gap_ci_high"], strict=True)
            ],
            "Welch t": gaps["welch_t"].map(lambda v: "n/a" if math.isnan(v) else f"{v:.1f}"),
            "df": gaps["welch_df"].map(lambda v: "n/a" if math.isnan(v) else f"{v:.1f}"),
            "p (two-sided)": gaps["p_value"].map(p_value),
        }
    )


def per_class_table(per_class: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Groups side by side, class by class (class i of each group's dataset on row i; a
    dataset with fewer classes leaves its last rows empty)."""
    columns = {}
    for group in order:
        block = per_class[per_class["group"] == group].reset_index(drop=True)
        columns[f"{group} class"] = block["class"]
        # a Series, aligned on the row: datasets may have different numbers of classes
        columns[f"{group} accuracy"] = pd.Series(
            [
                f"{pct(m, 1)} ({pct(lo, 1)} to {pct(hi, 1)})"
                for m, lo, hi in zip(
                    block["acc_mean"], block["acc_min"], block["acc_max"], strict=True
                )
            ],
            dtype=object,
        )
    return pd.DataFrame(columns).fillna("")


def tables(study: Study) -> Tables:
    found: Tables = {
        "headline": SummaryTable("Final test accuracy per group", headline_table(study.summary))
    }
    if not study.gaps.empty:
        found["gaps"] = SummaryTable("Gaps between datasets", gap_table(study.gaps))
    found["per_class"] = SummaryTable(
        "Final test accuracy per class (mean over seeds)",
        per_class_table(study.per_class, study.order),
    )
    return found


def draw(study: Study) -> dict[str, Figure]:
    order = study.order
    return {
        "learning_curves": figures.learning_curves(study.epochs, order),
        "final_accuracy": figures.final_accuracy(study.summary, study.runs, order),
        "per_class_accuracy": figures.per_class_accuracy(study.per_class, order),
        "confusion_matrices": figures.confusion_matrices(study.confusion, order),
        "loss_curves": figures.loss_curves(study.epochs, order),
    }


# --- the answer in words ----------------------------------------------------------------


def _claim(row) -> str:
    """Does a group reach the target? Judged by its mean and how sure the mean is."""
    mean, low, high = row.final_acc_mean, row.final_acc_ci_low, row.final_acc_ci_high
    short = f"{points(TARGET - mean)} points short of 99%"
    if math.isnan(low):
        return (
            "**reaches 99%** (one seed: no interval)"
            if mean >= TARGET
            else f"**{short}** (one seed: no interval)"
        )
    if low >= TARGET:
        return "**reaches 99%**: its whole interval is at or above 99%"
    if mean >= TARGET:
        return "**reaches 99% on average, only just**: its interval reaches below 99%"
    if high >= TARGET:
        return (
            f"**about 99%**: the mean is {short}, and its interval includes 99%, so the "
            "seeds cannot tell it apart from 99%"
        )
    if row.seeds_ever_reaching_99:
        return f"**does not reach 99%**: the mean is {short}; its interval lies below 99%"
    return f"**does not reach 99%**: {short}, and no seed reaches 99% at any epoch"


def verdict(summary: pd.DataFrame, gaps: pd.DataFrame) -> str:
    """The chapter's claim checked in plain words, from the numbers alone."""
    lines = []
    for row in summary.itertuples(index=False):
        interval = (
            f" (95% CI {pct(row.final_acc_ci_low)} to {pct(row.final_acc_ci_high)})"
            if not math.isnan(row.final_acc_ci_low)
            else ""
        )
        lines.append(
            f"- **{row.group}**: final test accuracy {pct(row.final_acc_mean)}{interval} "
            f"over {row.seeds} seed{'s' * (row.seeds != 1)}; {_claim(row)} "
            f"({row.seeds_final_reaching_99} of {row.seeds} seeds at 99% or more after the last "
            f"epoch; best single epoch of any seed {pct(row.best_acc_max)})."
        )
    for row in gaps.itertuples(index=False):
        if math.isnan(row.gap_ci_low):
            sure = "with too few seeds for an interval"
        else:
            sure = (
                f"95% CI {points(row.gap_ci_low)} to {points(row.gap_ci_high)} points, "
                f"Welch's t-test p = {p_value(row.p_value)}"
            )
        lines.append(f"- Gap {row.comparison}: **{points(row.gap)} percentage points** ({sure}).")
    return "\n".join(lines)


def write_report(study: Study, found: Tables) -> list[report.Block]:
    B = report
    runs = study.runs
    varied = [k for k in study.keys if "." in k]  # config keys; a study name is not one
    blocks: list[report.Block] = [
        B.Heading("cnn-study report: does the chapter's CNN reach 99%?", 1),
        B.Paragraph(common.generated(study) + "."),
        *common.commands(study),
        B.Heading("The answer"),
        B.Paragraph(
            "The chapter reports about 99% test accuracy for its CNN. Trained with its exact "
            "recipe, over several seeds, on each dataset:"
        ),
        B.Paragraph(verdict(study.summary, study.gaps)),
        # the chapter's own comparison is from MNIST; only another choice needs saying
        *([B.Paragraph(common.reference_sentence(study))] if study.reference_chosen else []),
        *found["headline"].blocks(),
        *(found["gaps"].blocks() if "gaps" in found else []),
        B.Figure(
            Path("learning_curves.png"),
            "Test accuracy per epoch: mean over seeds, band from the lowest to the highest "
            "seed; dashed: 99%. Right: the same, zoomed in on 97% to 100%.",
        ),
        B.Figure(Path("final_accuracy.png"), figures.final_accuracy_caption("group")),
        B.Heading("Where the errors are"),
        B.Paragraph(common.hardest_classes(study.per_class)),
        B.Table(found["per_class"].frame),
        B.Figure(
            Path("per_class_accuracy.png"),
            "Final test accuracy per class, mean over seeds (whiskers: min to max).",
        ),
        *common.errors_and_losses(),
        *common.what_was_run(
            study,
            "Groups differ in: "
            + (", ".join(f"`{k}`" for k in varied) or "nothing")
            + "; seeds are the repetitions. Seeds per group: "
            + "; ".join(
                f"{g}: {', '.join(map(str, sorted(s)))}" for g, s in runs.groupby("group")["seed"]
            )
            + ".",
            varied,
        ),
        *common.machine(study),
        *common.appendix(study),
        B.Heading("Method"),
        B.Paragraph(
            f"Accuracies are fractions of the {common.test_set_size(runs)} test images "
            "classified correctly, after the "
            'last epoch ("final") or at each run\'s best epoch ("best"; picking the best epoch '
            "on the test set flatters it, so the final accuracy is the headline). Intervals are "
            "two-sided 95% Student t intervals of the mean over seeds; gaps use Welch's interval "
            "and t-test (unequal variances). With few seeds the intervals are wide: they say how "
            f"sure the mean is, not how a single run will land. The target line is {TARGET:.0%}."
        ),
    ]
    return blocks


KIND = Kind(
    name="chapter",
    title="cnn-study report",
    matches=matches,
    tables=tables,
    figures=draw,
    report=write_report,
)
