"""Run folders -> two tidy frames: one row per run, one row per run and epoch.

Every table and figure is computed from these two frames, so they cannot disagree. A run
folder is first read into a RunRecord, and the frames are built from records alone: a
published report's archive holds the same records (archive.py), so a report rebuilt from it
is made from the very frames its runs gave.
"""

from __future__ import annotations

import logging
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from cnn_study.errors import StudyError
from cnn_study.factors import CHOICE_GROUPS
from cnn_study.run_identity import flat_config, is_incidental
from cnn_study.runs import COMPLETE, RunFolder, find_runs

log = logging.getLogger(__name__)


# Result fields copied into the runs frame (the rest of results.json stays on disk).
RESULT_FIELDS = [
    "val_size",
    "split_fingerprint",
    "final_val_acc",
    "best_val_acc",
    "best_val_epoch",
    "test_acc_at_best_val",
    "final_test_acc",
    "final_test_loss",
    "final_train_acc",
    "best_test_acc",
    "best_epoch",
    "epochs_completed",
    "train_seconds",
    "parameters",
    "train_size",
    "test_size",
    "device",
    "device_name",
    "num_threads",
    "torch",
    "torchvision",
    "python",
    "git_commit",
    "host",
    "launcher",
    "job_id",
    "finished",
    "last_session_seconds",
]


@dataclass
class Collection:
    """What was found below the analysed paths."""

    runs: pd.DataFrame  # one row per run: status, config columns, result columns
    epochs: pd.DataFrame  # one row per run and epoch: run, epoch and metrics.csv's columns
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # run -> results.json
    skipped: list[str] = field(default_factory=list)  # files that could not be read
    folders: list[Path] = field(default_factory=list)  # every run folder found, read or not
    duplicates: list[tuple[str, str]] = field(default_factory=list)  # (counted, left out)

    @property
    def complete(self) -> pd.DataFrame:
        return self.runs[self.runs["status"] == COMPLETE]

    def split_trials(self) -> tuple[Collection, Collection]:
        """(the study's runs, the searches' trial runs): each with its own epochs and
        results; what could not be read stays with the study's."""
        is_trial = self.runs.get("search_trial", pd.Series(False, index=self.runs.index))
        is_trial = is_trial.fillna(False).astype(bool)

        def part(mask: pd.Series, skipped: list[str]) -> Collection:
            runs = self.runs[mask].reset_index(drop=True)
            names = set(runs["run"]) if len(runs) else set()
            return Collection(
                runs=runs,
                epochs=self.epochs[self.epochs["run"].isin(names)],
                results={r: v for r, v in self.results.items() if r in names},
                skipped=skipped,
                folders=self.folders,
                duplicates=[d for d in self.duplicates if d[0] in names],
            )

        return part(~is_trial, self.skipped), part(is_trial, [])


def _choice_names(choices: dict[str, str], config: dict[str, Any]) -> dict[str, str]:
    """model_name -> cnn_bn, ...: the config options a run was composed from.

    Hydra's record of them is used where present; otherwise the short class name of the
    group's _target_ stands in (ChapterCNN, SGD).
    """
    names = {}
    for group in CHOICE_GROUPS:
        target = (config.get(group) or {}).get("_target_")
        if group in choices:
            names[f"{group}_name"] = choices[group]
        elif target:
            names[f"{group}_name"] = str(target).rsplit(".", 1)[-1]
    return names


def display_name(folder: Path, root: Path) -> str:
    """How tables name a run folder: relative to the working folder where it lies below it,
    else below the analysed folder's name (outputs/mnist/seed=0), never the machine's
    absolute path."""
    folder, root = folder.absolute(), root.absolute()
    if folder.is_relative_to(Path.cwd()):
        return str(folder.relative_to(Path.cwd()))
    if folder.is_relative_to(root):
        return str(Path(root.name) / folder.relative_to(root))
    return str(folder)


def run_identity(config: dict[str, Any]) -> str:
    """What makes two runs the same run: every config value that changes what is measured
    (the seed and study included); paths, devices and threads left out."""
    flat = flat_config(config)
    return repr(sorted((k, repr(v)) for k, v in flat.items() if not is_incidental(k)))


def _hashable(value: Any) -> Any:
    return ", ".join(map(str, value)) if isinstance(value, list) else value


@dataclass
class RunRecord:
    """What the analysis reads of one run folder: all its tables and report use of it, and
    nothing more (never the checkpoint). The published archive holds these (archive.py)."""

    run: str  # the run's name in every table
    config: dict[str, Any]  # .hydra/config.yaml
    overrides: list[str]  # .hydra/overrides.yaml ([] where unreadable)
    choices: dict[str, str]  # the config options Hydra recorded in .hydra/hydra.yaml
    state: str  # COMPLETE, INCOMPLETE or FAILED, as RunFolder.status judged it
    epochs_recorded: int
    metrics: list[dict[str, float]] | None  # metrics.csv's rows
    results: dict[str, Any] | None  # results.json of a complete run, else None
    error: str | None  # failure.json's error, for a failed run


def read_run(folder: RunFolder, run: str, skipped: list[str]) -> RunRecord | None:
    """One run folder as the analysis reads it; None where it holds no readable config.
    Files that cannot be read are logged and added to skipped."""
    try:
        config = folder.read_config()
    except StudyError as exc:  # the message names the file
        log.warning("skipped %s", exc)
        skipped.append(str(folder.config_file))
        return None
    if config is None:  # moved away while we looked
        return None
    try:
        overrides = folder.read_overrides()
    except (OSError, ValueError):
        overrides = []
    status = folder.status(config)
    for file, why in status.unreadable.items():
        log.warning("skipped %s: %s", file, why)
        skipped.append(str(file))
    return RunRecord(
        run=run,
        config=config,
        overrides=overrides,
        choices=folder.read_choices(),
        state=status.state,
        epochs_recorded=status.epochs_recorded,
        metrics=status.metrics,
        results=dict(status.results) if status.complete and status.results else None,
        error=status.error,
    )


def read_runs(paths: Iterable[str | Path]) -> tuple[list[RunRecord], list[str], list[Path]]:
    """(a record of every readable run folder below paths, the files skipped as unreadable,
    every run folder found)."""
    records: list[RunRecord] = []
    skipped: list[str] = []
    folders: list[Path] = []
    seen: set[Path] = set()
    names: set[str] = set()
    for path in paths:
        for folder in find_runs(path):
            if folder.path.resolve() in seen:
                continue
            seen.add(folder.path.resolve())
            folders.append(folder.path)
            run = display_name(folder.path, Path(path))
            if run in names:  # two analysed roots of the same name: keep runs apart
                run = str(folder.path.absolute())
            names.add(run)
            record = read_run(folder, run, skipped)
            if record is not None:
                records.append(record)
    return records, skipped, folders


def collect(paths: Iterable[str | Path]) -> Collection:
    """Read every run folder below paths; unreadable files are skipped with a warning."""
    records, skipped, folders = read_runs(paths)
    return from_records(records, skipped, folders)


def _row(record: RunRecord) -> dict[str, Any]:
    config = record.config
    row: dict[str, Any] = {
        "run": record.run,
        "overrides": " ".join(shlex.quote(o) for o in record.overrides),
    }
    row.update({k: _hashable(v) for k, v in flat_config(config).items()})
    row.update(_choice_names(record.choices, config))
    # A trial of a search (hydra/sweeper=optuna) is the search's evidence, never a run of the
    # study it served: known by the run itself, whatever records the search left.
    row["search_trial"] = record.choices.get("hydra/sweeper") == "optuna"
    row["identity"] = run_identity(config)
    row["status"] = record.state
    if record.results is not None:
        row.update({k: record.results.get(k) for k in RESULT_FIELDS})
    else:
        row["epochs_completed"] = record.epochs_recorded
        row["error"] = record.error
    return row


def from_records(
    records: list[RunRecord], skipped: list[str] | None = None, folders: list[Path] | None = None
) -> Collection:
    """The tidy frames of these runs: the same whether the records were read from run
    folders (collect) or from a published report's archive (archive.py)."""
    runs = pd.DataFrame([_row(record) for record in records])
    epoch_frames = [
        pd.DataFrame(record.metrics).assign(run=record.run) for record in records if record.metrics
    ]
    epochs = (
        pd.concat(epoch_frames, ignore_index=True)
        if epoch_frames
        else pd.DataFrame(columns=["run", "epoch"])
    )
    runs, duplicates = _drop_duplicates(runs)
    kept = set(runs["run"]) if len(runs) else set()
    epochs = epochs[epochs["run"].isin(kept)] if len(runs) else epochs
    return Collection(
        runs=runs,
        epochs=epochs,
        results={r.run: r.results for r in records if r.results is not None and r.run in kept},
        skipped=list(skipped or []),
        folders=list(folders or []),
        duplicates=duplicates,
    )


def _drop_duplicates(runs: pd.DataFrame) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Count each run once: a copy of a run folder (same config and seed) is left out, with a
    warning naming both folders. A complete copy is preferred to an unfinished one."""
    if runs.empty:
        return runs, []
    rank = runs["status"].map({COMPLETE: 0}).fillna(1)
    ordered = runs.assign(_rank=rank).sort_values(["_rank", "run"], kind="stable")
    kept = ordered.drop_duplicates("identity")
    duplicates = []
    for row in ordered[~ordered.index.isin(kept.index)].itertuples(index=False):
        counted = kept.loc[kept["identity"] == row.identity, "run"].iloc[0]
        log.warning(
            "%s holds the same run (config and seed) as %s: counted once, as %s",
            row.run,
            counted,
            counted,
        )
        duplicates.append((counted, row.run))
    return runs.loc[sorted(kept.index)].reset_index(drop=True), duplicates
