"""Runs in, evidence out: collect -> group -> summarise -> tables, figures, report."""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cnn_study.analysis import figures, report
from cnn_study.analysis.collect import COMPLETE, Collection, collect
from cnn_study.analysis.stats import (
    TARGET,
    confusion,
    dataset_order,
    gaps,
    group_keys,
    group_label,
    per_class,
    summarise,
)
from cnn_study.errors import StudyError

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    collection: Collection
    keys: list[str]
    summary: pd.DataFrame
    gaps: pd.DataFrame
    per_class: pd.DataFrame
    written: list[Path]


def _check_out(out: Path, folders: list[Path]) -> None:
    for folder in folders:
        if out.resolve().is_relative_to(folder.resolve()):
            raise StudyError(
                f"--out {out} is inside the run folder {folder}: the analysis never "
                "writes into run folders; choose another --out"
            )


def analyse(paths: list[Path], out: Path, command: str | None = None) -> Analysis:
    """Analyse every run below paths and write tables, figures and the report to out."""
    collection = collect(paths)  # reads only; nothing is written before the check below
    _check_out(out, collection.folders)
    if collection.runs.empty:
        raise StudyError(
            f"no run folders found below {', '.join(map(str, paths))} (a run folder holds "
            ".hydra/config.yaml): point the analysis at the outputs of `python -m cnn_study`"
        )
    others = collection.runs[collection.runs["status"] != COMPLETE]
    for row in others.itertuples(index=False):
        log.warning(
            "left out of the statistics: %s (%s, %s epochs done)",
            row.run,
            row.status,
            row.epochs_completed,
        )
    if collection.complete.empty:
        raise StudyError(
            f"found {len(collection.runs)} run folders below {', '.join(map(str, paths))} but "
            "none has finished: finish them (rerun the same command) and analyse again"
        )

    runs = collection.complete.copy()
    keys = group_keys(runs)
    names = _dataset_names(runs)
    runs["group"] = [group_label(row, keys, names) for _, row in runs.iterrows()]
    epochs = collection.epochs.merge(runs[["run", "group"]], on="run")
    summary = summarise(runs, epochs, keys, names)
    summary = summary.sort_values(
        "dataset",
        key=lambda s: s.map({n: i for i, n in enumerate(dataset_order(s))}),
        kind="stable",
    ).reset_index(drop=True)
    order = list(summary["group"])
    gap = gaps(runs, keys, names)
    classes = per_class(runs, collection.results, keys, names)
    classes = classes.sort_values("group", key=lambda s: s.map(order.index), kind="stable")
    matrices = confusion(runs, collection.results, keys, names)

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write_csv(frame: pd.DataFrame, name: str) -> None:
        frame.to_csv(out / name, index=False)
        written.append(out / name)

    all_runs = collection.runs.merge(runs[["run", "group"]], on="run", how="left")
    write_csv(all_runs, "runs.csv")
    write_csv(collection.epochs.merge(all_runs[["run", "group", "status"]], on="run"), "epochs.csv")
    write_csv(summary, "summary.csv")
    if not gap.empty:
        write_csv(gap, "gaps.csv")
    write_csv(classes, "per_class.csv")

    figure_files = {
        "learning_curves": figures.learning_curves(epochs, order),
        "final_accuracy": figures.final_accuracy(summary, runs, order),
        "per_class_accuracy": figures.per_class_accuracy(classes, order),
        "confusion_matrices": figures.confusion_matrices(matrices, order),
        "loss_curves": figures.loss_curves(epochs, order),
    }
    for name, fig in figure_files.items():
        written.extend(figures.save(fig, out, name))

    tables = [
        report.Heading("Final test accuracy per group"),
        report.Table(report.headline_table(summary)),
    ]
    if not gap.empty:
        tables += [report.Heading("Gaps between datasets"), report.Table(report.gap_table(gap))]
    tables += [
        report.Heading("Final test accuracy per class (mean over seeds)"),
        report.Table(report.per_class_table(classes, order)),
    ]
    (out / "summary.md").write_text(report.to_markdown(tables))
    written.append(out / "summary.md")

    blocks = _report_blocks(collection, runs, summary, gap, classes, tables, paths, command)
    title = "cnn-study report"
    (out / "report.md").write_text(report.to_markdown(blocks))
    (out / "report.html").write_text(report.to_html(blocks, out, title))
    written += [out / "report.md", out / "report.html"]
    return Analysis(collection, keys, summary, gap, classes, written)


def _dataset_names(runs: pd.DataFrame) -> dict[str, str]:
    """mnist -> MNIST, fashion -> FashionMNIST: the torchvision class each run read."""
    if "dataset.torchvision_class" not in runs:
        return {}
    pairs = runs[["dataset.name", "dataset.torchvision_class"]].drop_duplicates()
    return {n: c.rsplit(".", 1)[-1] for n, c in pairs.itertuples(index=False)}


def study_commands(runs: pd.DataFrame) -> list[str]:
    """The sweep commands that give these runs, rebuilt from each run's saved overrides."""
    commands = []
    for (launcher, data_dir), block in runs.groupby(["launcher", "paths.data_dir"], dropna=False):
        values: dict[str, list[str]] = {}
        for overrides in block["overrides"]:
            for item in shlex.split(overrides):
                key, _, value = item.partition("=")
                values.setdefault(key, [])
                if value not in values[key]:
                    values[key].append(value)
        args = " ".join(f"{k}={','.join(_ordered(k, v))}" for k, v in values.items())
        choice = "" if launcher in (None, "basic") else f" hydra/launcher={launcher}"
        commands.append(f"CNN_STUDY_DATA_DIR={data_dir} python -m cnn_study -m{choice} {args}")
    return commands


def _ordered(key: str, values: list[str]) -> list[str]:
    """Sweep values in a reader's order: datasets MNIST first, numbers by size."""
    if key == "dataset":
        return dataset_order(values)
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def _elapsed_minutes(runs: pd.DataFrame) -> float:
    finished = pd.to_datetime(runs["finished"], utc=True)
    started = finished - pd.to_timedelta(runs["last_session_seconds"].astype(float), unit="s")
    return (finished.max() - started.min()).total_seconds() / 60


def _unique(runs: pd.DataFrame, column: str) -> str:
    if column not in runs:
        return "n/a"
    return ", ".join(sorted({str(v) for v in runs[column].dropna()})) or "n/a"


def _recipe(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Config values shared by every run: the recipe held fixed across the comparison."""
    shown = [
        c
        for c in runs.columns
        if c.startswith(("model.", "optimizer.", "trainer.")) and c not in keys
    ]
    rows = [(c, runs[c].iloc[0]) for c in shown if runs[c].nunique(dropna=False) == 1]
    return pd.DataFrame(rows, columns=["config key", "value"])


def _report_blocks(collection, runs, summary, gap, classes, tables, paths, command):
    B = report
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    blocks: list[report.Block] = [
        B.Heading("cnn-study report: does the chapter's CNN reach 99%?", 1),
        B.Paragraph(
            f"Generated {now} from {len(runs)} complete runs "
            f"({len(collection.runs) - len(runs)} incomplete or failed) below "
            f"{', '.join(f'`{p}`' for p in paths)}."
        ),
        B.Heading("Commands"),
        B.Paragraph("The study (rebuilt from the runs' saved overrides), then this analysis:"),
        B.Code("\n".join(study_commands(runs) + [command or "python -m cnn_study.analysis ..."])),
        B.Paragraph(
            f"Ran on {_unique(runs, 'device')} ({_unique(runs, 'device_name')}), host "
            f"{_unique(runs, 'host')}, {_unique(runs, 'num_threads')} torch thread(s) per run, "
            f"launcher {_unique(runs, 'launcher')}: {runs['train_seconds'].sum() / 60:.1f} min "
            f"of training in all, {_elapsed_minutes(runs):.1f} min from the first run's start "
            "to the last run's end."
        ),
        B.Heading("The answer"),
        B.Paragraph(
            "The chapter reports about 99% test accuracy for its CNN. Trained with its exact "
            "recipe, over several seeds, on each dataset:"
        ),
        B.Paragraph(report.verdict(summary, gap)),
    ]
    blocks += tables[:4] if not gap.empty else tables[:2]
    blocks += [
        B.Figure(
            Path("learning_curves.png"),
            "Test accuracy per epoch: mean over seeds, band from the lowest to the highest "
            "seed; dashed: 99%. Right: the same, zoomed in on 97% to 100%.",
        ),
        B.Figure(
            Path("final_accuracy.png"),
            "Final test accuracy per group: mean with its 95% t interval; dots: single seeds.",
        ),
        B.Heading("Where the errors are"),
        B.Paragraph(_worst_classes(classes)),
        tables[-1],
        B.Figure(
            Path("per_class_accuracy.png"),
            "Final test accuracy per class, mean over seeds (whiskers: min to max).",
        ),
        B.Figure(
            Path("confusion_matrices.png"),
            "Where each true class is predicted, in % of that class, all seeds pooled.",
        ),
        B.Figure(
            Path("loss_curves.png"),
            "Training loss (dropout on) and test loss per epoch, mean over seeds.",
        ),
        B.Heading("What was run"),
        B.Paragraph(
            "Groups differ in: "
            + (", ".join(f"`{k}`" for k in _keys(summary)) or "nothing")
            + "; seeds are the repetitions. Seeds per group: "
            + "; ".join(
                f"{g}: {', '.join(map(str, sorted(s)))}" for g, s in runs.groupby("group")["seed"]
            )
            + ". Every other setting is the same in every run:"
        ),
        B.Table(_recipe(runs, _keys(summary))),
        B.Heading("Machine and time"),
        B.Table(
            pd.DataFrame(
                [
                    ("hosts", _unique(runs, "host")),
                    ("device", f"{_unique(runs, 'device')} ({_unique(runs, 'device_name')})"),
                    ("torch threads per run", _unique(runs, "num_threads")),
                    ("launcher", _unique(runs, "launcher")),
                    (
                        "torch / torchvision / Python",
                        " / ".join(_unique(runs, c) for c in ("torch", "torchvision", "python")),
                    ),
                    ("git commit", _unique(runs, "git_commit")),
                    (
                        "training time, all runs",
                        f"{runs['train_seconds'].sum() / 60:.1f} min of run time",
                    ),
                    ("elapsed, first start to last finish", f"{_elapsed_minutes(runs):.1f} min"),
                ],
                columns=["", "value"],
            )
        ),
    ]
    blocks += [B.Heading("Every run"), B.Table(_run_table(runs, paths, list(summary["group"])))]
    others = collection.runs[collection.runs["status"] != COMPLETE]
    if len(others):
        blocks += [
            B.Heading("Incomplete and failed runs (left out of the statistics)"),
            B.Table(
                others.assign(error=others.get("error", pd.Series(dtype=str)).fillna(""))[
                    ["run", "status", "epochs_completed", "error"]
                ]
            ),
        ]
    if collection.skipped:
        blocks += [
            B.Heading("Unreadable files (skipped)"),
            B.Paragraph("\n".join(f"- `{f}`" for f in collection.skipped)),
        ]
    blocks += [
        B.Heading("Method"),
        B.Paragraph(
            "Accuracies are fractions of the 10,000 test images classified correctly, after the "
            'last epoch ("final") or at each run\'s best epoch ("best"; picking the best epoch '
            "on the test set flatters it, so the final accuracy is the headline). Intervals are "
            "two-sided 95% Student t intervals of the mean over seeds; gaps use Welch's interval "
            "and t-test (unequal variances). With few seeds the intervals are wide: they say how "
            f"sure the mean is, not how a single run will land. The target line is {TARGET:.0%}."
        ),
    ]
    return blocks


def _run_table(runs: pd.DataFrame, paths: list[Path], order: list[str]) -> pd.DataFrame:
    """One line per run: where it is, what it scored, where and how it ran."""

    def short(run: str) -> str:
        for path in paths:
            if Path(run).is_relative_to(path):
                return str(Path(run).relative_to(path)) or "."
        return run

    table = runs.assign(rank=runs["group"].map(order.index)).sort_values(["rank", "seed"])
    return pd.DataFrame(
        {
            "run": table["run"].map(short),
            "group": table["group"],
            "seed": table["seed"],
            "final test acc": table["final_test_acc"].map(lambda v: report.pct(v)),
            "best (epoch)": [
                f"{report.pct(a)} ({int(e)})"
                for a, e in zip(table["best_test_acc"], table["best_epoch"], strict=True)
            ],
            "train time": table["train_seconds"].map(lambda v: f"{v / 60:.1f} min"),
            "host": table["host"],
            "launcher": table["launcher"],
            "job id": table["job_id"].map(lambda v: "-" if pd.isna(v) else str(v)),
            "device": table["device"],
        }
    )


def _keys(summary: pd.DataFrame) -> list[str]:
    return [c for c in summary.columns if "." in c]


def _worst_classes(classes: pd.DataFrame) -> str:
    lines = []
    for group, block in classes.groupby("group", sort=False):
        worst = block.nsmallest(3, "acc_mean")
        items = ", ".join(
            f"{r['class']} {report.pct(r['acc_mean'], 1)}" for _, r in worst.iterrows()
        )
        lines.append(f"- **{group}**: the three hardest classes are {items}.")
    return "\n".join(lines)
