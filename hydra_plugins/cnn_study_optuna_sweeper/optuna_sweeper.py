"""Ask Optuna for trials, launch each batch through the configured Hydra launcher, tell it back.

    python -m cnn_study -m hparams_search=chapter dataset=fashion

A search is stored (storage: an SQLite file under the sweep folder), so the same command run
again continues it: finished trials are kept and never trained again, a trial that was running
when the search was stopped is asked again with the same parameters (its run folder resumes
from its last checkpoint), and only the rest of the budget runs. Each trial is an ordinary run
folder; after every batch the sweep folder gets trials.csv (one row per trial) and
optimization_results.yaml (the best trial, as the official plugin writes it), plus
best_overrides.txt, the best trial's parameters as command-line overrides.
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import math
import shlex
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, OmegaConf
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from cnn_study.config_checks import check_tunable
from cnn_study.errors import StudyError
from cnn_study.fileio import atomic_write, file_lock

log = logging.getLogger(__name__)

# A trial that was running when its search stopped: not part of the budget; asked again.
INTERRUPTED = "interrupted"


def distribution(override: Override) -> BaseDistribution:
    """An Optuna distribution from a Hydra sweep override, as the official plugin reads them."""
    value = override.value()
    key = override.get_key_element()
    if isinstance(value, ChoiceSweep):
        return CategoricalDistribution(list(value.list))
    if isinstance(value, RangeSweep):
        if "log" in value.tags:
            raise CompactHydraException(f"{key}: range() cannot be tag(log, ...): use interval")
        return IntDistribution(int(value.start), int(value.stop) - 1, step=int(value.step))
    if isinstance(value, IntervalSweep):
        log_scale = "log" in value.tags
        if isinstance(value.start, int) and isinstance(value.end, int):
            return IntDistribution(value.start, value.end, log=log_scale)
        return FloatDistribution(float(value.start), float(value.end), log=log_scale)
    raise CompactHydraException(
        f"{key}: {override.input_line!r} is not a search space: use interval(a, b), "
        "tag(log, interval(a, b)), choice(a, b, ...) or range(a, b)"
    )


def as_override(key: str, value: Any) -> str:
    """key=value for the command line; floats kept to 4 significant digits so run-folder
    names stay readable (the same parameters always give the same folder)."""
    if isinstance(value, float):
        value = float(f"{value:.4g}")
    return f"{key}={value}"


def sqlite_file(storage: Any) -> Path | None:
    if isinstance(storage, str) and storage.startswith("sqlite:///"):
        return Path(storage.removeprefix("sqlite:///"))
    return None


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        sampler: Any,
        direction: str,
        storage: Any,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: dict[str, str] | None,
        custom_search_space: str | None,
    ) -> None:
        self.sampler = sampler
        self.direction = direction
        self.storage = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.params = dict(params or {})
        self.custom_search_space = custom_search_space
        self.job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # --- the search space ---------------------------------------------------------------
    def _space(self, arguments: list[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
        """Distributions from params and the command line's sweeps; the rest stays fixed."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        space: dict[str, BaseDistribution] = {}
        for override in parser.parse_overrides([f"{k}={v}" for k, v in self.params.items()]):
            space[override.get_key_element()] = distribution(override)
        fixed: dict[str, str] = {}  # by key, the last one winning, as the basic sweeper does
        for override in parser.parse_overrides(arguments):
            key = override.get_key_element()
            if override.is_sweep_override():
                space[key] = distribution(override)
            else:
                space.pop(key, None)  # fixed on the command line: not searched
                fixed[key] = f"{key}={override.get_value_element_as_str()}"
        return space, list(fixed.values())

    def _check_tunable(self, fixed: list[str], space: dict[str, BaseDistribution]) -> None:
        """Compose one trial's config and refuse a search that would read the test set."""
        sample = [
            as_override(k, d.choices[0] if isinstance(d, CategoricalDistribution) else d.low)
            for k, d in space.items()
        ]
        cfg = self.hydra_context.config_loader.load_sweep_config(self.config, fixed + sample)
        try:
            check_tunable(cfg)
        except StudyError as exc:
            raise CompactHydraException(str(exc)) from None

    # --- the search: an optuna.Study ("study" in cnn-study is a folder of runs) ------
    @contextlib.contextmanager
    def _one_search_at_a_time(self) -> Iterator[None]:
        """Two processes continuing one stored search would both take its remaining budget."""
        file = sqlite_file(self.storage)
        if file is None:
            yield
            return
        with file_lock(
            file.with_name(f".{file.name}.lock"),
            what=f"this search ({file})",
            doing="run",
            unguarded="nothing stops two processes from continuing this search at once",
        ):
            yield

    def _open_search(self) -> optuna.Study:
        search = optuna.create_study(
            study_name=self.study_name,
            storage=self.storage,
            direction=self.direction,
            load_if_exists=True,
        )
        search.sampler = self._sampler(len(search.get_trials(deepcopy=False)))
        return search

    def _sampler(self, trials_so_far: int) -> optuna.samplers.BaseSampler | None:
        """The configured sampler. A seeded one that resumes a search is seeded with
        seed + trials so far: reseeded with its first seed, it would draw the first trials'
        parameters again and spend the budget on runs that are already there."""
        if not self.sampler:
            return None
        config = OmegaConf.create(OmegaConf.to_container(self.sampler, resolve=True))
        if config.get("seed") is not None:
            config.seed = int(config.seed) + trials_so_far
        return instantiate(config)

    @staticmethod
    def _counts(trial: optuna.trial.FrozenTrial) -> bool:
        """Does this trial use up budget? Finished ones do; interrupted ones are asked again."""
        if trial.state in (TrialState.COMPLETE, TrialState.PRUNED):
            return True
        return trial.state == TrialState.FAIL and not trial.user_attrs.get(INTERRUPTED)

    @staticmethod
    def _interrupt(search: optuna.Study, trial_ids: Sequence[int], params: list[dict]) -> None:
        """Mark trials whose runs never came back and ask for the same parameters again, so
        that their run folders resume from their last checkpoints."""
        for trial_id, values in zip(trial_ids, params, strict=True):
            search._storage.set_trial_user_attr(trial_id, INTERRUPTED, True)
            search._storage.set_trial_state_values(trial_id, TrialState.FAIL)
            search.enqueue_trial(values, skip_if_exists=False)

    def _recover(self, search: optuna.Study) -> None:
        stale = [t for t in search.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
        if stale:
            log.info(
                "trial(s) %s were running when this search last stopped: asking for them again",
                ", ".join(str(t.number) for t in stale),
            )
            self._interrupt(search, [t._trial_id for t in stale], [t.params for t in stale])

    # --- the sweep ----------------------------------------------------------------------
    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        space, fixed = self._space(arguments)
        if not space:
            raise CompactHydraException(
                "nothing to search: give hydra.sweeper.params (e.g. hparams_search=chapter) "
                "or a sweep on the command line, e.g. 'optimizer.lr=tag(log, interval(1e-4, 0.1))'"
            )
        self._check_tunable(fixed, space)
        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config))
        extend = get_method(self.custom_search_space) if self.custom_search_space else None

        returns: list[Sequence[JobReturn]] = []
        with self._one_search_at_a_time():
            search = self._open_search()
            self._recover(search)
            self._check_failures(search)  # refuse at once, not after another batch
            done = sum(map(self._counts, search.get_trials(deepcopy=False)))
            log.info(
                "search %s: %d of %d trials done, %d to run",
                search.study_name,
                done,
                self.n_trials,
                max(0, self.n_trials - done),
            )
            while done < self.n_trials:
                trials = [search.ask(space) for _ in range(min(self.n_jobs, self.n_trials - done))]
                if extend is not None:
                    for trial in trials:
                        extend(self.config, trial)
                batch = [fixed + [as_override(k, v) for k, v in t.params.items()] for t in trials]
                self._write(search, sweep_dir)  # the trials running now are on record too
                try:
                    self.validate_batch_is_legal(batch)
                    results = self.launcher.launch(batch, initial_job_idx=self.job_idx)
                except BaseException:
                    # Stopped (Ctrl-C, SIGTERM, a failed launch): these trials never finished.
                    self._interrupt(
                        search, [t._trial_id for t in trials], [t.params for t in trials]
                    )
                    raise
                self.job_idx += len(batch)
                for trial, result in zip(trials, results, strict=True):
                    self._tell(search, trial, result)
                done += len(trials)
                returns.append(results)
                self._write(search, sweep_dir)
                self._check_failures(search)
        self._write(search, sweep_dir)
        return returns

    def _tell(self, search: optuna.Study, trial: optuna.Trial, result: JobReturn) -> None:
        run_dir = None
        if result.hydra_cfg is not None:
            run_dir = OmegaConf.select(result.hydra_cfg, "hydra.runtime.output_dir")
        if run_dir:
            trial.set_user_attr("run_dir", str(run_dir))
        value = result._return_value if result.status == JobStatus.COMPLETED else None
        if isinstance(value, (int, float)) and not math.isnan(value):
            search.tell(trial, float(value))
        else:
            search.tell(trial, state=TrialState.FAIL)
            log.warning("trial %d failed (no objective came back): %s", trial.number, run_dir)

    def _check_failures(self, search: optuna.Study) -> None:
        finished = [t for t in search.get_trials(deepcopy=False) if self._counts(t)]
        failed = [t for t in finished if t.state == TrialState.FAIL]
        if finished and len(failed) / len(finished) > self.max_failure_rate:
            raise CompactHydraException(
                f"{len(failed)} of {len(finished)} trials failed, more than "
                f"hydra.sweeper.max_failure_rate={self.max_failure_rate}: see each failed "
                "run's failure.json; rerun the same command to continue the search"
            )

    # --- what a search leaves behind ----------------------------------------------------
    def _write(self, search: optuna.Study, sweep_dir: Path) -> None:
        trials = search.get_trials(deepcopy=False)
        atomic_write(sweep_dir / "trials.csv", trials_csv(trials, sweep_dir))
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        if not complete:
            return
        best = search.best_trial
        overrides = [as_override(k, v) for k, v in best.params.items()]
        results = {
            "name": "optuna",
            "study_name": search.study_name,
            "direction": self.direction,
            "best_trial": best.number,
            "best_value": best.value,
            "best_params": dict(best.params),
            "best_overrides": overrides,
            "best_run": _relative(best.user_attrs.get("run_dir", ""), sweep_dir),
            "trials_done": sum(map(self._counts, trials)),
            "n_trials": self.n_trials,
        }
        atomic_write(sweep_dir / "optimization_results.yaml", OmegaConf.to_yaml(results))
        atomic_write(sweep_dir / "best_overrides.txt", " ".join(map(shlex.quote, overrides)) + "\n")


def _relative(run_dir: str, sweep_dir: Path) -> str:
    """A trial's run folder below the sweep folder, so that the record can be moved with it."""
    try:
        return Path(run_dir).relative_to(sweep_dir).as_posix()
    except ValueError:
        return run_dir


def trials_csv(trials: Sequence[optuna.trial.FrozenTrial], sweep_dir: Path) -> str:
    """One row per trial: number, state, objective value, parameters, run folder (below the
    sweep folder), seconds."""
    names = sorted({name for t in trials for name in t.params})
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["number", "state", "value", *names, "run_dir", "seconds"])
    for t in trials:
        state = INTERRUPTED if t.user_attrs.get(INTERRUPTED) else t.state.name.lower()
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else ""
        )
        writer.writerow(
            [
                t.number,
                state,
                "" if t.value is None else t.value,
                *(t.params.get(name, "") for name in names),
                _relative(t.user_attrs.get("run_dir", ""), sweep_dir),
                seconds,
            ]
        )
    return text.getvalue()
