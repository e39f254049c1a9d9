"""Recipe searches (hparams_search) found below the analysed folders, as tidy frames.

A search's sweep folder holds the sweeper's own records beside its trials' run folders:
trials.csv (one row per trial: state, objective, parameters, run folder) and
optimization_results.yaml (the best trial). Its trials are ordinary run folders, read like
any other run; they are the search's evidence, not runs of the study the search served.
"""

from __future__ import annotations

import io
import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cnn_study.runs import RunFolder

log = logging.getLogger(__name__)

TRIALS_FILE = "trials.csv"
BEST_FILE = "optimization_results.yaml"
# trials.csv's columns that are not searched parameters (beside value_<objective>, one per
# objective of a multi-objective search)
TRIAL_COLUMNS = ("number", "state", "value", "pruned_at_epoch", "run_dir", "seconds")
# columns read_search adds to trials.csv's
ADDED_COLUMNS = ("run", "diverged")


@dataclass
class Search:
    folder: Path
    name: str  # the Optuna study's name, e.g. tune-chapter-fashion
    trials: pd.DataFrame  # trials.csv, one row per trial, with "run" (the trial's run name)
    best: dict[str, Any]  # optimization_results.yaml
    # The two files as read (name -> text; no best file before a trial completed): what a
    # published report's archive keeps of the search.
    files: dict[str, str] = field(default_factory=dict)

    @property
    def params(self) -> list[str]:
        return [
            c
            for c in self.trials.columns
            if c not in (*TRIAL_COLUMNS, *ADDED_COLUMNS) and not c.startswith("value_")
        ]


def find_searches(paths: Iterable[str | Path]) -> list[Search]:
    """Every search folder at or below paths (a folder holding the sweeper's trials.csv)."""
    found: dict[Path, Search] = {}
    for path in paths:
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
            for name in sorted(f for f in files if f.endswith(TRIALS_FILE)):
                # the folder's own study, or <study>.trials.csv beside it; its best is
                # written once a trial has completed
                prefix = name.removesuffix(TRIALS_FILE)
                search = read_search(Path(folder), prefix)
                if search is not None:
                    found.setdefault(Path(folder).resolve() / prefix, search)
    return list(found.values())


def read_search(folder: Path, prefix: str = "") -> Search | None:
    """The search whose files in folder are <prefix>trials.csv and so on ("" for the
    folder's own study, "<study>." for another)."""
    try:
        files = {TRIALS_FILE: (folder / f"{prefix}{TRIALS_FILE}").read_text()}
        if (folder / f"{prefix}{BEST_FILE}").is_file():
            files[BEST_FILE] = (folder / f"{prefix}{BEST_FILE}").read_text()
        return search_from_files(folder, files)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        log.warning("skipped the search in %s: %s", folder, exc)
        return None


def search_from_files(
    folder: Path, files: dict[str, str], diverged_trials: list[bool] | None = None
) -> Search:
    """A search from the texts of its sweeper's files (read from its folder, or from a
    published report's archive); ValueError or YAMLError where they cannot be parsed.

    diverged_trials: which trials diverged, as an archive recorded it (a rebuild has no run
    folders to read); None: read from each trial's metrics.csv."""
    trials = pd.read_csv(io.StringIO(files[TRIALS_FILE]))
    if "value" not in trials.columns:  # a multi-objective search: value_<objective> columns
        trials["value"] = float("nan")  # (drawn nowhere: its trade-offs are in its best file)
    best = yaml.safe_load(files.get(BEST_FILE, "")) or {}
    trials["run"] = [
        str(folder / run) if isinstance(run, str) and run else "" for run in trials["run_dir"]
    ]
    if diverged_trials is None:
        diverged_trials = [diverged(run) for run in trials["run"]]
    if len(diverged_trials) != len(trials):
        raise ValueError(f"{len(diverged_trials)} divergence flags for {len(trials)} trials")
    trials["diverged"] = [bool(flag) for flag in diverged_trials]
    return Search(
        folder=folder,
        name=str(best.get("study_name", folder.name)),
        trials=trials,
        best=best,
        files=files,
    )


def diverged(run: str) -> bool:
    """Did this trial's run diverge: a loss in its metrics.csv that is not finite (NaN or
    infinite)? A trial that merely learned slowly (a low accuracy, finite losses) did not;
    a run whose metrics cannot be read is not called diverged."""
    if not run:
        return False
    try:
        rows = RunFolder(run).read_metrics()
    except (OSError, ValueError):
        return False
    return any(
        not math.isfinite(value)
        for row in rows
        for key, value in row.items()
        if key.endswith("_loss")
    )
