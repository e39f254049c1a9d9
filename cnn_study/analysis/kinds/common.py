"""What every kind of report says alike: the opening line, the commands, the reference
dataset, the hardest classes, what was run (the recipe held fixed), the machine, the
records of every run, and the last two figures. The writer (kinds/skeleton.py) puts them
under their section headings; numbers are formatted as kinds/formats.py writes them."""

from __future__ import annotations

import shlex
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from cnn_study.analysis import report
from cnn_study.analysis.chapter import CHAPTER_REFERENCE
from cnn_study.analysis.grouping import dataset_order
from cnn_study.analysis.kinds.formats import pct
from cnn_study.analysis.portable import portable_path, portable_run
from cnn_study.analysis.study import Study
from cnn_study.factors import CHOICE_GROUPS, FACTORS
from cnn_study.runs import COMPLETE

# --- numbers ----------------------------------------------------------------------------


def test_set_size(runs: pd.DataFrame) -> str:
    """How many test images the accuracies are fractions of: 10,000 (or 1,000 in a check)."""
    sizes = sorted({int(v) for v in runs["test_size"].dropna()})
    return " or ".join(f"{n:,}" for n in sizes) or "n/a"


# --- sections ---------------------------------------------------------------------------


def generated(study: Study) -> str:
    """The opening line, without its full stop: when, from how many runs, below where."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    incomplete = len(study.collection.runs) - len(study.runs)
    return (
        f"Generated {now} from {len(study.runs)} complete runs ({incomplete} incomplete or "
        f"failed) below {', '.join(f'`{portable_run(str(p))}`' for p in study.paths)}"
    )


# Overrides that name this machine's folders: the commands run from the project folder with
# the default outputs/ and the data folder given by CNN_STUDY_DATA_DIR.
_MACHINE_KEYS = ("paths.",)


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
    # One command per set of runs that differ only in what a sweep varies (the factors and
    # the seed): runs with another fixed override (trainer.epochs=40 beside the default 20)
    # came from another command.
    signatures = [_fixed_overrides(o) for o in runs["overrides"]]
    for (launcher, data_dir, _), block in runs.assign(_data=data_dirs, _sig=signatures).groupby(
        ["launcher", "_data", "_sig"], dropna=False, sort=False
    ):
        values: dict[str, list[str]] = {}
        for overrides in block["overrides"]:
            for item in shlex.split(overrides):
                key, _, value = item.partition("=")
                if key.startswith(_MACHINE_KEYS):
                    continue
                values.setdefault(key, [])
                if value not in values[key]:
                    values[key].append(value)
        args = " ".join(shlex.quote(f"{k}={','.join(_ordered(k, v))}") for k, v in values.items())
        choice = "" if launcher in (None, "basic") else f" hydra/launcher={launcher}"
        commands.append(
            f"CNN_STUDY_DATA_DIR={shlex.quote(str(data_dir))} python -m cnn_study -m{choice} {args}"
        )
    return commands


def _fixed_overrides(overrides: str) -> str:
    """A run's overrides that a sweep does not vary: all but the factors and the seed."""
    swept = {*(f.name for f in FACTORS), "seed"}
    kept = [o for o in shlex.split(overrides) if o.partition("=")[0] not in swept]
    return " ".join(sorted(kept))


def search_commands(trial_runs: pd.DataFrame, names: list[str]) -> list[str]:
    """The command of each search (study name in names), rebuilt from its trials: the
    overrides every trial shares (the searched ones differ from trial to trial)."""
    commands = []
    for name in names:
        trials = trial_runs[trial_runs["study"] == name] if len(trial_runs) else trial_runs
        if trials.empty:
            continue
        shared = None
        for overrides in trials["overrides"]:
            items = [o for o in shlex.split(overrides) if not o.startswith(_MACHINE_KEYS)]
            shared = items if shared is None else [o for o in shared if o in items]
        first = trials.iloc[0]
        data_dir = portable_path(first["paths.data_dir"], first["paths.root_dir"])
        launcher = first["launcher"]
        choice = "" if launcher in (None, "basic") else f" hydra/launcher={launcher}"
        commands.append(
            f"CNN_STUDY_DATA_DIR={shlex.quote(str(data_dir))} python -m cnn_study"
            f"{choice} {' '.join(map(shlex.quote, shared or []))}"
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


def elapsed_minutes(runs: pd.DataFrame) -> float:
    """From the first run's start (of its last session) to the last run's end."""
    finished = pd.to_datetime(runs["finished"], utc=True)
    started = finished - pd.to_timedelta(runs["last_session_seconds"].astype(float), unit="s")
    return (finished.max() - started.min()).total_seconds() / 60


def unique(runs: pd.DataFrame, column: str) -> str:
    if column not in runs:
        return "n/a"
    return ", ".join(sorted({str(v) for v in runs[column].dropna()})) or "n/a"


def commands(
    study: Study, lines: list[str] | None = None, timing: str | None = None
) -> list[report.Block]:
    """The commands that made the runs (default: rebuilt from the study's runs), then this
    analysis; then where they ran and how long they took (default: the runs' own times)."""
    runs = study.runs
    lines = study_commands(runs) if lines is None else lines
    return [
        report.Paragraph(
            "The study (rebuilt from the runs' saved overrides), then this analysis, run "
            "from the project folder:"
        ),
        report.Code("\n".join([*lines, study.command or "python -m cnn_study.analysis ..."])),
        report.Paragraph(
            timing
            or f"Ran on {unique(runs, 'device')} ({unique(runs, 'device_name')}), host "
            f"{unique(runs, 'host')}, {unique(runs, 'num_threads')} torch thread(s) per run, "
            f"launcher {unique(runs, 'launcher')}: {runs['train_seconds'].sum() / 60:.1f} min "
            f"of training in all, {elapsed_minutes(runs):.1f} min from the first run's start "
            "to the last run's end."
        ),
    ]


def reference_sentence(study: Study) -> str:
    """Which dataset the gaps are measured from, and why that one."""
    name = study.reference
    label = study.names.get(name, name)
    if study.reference_chosen:
        return f"Every gap is measured from **{label}** (`{name}`), as `--reference` asked."
    if name == CHAPTER_REFERENCE:
        why = "the default: the chapter's dataset"
    else:
        why = "the default where no run is of MNIST: the first dataset in name order"
    return (
        f"Every gap is measured from **{label}** (`{name}`), {why}; another is chosen with "
        "`--reference NAME` (a dataset's name or label)."
    )


def hardest_classes(classes: pd.DataFrame) -> str:
    """Each group's three least accurate classes, by its own dataset's class names."""
    lines = []
    for group, block in classes.groupby("group", sort=False):
        worst = block.nsmallest(3, "acc_mean")
        items = ", ".join(f"{r['class']} {pct(r['acc_mean'], 1)}" for _, r in worst.iterrows())
        lines.append(f"- **{group}**: the three hardest classes are {items}.")
    return "\n".join(lines)


def recipe(runs: pd.DataFrame, varied: list[str]) -> pd.DataFrame:
    """Config values shared by every run: the recipe held fixed across the comparison."""
    prefixes = (*(f"{group}." for group in CHOICE_GROUPS), "trainer.")  # the recipe's parts
    shown = [c for c in runs.columns if c.startswith(prefixes) and c not in varied]
    # Keys as code: model._target_ is a name to type, not Markdown emphasis.
    rows = [(f"`{c}`", runs[c].iloc[0]) for c in shown if runs[c].nunique(dropna=False) == 1]
    return pd.DataFrame(rows, columns=["config key", "value"])


def what_was_run(study: Study, differences: str, varied: list[str]) -> list[report.Block]:
    """What differs between the runs (in the kind's words), then every setting that does not.

    varied: the config keys left out of the recipe table (they are what differs).
    """
    return [
        report.Paragraph(differences + " Every other setting is the same in every run:"),
        report.Table(recipe(study.runs, varied)),
    ]


def every_run(study: Study) -> pd.DataFrame:
    """The study's runs and its searches' trial runs: what the study cost, and ran on."""
    if study.trial_runs.empty:
        return study.runs
    return pd.concat([study.trial_runs, study.runs], ignore_index=True)


def commit(runs: pd.DataFrame) -> str:
    """The git commit the runs record, and whether the tree had uncommitted changes."""
    said = unique(runs, "git_commit")
    dirty = runs.get("git_commit", pd.Series(dtype=object)).astype(str).str.endswith("-dirty")
    return said + (" (a tree with uncommitted changes)" if dirty.any() else "")


def machine(study: Study) -> list[report.Block]:
    """The machine, versions and time of every run, a search's trials included."""
    runs = every_run(study)
    return [
        report.Table(
            pd.DataFrame(
                [
                    ("hosts", unique(runs, "host")),
                    ("device", f"{unique(runs, 'device')} ({unique(runs, 'device_name')})"),
                    ("torch threads per run", unique(runs, "num_threads")),
                    ("launcher", unique(runs, "launcher")),
                    (
                        "torch / torchvision / Python",
                        " / ".join(unique(runs, c) for c in ("torch", "torchvision", "python")),
                    ),
                    ("git commit", commit(runs)),
                    (
                        "training time, all runs",
                        f"{runs['train_seconds'].sum() / 60:.1f} min of run time",
                    ),
                    ("elapsed, first start to last finish", f"{elapsed_minutes(runs):.1f} min"),
                ],
                columns=["", "value"],
            )
        ),
    ]


def errors_and_losses(own_scales: bool = False) -> list[report.Block]:
    """The confusion matrices and the loss curves; own_scales: the loss panels do not share
    a scale (figures.loss_curves' sharey False), which the caption must say."""
    scales = "; each panel on its own scale" if own_scales else ""
    return [
        report.Figure(
            Path("confusion_matrices.png"),
            "Where each true class is predicted, in % of that class, all seeds pooled.",
        ),
        report.Figure(
            Path("loss_curves.png"),
            f"Training loss (dropout on) and test loss per epoch, mean over seeds{scales}.",
        ),
    ]


def _run_table(study: Study) -> pd.DataFrame:
    """One line per run: where it is, what it scored, where and how it ran."""

    def short(run: str) -> str:
        for path in study.paths:
            if Path(run).is_relative_to(path):
                return str(Path(run).relative_to(path)) or "."
        return run

    runs, order = study.runs, study.order
    table = runs.assign(rank=runs["group"].map(order.index)).sort_values(["rank", "seed"])
    return pd.DataFrame(
        {
            "run": table["run"].map(short),
            "group": table["group"],
            "seed": table["seed"],
            "final test acc": table["final_test_acc"].map(lambda v: pct(v)),
            "best (epoch)": [
                f"{pct(a)} ({int(e)})"
                for a, e in zip(table["best_test_acc"], table["best_epoch"], strict=True)
            ],
            "train time": table["train_seconds"].map(lambda v: f"{v / 60:.1f} min"),
            "host": table["host"],
            "launcher": table["launcher"],
            "job id": table["job_id"].map(lambda v: "-" if pd.isna(v) else str(v)),
            "device": table["device"],
        }
    )


def appendix(study: Study) -> list[report.Block]:
    """Every run, and every folder left out of the statistics with the reason; under the
    heading the writer gives it (kinds/skeleton.py's SECTIONS)."""
    collection = study.collection
    blocks: list[report.Block] = [report.Table(_run_table(study))]
    others = collection.runs[collection.runs["status"] != COMPLETE]
    if len(others):
        blocks += [
            report.Heading("Incomplete and failed runs (left out of the statistics)"),
            report.Table(
                others.assign(
                    error=others.get("error", pd.Series(dtype=object)).astype(object).fillna(""),
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
            report.Paragraph("\n".join(f"- `{portable_run(f)}`" for f in collection.skipped)),
        ]
    return blocks
