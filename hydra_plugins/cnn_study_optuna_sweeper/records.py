"""What a search leaves in its folder, rewritten after every batch and when it stops:

    trials.csv                  one row per trial: state, objective value(s), parameters,
                                the epoch a pruned trial stopped after, its run folder, seconds
    optimization_results.yaml   the official plugin's record (best_params and best_value, or
                                the best trade-offs of a multi-objective search) and ours
    best_overrides.txt          the best trial's parameters as command-line overrides

A study named after its folder (the default) writes these names; a study of another name in
the same folder writes <name>.trials.csv, ... so that each keeps its own.
"""

from __future__ import annotations

import csv
import io
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
from omegaconf import OmegaConf
from optuna.trial import FrozenTrial, TrialState

from cnn_study.fileio import atomic_write
from cnn_study.search_trial import PRUNED_AT
from hydra_plugins.cnn_study_optuna_sweeper.space import override

# A trial's user attributes set by the sweeper.
RUN_DIR = "run_dir"
# Why a trial that never finished is not part of the budget (its parameters were asked again):
# "interrupted" (its search was stopped), "stale" (its worker stopped beating), "unused" (asked
# after another worker had taken the last of the budget).
GIVEN_UP = "given_up"
# The last sign of life (time.time()) of the worker running the trial.
HEARTBEAT = "heartbeat"


def counts(trial: FrozenTrial) -> bool:
    """Does this trial use up budget? Finished ones do, and running ones will."""
    if trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
        return True
    return trial.state == TrialState.FAIL and not trial.user_attrs.get(GIVEN_UP)


def finished(trial: FrozenTrial) -> bool:
    return counts(trial) and trial.state != TrialState.RUNNING


def state_name(trial: FrozenTrial) -> str:
    return trial.user_attrs.get(GIVEN_UP) or trial.state.name.lower()


def file_names(study_name: str, sweep_dir: Path) -> dict[str, Path]:
    prefix = "" if study_name == sweep_dir.name else f"{study_name}."
    return {
        kind: sweep_dir / f"{prefix}{kind}"
        for kind in ("trials.csv", "optimization_results.yaml", "best_overrides.txt")
    }


def write(
    search: optuna.Study,
    sweep_dir: Path,
    n_trials: int,
    objectives: Sequence[str],
) -> None:
    trials = search.get_trials(deepcopy=False)
    files = file_names(search.study_name, sweep_dir)
    atomic_write(files["trials.csv"], trials_csv(trials, sweep_dir, objectives))
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if not complete:
        return
    record: dict[str, Any] = {"name": "optuna"}
    if len(search.directions) == 1:
        best = search.best_trial
        overrides = [override(k, v) for k, v in best.params.items()]
        record |= {
            "best_params": dict(best.params),
            "best_value": best.value,
            "best_trial": best.number,
            "best_overrides": overrides,
            "best_run": relative(best.user_attrs.get(RUN_DIR, ""), sweep_dir),
        }
        atomic_write(files["best_overrides.txt"], " ".join(map(shlex.quote, overrides)) + "\n")
    else:
        record["solutions"] = [
            {
                "params": dict(t.params),
                "values": list(t.values),
                "trial": t.number,
                "run": relative(t.user_attrs.get(RUN_DIR, ""), sweep_dir),
            }
            for t in search.best_trials
        ]
    record |= {
        "study_name": search.study_name,
        "direction": [d.name.lower() for d in search.directions],
        "objective": list(objectives),
        "trials_done": sum(map(finished, trials)),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL and counts(t) for t in trials),
        "n_trials": n_trials,
    }
    atomic_write(files["optimization_results.yaml"], OmegaConf.to_yaml(record))


def relative(run_dir: str, sweep_dir: Path) -> str:
    """A trial's run folder below the sweep folder, so that the record can be moved with it."""
    try:
        return Path(run_dir).relative_to(sweep_dir).as_posix()
    except ValueError:
        return run_dir


def trials_csv(trials: Sequence[FrozenTrial], sweep_dir: Path, objectives: Sequence[str]) -> str:
    names = sorted({name for t in trials for name in t.params})
    several = len(objectives) > 1
    value_columns = [f"value_{name}" for name in objectives] if several else ["value"]
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["number", "state", *value_columns, *names, PRUNED_AT, "run_dir", "seconds"])
    for t in trials:
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else ""
        )
        values = list(t.values) if t.values is not None else [""] * len(value_columns)
        writer.writerow(
            [
                t.number,
                state_name(t),
                *values,
                *(t.params.get(name, "") for name in names),
                t.user_attrs.get(PRUNED_AT, ""),
                relative(t.user_attrs.get(RUN_DIR, ""), sweep_dir),
                seconds,
            ]
        )
    return text.getvalue()
