"""Runs in, evidence out: collect -> group -> summarise -> tables, figures, report."""

from __future__ import annotations

import logging
import os
import shlex
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cnn_study.analysis import answer, figures, report
from cnn_study.analysis.collect import COMPLETE, Collection, collect
from cnn_study.analysis.stats import (
    CHAPTER_CELL,
    TARGET,
    confusion,
    dataset_order,
    factor_name,
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
    out: Path


def _check_out(out: Path, folders: list[Path]) -> None:
    for folder in folders:
        if out.resolve().is_relative_to(folder.resolve()):
            raise StudyError(
                f"--out {out} is inside the run folder {folder}: the analysis never "
                "writes into run folders; choose another --out"
            )


def analyse(
    paths: list[Path],
    out: Path | None = None,
    command: str | None = None,
    overwrite: bool = False,
) -> Analysis:
    """Analyse every run below paths and write tables, figures and the report to out
    (default: analysis/<study>/)."""
    collection = collect(paths)  # reads only; nothing is written before the checks below
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
    out = out or default_out(runs)
    _check_out(out, collection.folders)
    _check_other_report(out, collection.complete, overwrite)
    keys = group_keys(runs)
    names = _dataset_names(runs)
    runs = _reader_order(runs, keys, names)
    runs["group"] = [group_label(row, keys, names) for _, row in runs.iterrows()]
    cell_keys = [k for k in keys if k != "dataset.name"]
    runs["cell"] = [group_label(row, cell_keys, names) for _, row in runs.iterrows()]
    epochs = collection.epochs.merge(runs[["run", "group"]], on="run")
    summary = summarise(runs, epochs, keys, names)
    summary["cell"] = summary["group"].map(runs.drop_duplicates("group").set_index("group")["cell"])
    summary["dataset_label"] = summary["dataset"].map(lambda d: names.get(d, d))
    order = list(summary["group"])
    gap = gaps(runs, keys, names)
    classes = per_class(runs, collection.results, keys, names)
    classes = classes.sort_values("group", key=lambda s: s.map(order.index), kind="stable")
    matrices = confusion(runs, collection.results, keys, names)
    grid = len(cell_keys) > 0 and "dataset.name" in keys

    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    def write_csv(frame: pd.DataFrame, name: str) -> None:
        frame.to_csv(out / name, index=False)
        written.append(out / name)

    all_runs = collection.runs.merge(runs[["run", "group"]], on="run", how="left")
    all_runs = _portable_runs(all_runs.drop(columns="identity"))
    write_csv(all_runs, "runs.csv")
    write_csv(collection.epochs.merge(all_runs[["run", "group", "status"]], on="run"), "epochs.csv")
    write_csv(summary, "summary.csv")
    if not gap.empty:
        write_csv(gap, "gaps.csv")
    write_csv(classes, "per_class.csv")

    if grid:
        figure_files = {
            "interaction": figures.interaction(*_interaction_axes(summary, gap, cell_keys)),
            "learning_curves": figures.learning_curves_grid(epochs, summary),
            "final_accuracy": figures.final_accuracy_dots(summary, runs),
            "per_class_accuracy": figures.per_class_heatmap(classes, summary),
            "confusion_matrices": figures.confusion_matrices(matrices, order),
            "loss_curves": figures.loss_curves(epochs, order),
        }
    else:
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
    if grid:
        factors = [factor_name(k) for k in cell_keys]
        tables = [
            report.Heading("Final test accuracy per cell"),
            report.Table(answer.cell_table(summary, factors)),
            report.Heading("The gap per cell, and against the chapter's cell"),
            report.Table(answer.gap_difference_table(gap, factors)),
        ]
    (out / "summary.md").write_text(report.to_markdown(tables))
    written.append(out / "summary.md")

    if grid:
        blocks = _grid_blocks(collection, runs, summary, gap, tables, paths, command, cell_keys)
        title = "cnn-study report: why the gap?"
    else:
        blocks = _report_blocks(collection, runs, summary, gap, classes, tables, paths, command)
        title = "cnn-study report"
    markdown = report.to_markdown(blocks)
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(report.to_html(markdown, out, title))
    written += [out / "report.md", out / "report.html"]
    return Analysis(collection, keys, summary, gap, classes, written, out)


def default_out(runs: pd.DataFrame) -> Path:
    """analysis/<study>/: each study's report in its own folder."""
    studies = sorted({str(s) for s in runs.get("study", pd.Series(["study"])).dropna()})
    return Path("analysis") / "+".join(studies or ["study"])


def _check_other_report(out: Path, runs: pd.DataFrame, overwrite: bool) -> None:
    """Never replace, by accident, a report made from other runs (a published one).

    A run is its folder and the time it finished: a rerun of the same study elsewhere has
    the same folder names but other finish times. Refreshing a report whose runs are all
    still there, unchanged (runs added, or none), is fine.
    """
    if overwrite or not (out / "runs.csv").is_file():
        return
    try:
        old = pd.read_csv(out / "runs.csv", usecols=["run", "status", "finished"])
        old = old[old["status"] == COMPLETE]
        before = set(zip(old["run"], old["finished"].astype(str), strict=True))
    except (OSError, ValueError, KeyError):
        before = {("unreadable", "")}
    now = set(zip(runs["run"], runs["finished"].astype(str), strict=True))
    if not before <= now:
        names = sorted(run for run, _ in before)
        raise StudyError(
            f"{out} holds a report of {len(before)} other runs (made from "
            f"{', '.join(names[:2])}{', ...' if len(names) > 2 else ''}), not these "
            f"{len(now)}: give your report its own folder with --out DIR, or replace that "
            "one with --overwrite"
        )


def _portable_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """runs.csv without the analysing machine's absolute paths."""
    if "paths.root_dir" not in runs:
        return runs
    roots = runs["paths.root_dir"]
    for column in [c for c in runs.columns if c.startswith("paths.") and c != "paths.root_dir"]:
        runs[column] = [portable_path(v, r) for v, r in zip(runs[column], roots, strict=True)]
    return runs.assign(**{"paths.root_dir": "."})


def _portable(run: str) -> str:
    """A run folder as a reader can find it: relative to the working folder where it lies
    below it, else as given (never made absolute)."""
    path = Path(run)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return run
    return run


def _natural(values: list) -> list:
    try:
        return sorted(values, key=float)
    except (TypeError, ValueError):
        return sorted(values, key=str)


def _reader_order(runs: pd.DataFrame, keys: list[str], names: dict) -> pd.DataFrame:
    """Runs sorted as a reader expects: MNIST first, the chapter's model and optimizer first,
    other values in natural order."""
    ranks = {}
    for key in keys:
        values = list(runs[key].dropna().unique())
        if key == "dataset.name":
            ordered = dataset_order(values)
        else:
            chapter = CHAPTER_CELL.get(key)
            ordered = ([chapter] if chapter in values else []) + _natural(
                [v for v in values if v != chapter]
            )
        ranks[key] = {v: i for i, v in enumerate(ordered)}
    order = [f"_rank_{k}" for k in keys]
    ranked = runs.assign(**{f"_rank_{k}": runs[k].map(ranks[k]) for k in keys})
    # Cells first, the dataset last, so that the two datasets of a cell sit side by side in
    # the cell order, and the dataset is the outer order of the tables.
    inner = [f"_rank_{k}" for k in keys if k != "dataset.name"]
    outer = ["_rank_dataset.name"] if "dataset.name" in keys else []
    ranked = ranked.sort_values(outer + inner[::-1] + ["seed"], kind="stable")
    return ranked.drop(columns=order).reset_index(drop=True)


def _interaction_axes(summary: pd.DataFrame, gap: pd.DataFrame, cell_keys: list[str]):
    """x: the model where it varies (else the first factor); panels: the next factor."""
    factors = [factor_name(k) for k in cell_keys]
    x = "model" if "model" in factors else factors[0]
    rest = [f for f in factors if f != x]
    return summary, gap, x, (rest[0] if rest else None)


def _dataset_names(runs: pd.DataFrame) -> dict[str, str]:
    """mnist -> MNIST, fashion -> FashionMNIST: the torchvision class each run read."""
    if "dataset.torchvision_class" not in runs:
        return {}
    pairs = runs[["dataset.name", "dataset.torchvision_class"]].drop_duplicates()
    return {n: c.rsplit(".", 1)[-1] for n, c in pairs.itertuples(index=False)}


def portable_path(value: str, root: str) -> str:
    """A recorded path as a reader can use it: relative to the project folder the run ran
    in (root), or below ~; absolute only where neither applies."""
    if not isinstance(value, str) or not os.path.isabs(value) or not os.path.isabs(root):
        return value
    home = os.path.expanduser("~")
    if value.startswith(home + os.sep) and not value.startswith(root + os.sep):
        return "~" + value[len(home) :]
    relative = os.path.relpath(value, root)
    return relative if relative.split(os.sep).count("..") <= 2 else value


def study_commands(runs: pd.DataFrame) -> list[str]:
    """The sweep commands that give these runs, rebuilt from each run's saved overrides.

    They are run from the project folder: the data folder is given relative to it, and
    every override is quoted for the shell where it needs to be.
    """
    commands = []
    data_dirs = [
        portable_path(d, r)
        for d, r in zip(runs["paths.data_dir"], runs["paths.root_dir"], strict=True)
    ]
    for (launcher, data_dir), block in runs.assign(_data=data_dirs).groupby(
        ["launcher", "_data"], dropna=False
    ):
        values: dict[str, list[str]] = {}
        for overrides in block["overrides"]:
            for item in shlex.split(overrides):
                key, _, value = item.partition("=")
                values.setdefault(key, [])
                if value not in values[key]:
                    values[key].append(value)
        args = " ".join(shlex.quote(f"{k}={','.join(_ordered(k, v))}") for k, v in values.items())
        choice = "" if launcher in (None, "basic") else f" hydra/launcher={launcher}"
        commands.append(
            f"CNN_STUDY_DATA_DIR={shlex.quote(str(data_dir))} python -m cnn_study -m{choice} {args}"
        )
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
    # Keys as code: model._target_ is a name to type, not Markdown emphasis.
    rows = [(f"`{c}`", runs[c].iloc[0]) for c in shown if runs[c].nunique(dropna=False) == 1]
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
        *_commands(runs, command),
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
        *_errors_and_losses(),
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
        *_machine(runs),
    ]
    blocks += _appendix(collection, runs, paths, list(summary["group"]))
    blocks += [
        B.Heading("Method"),
        B.Paragraph(
            f"Accuracies are fractions of the {_test_images(runs)} test images classified "
            "correctly, after the "
            'last epoch ("final") or at each run\'s best epoch ("best"; picking the best epoch '
            "on the test set flatters it, so the final accuracy is the headline). Intervals are "
            "two-sided 95% Student t intervals of the mean over seeds; gaps use Welch's interval "
            "and t-test (unequal variances). With few seeds the intervals are wide: they say how "
            f"sure the mean is, not how a single run will land. The target line is {TARGET:.0%}."
        ),
    ]
    return blocks


def _test_images(runs: pd.DataFrame) -> str:
    sizes = sorted({int(v) for v in runs["test_size"].dropna()})
    return " or ".join(f"{n:,}" for n in sizes) or "n/a"


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


def _errors_and_losses() -> list[report.Block]:
    return [
        report.Figure(
            Path("confusion_matrices.png"),
            "Where each true class is predicted, in % of that class, all seeds pooled.",
        ),
        report.Figure(
            Path("loss_curves.png"),
            "Training loss (dropout on) and test loss per epoch, mean over seeds.",
        ),
    ]


def _commands(runs: pd.DataFrame, command: str | None) -> list[report.Block]:
    return [
        report.Heading("Commands"),
        report.Paragraph(
            "The study (rebuilt from the runs' saved overrides), then this analysis, both "
            "run from the project folder:"
        ),
        report.Code(
            "\n".join(study_commands(runs) + [command or "python -m cnn_study.analysis ..."])
        ),
        report.Paragraph(
            f"Ran on {_unique(runs, 'device')} ({_unique(runs, 'device_name')}), host "
            f"{_unique(runs, 'host')}, {_unique(runs, 'num_threads')} torch thread(s) per run, "
            f"launcher {_unique(runs, 'launcher')}: {runs['train_seconds'].sum() / 60:.1f} min "
            f"of training in all, {_elapsed_minutes(runs):.1f} min from the first run's start "
            "to the last run's end."
        ),
    ]


def _machine(runs: pd.DataFrame) -> list[report.Block]:
    return [
        report.Heading("Machine and time"),
        report.Table(
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


def _appendix(collection: Collection, runs, paths, order: list[str]) -> list[report.Block]:
    """Every run, and every folder left out of the statistics with the reason."""
    blocks: list[report.Block] = [
        report.Heading("Every run"),
        report.Table(_run_table(runs, paths, order)),
    ]
    others = collection.runs[collection.runs["status"] != COMPLETE]
    if len(others):
        blocks += [
            report.Heading("Incomplete and failed runs (left out of the statistics)"),
            report.Table(
                others.assign(
                    error=others.get("error", pd.Series(dtype=str)).fillna(""),
                )[["run", "status", "epochs_completed", "error"]]
            ),
        ]
    if collection.duplicates:
        blocks += [
            report.Heading("Duplicate run folders (counted once)"),
            report.Paragraph(
                "\n".join(
                    f"- `{copy}` holds the same config and seed as `{kept}`, which is counted"
                    for kept, copy in collection.duplicates
                )
            ),
        ]
    if collection.skipped:
        blocks += [
            report.Heading("Unreadable files (skipped)"),
            report.Paragraph("\n".join(f"- `{_portable(f)}`" for f in collection.skipped)),
        ]
    return blocks


def _grid_blocks(collection, runs, summary, gap, tables, paths, command, cell_keys):
    """The report of a grid: the gap per cell, what each factor changed, figures, records."""
    B = report
    factors = [factor_name(k) for k in cell_keys]
    reference = gap[gap["reference"] != ""] if "reference" in gap else gap.iloc[:0]
    chapter = {f: reference[f].iloc[0] for f in factors} if len(reference) else None
    epochs = sorted({int(e) for e in runs["trainer.epochs"]})
    epochs_text = " or ".join(map(str, epochs))
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    answer_lines = answer.gap_sentences(gap, factors, epochs_text) if not gap.empty else []
    if chapter:
        answer_lines += answer.factor_effects(summary, factors, chapter)
    blocks: list[report.Block] = [
        B.Heading("cnn-study report: does a stronger model close the gap?", 1),
        B.Paragraph(
            f"Generated {now} from {len(runs)} complete runs "
            f"({len(collection.runs) - len(runs)} incomplete or failed) below "
            f"{', '.join(f'`{_portable(str(p))}`' for p in paths)}: "
            f"{summary['dataset_label'].nunique()} datasets x "
            + " x ".join(f"{summary[f].nunique()} {f}s" for f in factors)
            + f", {epochs_text} epochs, seeds "
            + ", ".join(map(str, sorted(runs["seed"].unique())))
            + "."
        ),
        *_commands(runs, command),
        B.Heading("The answer"),
    ]
    if 40 not in epochs:
        blocks.append(
            B.Paragraph(
                f"These runs train for {epochs_text} epochs, not the chapter's 40: the cell "
                "with the chapter's CNN and SGD is the chapter's recipe cut short, not the "
                "chapter study, whose own report gives its 40-epoch numbers."
            )
        )
    blocks += [
        B.Paragraph("\n".join(answer_lines)),
        *tables,
        B.Figure(
            Path("interaction.png"),
            "Top: final test accuracy per model, a line per dataset, one panel per optimizer "
            "(bars: 95% t intervals over seeds). Bottom: the gap between the datasets per cell "
            "(bars: Welch 95% intervals); dashed: the chapter's cell's gap.",
        ),
        B.Figure(
            Path("learning_curves.png"),
            "Test accuracy per epoch, one panel per cell: mean over seeds, band from the lowest "
            "to the highest seed; dashed: 99%.",
        ),
        B.Figure(
            Path("final_accuracy.png"),
            "Final test accuracy per cell: mean with its 95% t interval; dots: single seeds.",
        ),
        B.Figure(
            Path("per_class_accuracy.png"),
            "Final test accuracy per class and cell, mean over seeds.",
        ),
        *_errors_and_losses(),
        B.Heading("What was run"),
        B.Paragraph(
            "Cells differ in: "
            + ", ".join(f"`{k}`" for k in cell_keys)
            + "; seeds are the repetitions, and each is counted once. Every other setting "
            "is the same in every run:"
        ),
        B.Table(
            _recipe(
                runs, [c for c in runs.columns if c.startswith(tuple(f"{f}." for f in factors))]
            )
        ),
        *_machine(runs),
    ]
    blocks += _appendix(collection, runs, paths, list(summary["group"]))
    blocks += [
        B.Heading("Method"),
        B.Paragraph(
            f"Accuracies are fractions of the {_test_images(runs)} test images classified "
            "correctly after the last epoch. Intervals are two-sided 95% Student t intervals "
            "of the mean over seeds. Each cell's gap between the datasets uses Welch's "
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
