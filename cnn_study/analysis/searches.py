"""Recipe searches (hparams_search) found below the analysed folders, as tidy frames.

A search's sweep folder holds the sweeper's own records beside its trials' run folders:
trials.csv (one row per trial: state, objective, parameters, run folder) and
optimization_results.yaml (the best trial). Its trials are ordinary run folders, read like
any other run; they are the search's evidence, not runs of the study the search served.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from cnn_study.runs import RunFolder

log = logging.getLogger(__name__)

TRIALS_FILE = "trials.csv"
BEST_FILE = "optimization_results.yaml"
# trials.csv's columns that are not searched parameters
TRIAL_COLUMNS = ("number", "state", "value", "run_dir", "seconds")
# columns read_search adds to trials.csv's
ADDED_COLUMNS = ("run", "diverged")


@dataclass
class Search:
    folder: Path
    name: str  # the Optuna study's name, e.g. tune-chapter-fashion
    trials: pd.DataFrame  # trials.csv, one row per trial, with "run" (the trial's run name)
    best: dict[str, Any]  # optimization_results.yaml

    @property
    def params(self) -> list[str]:
        return [c for c in self.trials.columns if c not in (*TRIAL_COLUMNS, *ADDED_COLUMNS)]


def find_searches(paths: Iterable[str | Path]) -> list[Search]:
    """Every search folder at or below paths (a folder holding the sweeper's trials.csv)."""
    found: dict[Path, Search] = {}
    for path in paths:
        for folder, subfolders, files in os.walk(path):
            subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
            if TRIALS_FILE in files:  # its best is written once a trial has completed
                search = read_search(Path(folder))
                if search is not None:
                    found.setdefault(Path(folder).resolve(), search)
    return list(found.values())


def read_search(folder: Path) -> Search | None:
    try:
        trials = pd.read_csv(folder / TRIALS_FILE)
        best_file = folder / BEST_FILE
        best = (yaml.safe_load(best_file.read_text()) or {}) if best_file.is_file() else {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        log.warning("skipped the search in %s: %s", folder, exc)
        return None
    trials["run"] = [
        str(folder / run) if isinstance(run, str) and run else "" for run in trials["run_dir"]
    ]
    trials["diverged"] = [diverged(run) for run in trials["run"]]
    return Search(
        folder=folder, name=str(best.get("study_name", folder.name)), trials=trials, best=best
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
