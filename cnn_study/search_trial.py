"""A run that is one trial of an Optuna search: it reports its objective after every epoch to
its trial, through the search's storage, and asks the search's pruner whether to go on.

The sweeper (hydra_plugins/cnn_study_optuna_sweeper) names the trial in each job's environment
(hydra.job.env_set), so this works from any launcher's worker: a joblib process, a SLURM job.
The storage and the pruner are read from the job's own hydra.sweeper config.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

import optuna
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from cnn_study.errors import StudyError

log = logging.getLogger(__name__)

# Set by the sweeper in each trial's job: the study's name and the trial's number.
SEARCH_ENV = "CNN_STUDY_SEARCH"
TRIAL_ENV = "CNN_STUDY_TRIAL"
# The trial's user attribute a pruned run sets: the epoch it stopped after.
PRUNED_AT = "pruned_at_epoch"

# A run's final objective (results.json) from its epochs so far (metrics.csv rows).
_PER_EPOCH: dict[str, Callable[[Sequence[dict[str, float]]], float]] = {
    "final_val_acc": lambda rows: rows[-1]["val_acc"],
    "best_val_acc": lambda rows: max(row["val_acc"] for row in rows),
    "final_val_loss": lambda rows: rows[-1]["val_loss"],
}


def per_epoch(objective: Any) -> Callable[[Sequence[dict[str, float]]], float]:
    """How to read objective after each epoch; StudyError where it has no per-epoch value."""
    if isinstance(objective, str) and objective in _PER_EPOCH:
        return _PER_EPOCH[objective]
    raise StudyError(
        f"a pruner stops trials by their objective after each epoch, and objective={objective!r} "
        f"has none: use one of {', '.join(_PER_EPOCH)}, or hydra/sweeper/pruner=none"
    )


def open_storage(spec: Any) -> optuna.storages.BaseStorage:
    """An Optuna storage from the sweeper's `storage`: a URL (a database through SQLAlchemy),
    a config to instantiate (a journal file, say), or null (in this process's memory)."""
    if spec is None:
        return optuna.storages.InMemoryStorage()
    if isinstance(spec, DictConfig):
        spec = instantiate(spec)
    if isinstance(spec, str):
        return optuna.storages.RDBStorage(spec)
    if isinstance(spec, optuna.storages.BaseStorage):
        return spec
    raise TypeError(f"not an Optuna storage: {spec!r}")


class TrialLink:
    """One running trial, seen from the run that trains it."""

    def __init__(
        self,
        search: optuna.Study,
        storage: optuna.storages.BaseStorage,
        number: int,
        objective: Any,
    ) -> None:
        self.search = search
        self.storage = storage
        self.number = number
        self.read = per_epoch(objective)
        self.reported: set[int] = set()
        study_id = storage.get_study_id_from_name(search.study_name)
        self.trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
        self.broken = False

    def should_stop(self, history: Sequence[dict[str, float]]) -> bool:
        """Report the epochs not yet reported (all of them, after a resume); True when the
        pruner says this trial will not be among the good ones."""
        if self.broken:
            return False
        try:
            for i in range(len(history)):
                epoch = int(history[i]["epoch"])
                if epoch not in self.reported:
                    value = float(self.read(history[: i + 1]))
                    self.storage.set_trial_intermediate_value(self.trial_id, epoch, value)
                    self.reported.add(epoch)
            trial = self.storage.get_trial(self.trial_id)
            if trial.state != optuna.trial.TrialState.RUNNING:
                # The sweeper gave this trial up (its worker's heartbeat went stale): train
                # on, unpruned; the trial asked in its place reports for this folder.
                self.broken = True
                return False
            return bool(self.search.pruner.prune(self.search, trial))
        except Exception as exc:  # a pruner is an economy: never a reason to lose a run
            self.broken = True
            log.warning("trial %d: cannot report to its search (%s): training on", self.number, exc)
            return False

    def pruned(self, epoch: int) -> None:
        try:
            self.storage.set_trial_user_attr(self.trial_id, PRUNED_AT, int(epoch))
        except Exception as exc:
            log.warning("trial %d: cannot record its pruning (%s)", self.number, exc)


def from_hydra(cfg: DictConfig) -> TrialLink | None:
    """The trial this job trains, where the Optuna sweeper prunes: it names the trial in the
    job's environment only then (OptunaSweeper._pruning)."""
    name, number = os.environ.get(SEARCH_ENV), os.environ.get(TRIAL_ENV)
    if name is None or number is None:
        return None
    sweeper = HydraConfig.get().sweeper
    pruner = OmegaConf.select(sweeper, "pruner")
    try:
        storage = open_storage(OmegaConf.select(sweeper, "storage"))
        search = optuna.load_study(study_name=name, storage=storage, pruner=instantiate(pruner))
        return TrialLink(search, storage, int(number), cfg.objective)
    except Exception as exc:  # a pruner is an economy: never a reason to lose a run
        log.warning("trial %s: cannot reach its search (%s): training unpruned", number, exc)
        return None
