"""Datasets compared: the same model and recipe on several datasets, each measured against
one reference dataset (MNIST unless another is chosen with --reference).

It asks how hard each dataset is, not whether anything reaches the chapter's target (its
claim, which its own kind checks): its report ranks the datasets, gives each one's gap to the
reference with Welch's interval and Holm-adjusted p, says in plain words which datasets are
harder or easier than the reference and which cannot be told apart from it, and names each
dataset's hardest classes by its own class names.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from cnn_study.analysis import figures
from cnn_study.analysis.chapter import CHAPTER_DATASETS
from cnn_study.analysis.inference import significant
from cnn_study.analysis.kinds import common
from cnn_study.analysis.kinds.base import Kind, Report, SummaryTable, Tables
from cnn_study.analysis.kinds.chapter import per_class_table
from cnn_study.analysis.kinds.formats import (
    ALPHA_LABEL,
    LEVEL,
    interval,
    intervals,
    p_value,
    pct,
    points,
    seeds,
)
from cnn_study.analysis.kinds.gap_tables import gap_table, judged_by, judged_p
from cnn_study.analysis.report import Figure as Caption
from cnn_study.analysis.study import Study


def _datasets(study: Study) -> set[str]:
    return set(study.runs["dataset.name"]) if "dataset.name" in study.runs else set()


def matches(study: Study) -> bool:
    """Only the dataset varies, between two or more datasets, and they are not just the
    chapter's MNIST and FashionMNIST."""
    datasets = _datasets(study)
    return study.keys == ["dataset.name"] and len(datasets) >= 2 and datasets != CHAPTER_DATASETS


def reference_label(study: Study) -> str:
    return study.names.get(study.reference, study.reference)


def title(study: Study) -> str:
    return f"How hard is each dataset, compared with {reference_label(study)}?"


# --- tables -----------------------------------------------------------------------------


def _class_counts(study: Study) -> pd.Series:
    """dataset.name -> how many classes its runs were scored on."""
    return study.per_class.drop_duplicates(["dataset", "class"]).groupby("dataset").size()


def _input_shapes(study: Study) -> dict[str, str]:
    """dataset.name -> its images' shape as the model took them: 1x28x28, 3x32x32."""
    columns = ["dataset.name", "dataset.in_channels", "dataset.image_size"]
    if not set(columns) <= set(study.runs.columns):
        return {}
    first = study.runs.drop_duplicates("dataset.name")[columns]
    return {n: f"{int(c)}x{int(s)}x{int(s)}" for n, c, s in first.itertuples(index=False)}


def accuracy_table(study: Study) -> pd.DataFrame:
    """One row per dataset: its final test accuracy over seeds, with its interval."""
    summary = study.summary
    return pd.DataFrame(
        {
            "dataset": summary["dataset_label"],
            "name": summary["dataset"],
            "classes": summary["dataset"].map(_class_counts(study)),
            # The same model is built for each dataset's channels, size and classes.
            "input": summary["dataset"].map(_input_shapes(study)),
            "parameters": summary["parameters"].map(lambda v: f"{int(v):,}"),
            "seeds": summary["seeds"],
            "epochs": summary["epochs"],
            "final test acc, mean": summary["final_acc_mean"].map(pct),
            "std (points)": summary["final_acc_std"].map(points),
            f"{LEVEL} CI": intervals(
                summary["final_acc_ci_low"], summary["final_acc_ci_high"], pct
            ),
            "min to max": intervals(summary["final_acc_min"], summary["final_acc_max"], pct),
            "train time per run": summary["train_seconds_mean"].map(lambda s: f"{s / 60:.1f} min"),
        }
    )


def tables(study: Study) -> Tables:
    found: Tables = {
        "accuracy": SummaryTable("Final test accuracy per dataset", accuracy_table(study))
    }
    if not study.gaps.empty:
        found["gaps"] = SummaryTable(
            f"Each dataset's gap to {reference_label(study)}", gap_table(study.gaps)
        )
    found["per_class"] = SummaryTable(
        "Final test accuracy per class, each dataset's own classes (mean over seeds; min to max)",
        per_class_table(study.per_class, study.order),
    )
    return found


# --- figures ----------------------------------------------------------------------------


def _columns(n: int) -> int:
    """Panels per row: as square an arrangement as n allows (2 x 2 for four), so that each
    panel stays large enough for its class names when the page shrinks the figure."""
    return max(1, math.ceil(math.sqrt(n)))


# Datasets far apart in difficulty have losses far apart: each loss panel on its own scale,
# which the figure and its caption both say.
LOSSES_ON_OWN_SCALES = True


def draw(study: Study) -> dict[str, Figure]:
    order = study.order
    columns = _columns(len(order))
    return {
        "learning_curves": figures.learning_curves(
            study.epochs,
            order,
            target=None,
            title="Test accuracy per epoch: the same model and recipe on each dataset",
        ),
        "final_accuracy": figures.final_accuracy(study.summary, study.runs, order, target=None),
        "per_class_accuracy": figures.per_class_accuracy(
            study.per_class, order, target=None, columns=columns
        ),
        "confusion_matrices": figures.confusion_matrices(study.confusion, order, columns),
        "loss_curves": figures.loss_curves(
            study.epochs, order, sharey=not LOSSES_ON_OWN_SCALES, columns=columns
        ),
    }


# --- the answer in words ----------------------------------------------------------------


def judgement(row: pd.Series) -> str:
    """harder, easier, alike (cannot be told apart) or untested, from the p the gap table
    shows (Holm-adjusted where there are several gaps)."""
    p = judged_p(row)
    if math.isnan(p):
        return "untested"
    if not significant(p):
        return "alike"
    return "harder" if row["gap"] > 0 else "easier"


def _evidence(row: pd.Series) -> str:
    """The gap's interval and adjusted p, as the sentences quote them."""
    return (
        f"{LEVEL} CI {interval(row['gap_ci_low'], row['gap_ci_high'])} points, "
        f"{judged_by(row)} = {p_value(judged_p(row))}"
    )


def gap_sentence(row: pd.Series) -> str:
    """One dataset against the reference, in plain words."""
    other, ref = row["b_label"], row["a_label"]
    accuracies = f"{pct(row['mean_b'])} against {pct(row['mean_a'])}"
    size = points(abs(row["gap"]))
    verdict = judgement(row)
    if verdict == "harder":
        return (
            f"- **{other} is harder than {ref}**: {accuracies}, **{size} points lower** "
            f"({_evidence(row)})."
        )
    if verdict == "easier":
        return (
            f"- **{other} is easier than {ref}**: {accuracies}, **{size} points higher** "
            f"({_evidence(row)})."
        )
    if verdict == "alike":
        return (
            f"- **{other} cannot be told apart from {ref}**: {accuracies}, a difference of "
            f"{size} points that the seeds do not separate from zero ({_evidence(row)})."
        )
    return (
        f"- **{other}** against {ref}: {accuracies}, a difference of {size} points, with too "
        "few seeds (or seeds too alike) to test it."
    )


def _named(labels: list[str]) -> str:
    if len(labels) < 2:
        return "".join(labels)
    return ", ".join(labels[:-1]) + f" and {labels[-1]}"


def overview(study: Study) -> str:
    """The answer in one paragraph: the ranking, then how many datasets are harder than
    the reference, easier, or not told apart from it."""
    ranked = study.summary.sort_values("final_acc_mean", ascending=False)
    ranking = ", ".join(
        f"{r.dataset_label} {pct(r.final_acc_mean)}" for r in ranked.itertuples(index=False)
    )
    text = f"From the most to the least accurate: {ranking}."
    if study.gaps.empty:
        return text
    verdicts = study.gaps.apply(judgement, axis=1)
    parts = []
    for verdict, words in (
        ("harder", "harder than"),
        ("easier", "easier than"),
        ("alike", "not told apart from"),
        ("untested", "not tested against"),
    ):
        rows = study.gaps[verdicts == verdict]
        labels = list(rows["b_label"])
        if verdict in ("harder", "easier"):  # by how much, the largest gap first
            rows = rows.reindex(rows["gap"].abs().sort_values(ascending=False).index)
            labels = [f"{r.b_label} (by {points(abs(r.gap))} points)" for r in rows.itertuples()]
        if labels:
            verb = "is" if len(labels) == 1 else "are"
            parts.append(f"{_named(labels)} {verb} {words} {reference_label(study)}")
    return text + " " + "; ".join(parts) + "."


def report(study: Study, found: Tables) -> Report:
    runs = study.runs
    return Report(
        title=f"{title(study).lower()[0]}{title(study)[1:]}",
        opening=f": {len(study.order)} datasets, the same model and recipe on each",
        answer=[
            overview(study),
            common.reference_sentence(study),
            "\n".join(gap_sentence(row) for _, row in study.gaps.iterrows()),
        ],
        tables=[found["accuracy"], *([found["gaps"]] if "gaps" in found else [])],
        figures=[
            Caption(
                Path("learning_curves.png"),
                "Test accuracy per epoch: mean over seeds, band from the lowest to the highest "
                "seed.",
            ),
            Caption(Path("final_accuracy.png"), figures.final_accuracy_caption("dataset")),
        ],
        class_table=found["per_class"],
        class_figure=Caption(
            Path("per_class_accuracy.png"),
            "Final test accuracy per class, each dataset's own classes, mean over seeds "
            "(whiskers: min to max).",
        ),
        differences="The runs differ in the dataset only (`dataset.name`); seeds are the "
        "repetitions. Seeds per dataset: "
        + "; ".join(f"{g}: {seeds(s)}" for g, s in runs.groupby("group", sort=False)["seed"])
        + ".",
        varied=tuple(study.keys),
        method=method(study),
        losses_on_own_scales=LOSSES_ON_OWN_SCALES,
    )


def method(study: Study) -> str:
    gaps = len(study.gaps)
    return (
        f"Accuracies are fractions of each dataset's {common.test_set_size(study.runs)} test "
        f"images classified correctly after the last epoch. Intervals are two-sided {LEVEL} "
        "Student t intervals of the mean over seeds. Each dataset's gap to the reference is "
        "the reference's mean minus its own (positive: harder than the reference), with "
        "Welch's interval and t-test (unequal variances)"
        + (
            f"; the {gaps} p-values are adjusted for multiple comparisons with Holm's "
            "step-down method (intervals are not adjusted)"
            if gaps > 1
            else ""
        )
        + f". A dataset is called harder or easier where its {judged_by(study.gaps)} is below "
        f"{ALPHA_LABEL}, and not told apart from the reference otherwise. Datasets differ in "
        "images and classes, so a gap says how hard a dataset is for this model and recipe, "
        "not for every model; the model is the same network built for each dataset's "
        "channels, image size and class count (the table gives its parameters on each). "
        "With few seeds the intervals are wide: they say how sure a mean is, not how a "
        "single run will land."
    )


KIND = Kind(
    name="datasets",
    title="cnn-study report: datasets compared",
    matches=matches,
    tables=tables,
    figures=draw,
    report=report,
)
