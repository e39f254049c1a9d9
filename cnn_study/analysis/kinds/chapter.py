"""The chapter study: one recipe on several datasets (or any groups side by side), checked
against the chapter's claim (chapter.TARGET test accuracy) where the datasets are the
chapter's own; groups of any other dataset are compared without that claim.

Its report answers in plain words made from the numbers alone: each group's mean with its
interval, whether it reaches the target, the gap between the datasets, and where the errors
are.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from cnn_study.analysis import figures
from cnn_study.analysis.chapter import TARGET
from cnn_study.analysis.kinds import common
from cnn_study.analysis.kinds.base import Kind, Report, SummaryTable, Tables
from cnn_study.analysis.kinds.formats import (
    LEVEL,
    TARGET_LABEL,
    intervals,
    p_value,
    pct,
    points,
    seeds,
)
from cnn_study.analysis.kinds.gap_tables import gap_table, judged_by, judged_p
from cnn_study.analysis.report import Figure as Caption
from cnn_study.analysis.study import Study


def matches(study: Study) -> bool:
    return True  # groups side by side fit any study: the kind of last resort


def target(study: Study) -> float | None:
    """The chapter's claim where the study is of the chapter's datasets, else None: the
    claim is about MNIST and FashionMNIST, not about a study of CIFAR-10 alone."""
    return figures.chapter_target(study.summary["dataset"])


def _datasets(study: Study) -> str:
    labels = list(dict.fromkeys(study.summary["dataset_label"].astype(str)))
    return ", ".join(labels[:-1]) + f" and {labels[-1]}" if len(labels) > 1 else labels[0]


# --- tables -----------------------------------------------------------------------------


def headline_table(summary: pd.DataFrame, target: float | None = TARGET) -> pd.DataFrame:
    """The groups' final accuracy; where the curves first reach the target only where the
    study has the target."""
    table = pd.DataFrame(
        {
            "group": summary["group"],
            "seeds": summary["seeds"],
            "epochs": summary["epochs"],
            "final test acc, mean": summary["final_acc_mean"].map(pct),
            "std (points)": summary["final_acc_std"].map(points),
            f"{LEVEL} CI": intervals(
                summary["final_acc_ci_low"], summary["final_acc_ci_high"], pct, "n/a (1 seed)"
            ),
            "min to max": intervals(summary["final_acc_min"], summary["final_acc_max"], pct),
            "best epoch acc, mean": summary["best_acc_mean"].map(pct),
            "best epoch (median)": summary["best_epoch_median"].map(lambda v: f"{v:g}"),
            f"mean curve first >= {TARGET_LABEL}": summary["first_epoch_mean_reaches_99"].map(
                lambda v: "never" if math.isnan(v) else f"epoch {v:g}"
            ),
            "train time per run": summary["train_seconds_mean"].map(lambda s: f"{s / 60:.1f} min"),
        }
    )
    return (
        table if target is not None else table.drop(columns=f"mean curve first >= {TARGET_LABEL}")
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
                f"{pct(m, 1)} ({interval})"
                for m, interval in zip(
                    block["acc_mean"],
                    intervals(block["acc_min"], block["acc_max"], lambda v: pct(v, 1)),
                    strict=True,
                )
            ],
            dtype=object,
        )
    return pd.DataFrame(columns).fillna("")


def tables(study: Study) -> Tables:
    found: Tables = {
        "headline": SummaryTable(
            "Final test accuracy per group", headline_table(study.summary, target(study))
        )
    }
    if not study.gaps.empty:
        found["gaps"] = SummaryTable("Gaps between datasets", gap_table(study.gaps))
    found["per_class"] = SummaryTable(
        "Final test accuracy per class (mean over seeds)",
        per_class_table(study.per_class, study.order),
    )
    return found


def draw(study: Study) -> dict[str, Figure]:
    order, claim = study.order, target(study)
    return {
        "learning_curves": figures.learning_curves(study.epochs, order, target=claim),
        "final_accuracy": figures.final_accuracy(study.summary, study.runs, order, target=claim),
        "per_class_accuracy": figures.per_class_accuracy(study.per_class, order, target=claim),
        "confusion_matrices": figures.confusion_matrices(study.confusion, order),
        "loss_curves": figures.loss_curves(study.epochs, order),
    }


# --- the answer in words ----------------------------------------------------------------


def _claim(row) -> str:
    """Does a group reach the target? Judged by its mean and how sure the mean is."""
    mean, low, high = row.final_acc_mean, row.final_acc_ci_low, row.final_acc_ci_high
    target = TARGET_LABEL
    short = f"{points(TARGET - mean)} points short of {target}"
    if math.isnan(low):
        return (
            f"**reaches {target}** (one seed: no interval)"
            if mean >= TARGET
            else f"**{short}** (one seed: no interval)"
        )
    if low >= TARGET:
        return f"**reaches {target}**: its whole interval is at or above {target}"
    if mean >= TARGET:
        return f"**reaches {target} on average, only just**: its interval reaches below {target}"
    if high >= TARGET:
        return (
            f"**about {target}**: the mean is {short}, and its interval includes {target}, so "
            f"the seeds cannot tell it apart from {target}"
        )
    if row.seeds_ever_reaching_99:
        return f"**does not reach {target}**: the mean is {short}; its interval lies below {target}"
    return f"**does not reach {target}**: {short}, and no seed reaches {target} at any epoch"


def verdict(summary: pd.DataFrame, gaps: pd.DataFrame, target: float | None = TARGET) -> str:
    """The chapter's claim checked in plain words, from the numbers alone (target None: each
    group's numbers without the claim, which is not about its dataset)."""
    lines = []
    for row in summary.itertuples(index=False):
        interval = (
            f" ({LEVEL} CI {pct(row.final_acc_ci_low)} to {pct(row.final_acc_ci_high)})"
            if not math.isnan(row.final_acc_ci_low)
            else ""
        )
        best = f"best single epoch of any seed {pct(row.best_acc_max)}"
        said = (
            f"; {_claim(row)} ({row.seeds_final_reaching_99} of {row.seeds} seeds at "
            f"{TARGET_LABEL} or more after the last epoch; {best})"
            if target is not None
            else f" ({best})"
        )
        lines.append(
            f"- **{row.group}**: final test accuracy {pct(row.final_acc_mean)}{interval} "
            f"over {row.seeds} seed{'s' * (row.seeds != 1)}{said}."
        )
    for _, row in gaps.iterrows():
        if math.isnan(row["gap_ci_low"]):
            sure = "with too few seeds for an interval"
        else:
            sure = (
                f"{LEVEL} CI {points(row['gap_ci_low'])} to {points(row['gap_ci_high'])} "
                f"points, {judged_by(row)} = {p_value(judged_p(row))}"
            )
        lines.append(
            f"- Gap {row['comparison']}: **{points(row['gap'])} percentage points** ({sure})."
        )
    return "\n".join(lines)


def report(study: Study, found: Tables) -> Report:
    runs = study.runs
    varied = [k for k in study.keys if "." in k]  # config keys; a study name is not one
    claim = target(study)
    if claim is not None:
        title = f"does the chapter's CNN reach {TARGET_LABEL}?"
        intro = (
            f"The chapter reports about {TARGET_LABEL} test accuracy for its CNN. Trained with "
            "its exact recipe, over several seeds, on each dataset:"
        )
        curves = (
            f"; dashed: {figures.target_label(claim)}. Right: the same, zoomed in on "
            f"{figures.zoom_floor(claim):.0f}% to 100%."
        )
        target_line = f"The target line is {TARGET_LABEL}."
    else:
        title = f"the chapter's CNN and recipe on {_datasets(study)}"
        intro = (
            f"The chapter's {TARGET_LABEL} claim is about its own datasets, not "
            f"{_datasets(study)}, so it is not checked here. Each group's final test accuracy, "
            "over several seeds:"
        )
        curves = "."
        target_line = "No target line is drawn: the chapter makes no claim about these data."
    # the chapter's own comparison is from MNIST; only another choice needs saying
    reference = [common.reference_sentence(study)] if study.reference_chosen else []
    return Report(
        title=title,
        answer=[intro, verdict(study.summary, study.gaps, claim), *reference],
        tables=[found["headline"], *([found["gaps"]] if "gaps" in found else [])],
        figures=[
            Caption(
                Path("learning_curves.png"),
                "Test accuracy per epoch: mean over seeds, band from the lowest to the highest "
                f"seed{curves}",
            ),
            Caption(Path("final_accuracy.png"), figures.final_accuracy_caption("group")),
        ],
        class_table=found["per_class"],
        class_figure=Caption(
            Path("per_class_accuracy.png"),
            "Final test accuracy per class, mean over seeds (whiskers: min to max).",
        ),
        differences="Groups differ in: "
        + (", ".join(f"`{k}`" for k in varied) or "nothing")
        + "; seeds are the repetitions. Seeds per group: "
        + "; ".join(f"{g}: {seeds(s)}" for g, s in runs.groupby("group")["seed"])
        + ".",
        varied=tuple(varied),
        method=(
            f"Accuracies are fractions of the {common.test_set_size(runs)} test images "
            "classified correctly, after the "
            'last epoch ("final") or at each run\'s best epoch ("best"; picking the best epoch '
            "on the test set flatters it, so the final accuracy is the headline). Intervals are "
            f"two-sided {LEVEL} Student t intervals of the mean over seeds; gaps use Welch's "
            "interval and t-test (unequal variances), with p adjusted by Holm's step-down "
            "method where there are several gaps. With few seeds the intervals are wide: they "
            "say how sure the mean is, not how a single run will land. " + target_line
        ),
    )


KIND = Kind(
    name="chapter",
    title="cnn-study report",
    matches=matches,
    tables=tables,
    figures=draw,
    report=report,
)
