"""Ask Optuna for trials, launch each batch through the configured Hydra launcher, tell it back.

    python -m cnn_study -m hparams_search=chapter dataset=fashion

A search is stored (storage: an SQLite file under the sweep folder, a database server, or a
journal file), so the same command run again continues it: finished trials are kept and never
trained again, a trial that was running when the search was stopped is asked again with the
same parameters (its run folder resumes from its last checkpoint), and only the rest of the
budget runs. On a database server or a journal file, several sweeper processes (on one machine
or many) can work on one search: the budget is read from the storage, and a trial is taken
from a worker only when its heartbeat has gone stale. With a pruner, each run reports its
objective after every epoch and stops when the pruner says so (cnn_study/search_trial.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import optuna
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.plugins import Plugins
from hydra.core.utils import JobReturn, JobStatus
from hydra.errors import CompactHydraException
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from hydra.utils import get_method, instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from optuna.distributions import BaseDistribution, CategoricalDistribution
from optuna.trial import FrozenTrial, TrialState

from cnn_study.config_checks import check_tunable, objectives, validate
from cnn_study.errors import StudyError
from cnn_study.fileio import atomic_write, file_lock
from cnn_study.runs import RunFolder
from cnn_study.search_trial import PRUNED_AT, SEARCH_ENV, TRIAL_ENV, open_storage, per_epoch
from hydra_plugins.cnn_study_optuna_sweeper import records
from hydra_plugins.cnn_study_optuna_sweeper.records import GIVEN_UP, HEARTBEAT, RUN_DIR
from hydra_plugins.cnn_study_optuna_sweeper.space import (
    SYNTAX,
    distribution,
    grid_points,
    override,
)

log = logging.getLogger(__name__)

_DIRECTIONS = ("minimize", "maximize")
_NAME = re.compile(r"^[\w.\-]+$")


def sqlite_file(storage: Any) -> Path | None:
    if isinstance(storage, str) and storage.startswith("sqlite:///"):
        return Path(storage.removeprefix("sqlite:///"))
    return None


class Heartbeat:
    """Signs of life, every interval seconds, on the trials this process is running."""

    def __init__(self, storage: optuna.storages.BaseStorage, interval: float) -> None:
        self.storage, self.interval = storage, interval
        self.trial_ids: set[int] = set()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._beat, daemon=True, name="search-heartbeat")

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=self.interval + 5)  # an unreachable server must not hang us

    def beat(self, trial_ids: Sequence[int]) -> None:
        """One sign of life per trial; a trial that has finished (told here, or given up by
        another worker) is beaten no more, and one failure never silences the others."""
        for trial_id in trial_ids:
            try:
                self.storage.set_trial_user_attr(trial_id, HEARTBEAT, time.time())
            except optuna.exceptions.UpdateFinishedTrialError:
                self.forget([trial_id])
            except Exception as exc:  # the server hiccuped: the next beat may get through
                log.debug("heartbeat of trial id %d: %s", trial_id, exc)

    def watch(self, trial_ids: Sequence[int]) -> None:
        self.beat(trial_ids)
        with self.lock:
            self.trial_ids.update(trial_ids)

    def forget(self, trial_ids: Sequence[int]) -> None:
        with self.lock:
            self.trial_ids.difference_update(trial_ids)

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            with self.lock:
                ids = list(self.trial_ids)
            self.beat(ids)


class OptunaSweeper(Sweeper):
    def __init__(
        self,
        sampler: Any,
        pruner: Any,
        direction: Any,
        storage: Any,
        study_name: str | None,
        n_trials: int,
        n_jobs: int,
        max_failure_rate: float,
        params: dict[str, str] | None,
        custom_search_space: str | None,
        heartbeat_interval: int = 30,
        grace_period: int = 180,
    ) -> None:
        self.sampler_config = sampler
        self.pruner_config = pruner
        self.direction = direction
        self.storage_config = storage
        self.study_name = study_name
        self.n_trials = n_trials
        self.n_jobs = n_jobs
        self.max_failure_rate = max_failure_rate
        self.params = dict(params or {})
        self.custom_search_space = custom_search_space
        self.heartbeat_interval = heartbeat_interval
        self.grace_period = grace_period
        self.job_idx = 0

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.hydra_context = hydra_context
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    # --- everything checked before a trial trains -------------------------------------------
    def _directions(self) -> list[str]:
        given = self.direction
        listed = list(given) if isinstance(given, (ListConfig, list, tuple)) else [given]
        names = [str(d).lower() for d in listed]
        if not names or any(d not in _DIRECTIONS for d in names):
            shown = names if isinstance(given, ListConfig) else given
            raise StudyError(
                f"hydra.sweeper.direction must be minimize or maximize, or a list of them (one "
                f"per objective), got {shown!r}: e.g. hydra.sweeper.direction=maximize"
            )
        return names

    def _check_numbers(self) -> None:
        for key, value, low in (("n_jobs", self.n_jobs, 1), ("n_trials", self.n_trials, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise StudyError(
                    f"hydra.sweeper.{key} must be a whole number >= {low}, got {value!r}: "
                    f"e.g. hydra.sweeper.{key}={max(low, 2)}"
                )
        rate = self.max_failure_rate
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
            raise StudyError(
                f"hydra.sweeper.max_failure_rate must be a share between 0 and 1, got {rate!r}: "
                "e.g. hydra.sweeper.max_failure_rate=0.25"
            )
        for key in ("heartbeat_interval", "grace_period"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                raise StudyError(
                    f"hydra.sweeper.{key} must be a number of seconds > 0, got {value!r}"
                )
        if self.grace_period <= self.heartbeat_interval:
            raise StudyError(
                f"hydra.sweeper.grace_period ({self.grace_period} s) must be longer than "
                f"heartbeat_interval ({self.heartbeat_interval} s), or every running trial "
                "looks abandoned: e.g. a few intervals"
            )

    def _space(self, arguments: list[str]) -> tuple[dict[str, BaseDistribution], list[str]]:
        """Distributions from params and the command line's sweeps; the rest stays fixed,
        passed on exactly as written (a ~key deletion included)."""
        parser = OverridesParser.create(config_loader=self.hydra_context.config_loader)
        lines = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        try:
            parsed = parser.parse_overrides(lines)
        except Exception as exc:  # Hydra's grammar error: its message, on one line
            message = " ".join(str(exc).split())
            raise StudyError(f"hydra.sweeper.params: {message}: use {SYNTAX}") from None
        space: dict[str, BaseDistribution] = {}
        fixed: dict[str, str] = {}  # by key, the last one winning, as the basic sweeper does
        for item in parsed:
            key = item.get_key_element()
            if item.is_sweep_override():
                space[key] = distribution(item)
                fixed.pop(key, None)
            else:
                space.pop(key, None)  # fixed on the command line: not searched
                fixed[key] = item.input_line
        return space, list(fixed.values())

    def _sample_configs(
        self, fixed: list[str], space: dict[str, BaseDistribution]
    ) -> Iterator[DictConfig]:
        """Trial configs that between them use every choice once (and each range's low end):
        a misspelt option is found now, not when its trial comes up."""
        first = {
            k: d.choices[0] if isinstance(d, CategoricalDistribution) else d.low
            for k, d in space.items()
        }
        samples = [first] + [
            first | {k: choice}
            for k, d in space.items()
            if isinstance(d, CategoricalDistribution)
            for choice in d.choices[1:]
        ]
        loader = self.hydra_context.config_loader
        for sample in samples:
            overrides = fixed + [override(k, v) for k, v in sample.items()]
            try:
                yield loader.load_sweep_config(self.config, overrides)
            except Exception as exc:  # Hydra's own message, on one line
                message = " ".join(str(exc).split())
                raise StudyError(
                    f"a trial with {' '.join(overrides)} cannot be composed: {message}"
                ) from None

    def _check_runs(
        self, fixed: list[str], space: dict[str, BaseDistribution], directions: list[str]
    ) -> list[str]:
        """Compose one trial's config: it must run, read no test number, and hand back one
        value per direction (and a value per epoch where a pruner waits for it)."""
        configs = list(self._sample_configs(fixed, space))
        cfg = configs[0]
        if "objective" not in cfg:  # another Hydra app's task: it returns what it returns
            if self._pruning():
                raise StudyError("a pruner needs a cnn_study run to report each epoch")
            return ["value"] if len(directions) == 1 else [str(i) for i in range(len(directions))]
        for each in configs:
            validate(each)
            check_tunable(each)
        names = objectives(cfg)
        if len(names) != len(directions):
            raise StudyError(
                f"objective={names} gives {len(names)} value(s) and hydra.sweeper.direction "
                f"{len(directions)}: give one direction per objective, e.g. "
                f"hydra.sweeper.direction=[{','.join(['maximize'] * len(names))}]"
            )
        if self._pruning():
            if len(directions) > 1:
                raise StudyError(
                    "Optuna prunes single-objective searches only: use "
                    "hydra/sweeper/pruner=none for this multi-objective search"
                )
            if self.storage_config is None:
                raise StudyError(
                    "a pruner needs a storage that each run can report to: set "
                    "hydra.sweeper.storage, e.g. 'sqlite:///${hydra.sweep.dir}/optuna.db'"
                )
            per_epoch(cfg.objective)
        return names

    def _extension(self) -> Any:
        if not self.custom_search_space:
            return None
        try:
            return get_method(self.custom_search_space)
        except Exception as exc:
            raise StudyError(
                f"hydra.sweeper.custom_search_space={self.custom_search_space!r} cannot be "
                f"imported ({' '.join(str(exc).split())}): name a function as module.function"
            ) from None

    def _grid(self) -> bool:
        return str(OmegaConf.select(self.sampler_config, "_target_")).endswith("GridSampler")

    def _pruning(self) -> bool:
        target = str(OmegaConf.select(self.pruner_config, "_target_") or "")
        return bool(target) and not target.endswith("NopPruner")

    def _open_storage(self) -> optuna.storages.BaseStorage:
        spec = self.storage_config
        file = sqlite_file(spec)
        try:
            if file is not None:
                file.parent.mkdir(parents=True, exist_ok=True)
            return open_storage(spec)
        except Exception as exc:
            shown = OmegaConf.to_yaml(spec).strip() if isinstance(spec, DictConfig) else spec
            reason = " ".join(str(exc).split())[:300]
            raise StudyError(
                f"hydra.sweeper.storage={shown!r} cannot be opened ({type(exc).__name__}: "
                f"{reason}): give an Optuna storage URL that works from here, e.g. "
                "sqlite:///${hydra.sweep.dir}/optuna.db or postgresql+psycopg://user@host/db"
            ) from None

    def _check_study(
        self, storage: optuna.storages.BaseStorage, name: str, directions: list[str]
    ) -> None:
        """A stored study keeps its directions: one asked for otherwise is refused, not
        silently ignored."""
        try:
            existing = optuna.load_study(study_name=name, storage=storage)
        except KeyError:
            return
        stored = [d.name.lower() for d in existing.directions]
        if stored != directions:
            same = stored[0] if len(stored) == 1 else "[" + ",".join(stored) + "]"
            raise StudyError(
                f"study {name!r} in this storage was made with direction {stored}, and this "
                f"command asks {directions}: give hydra.sweeper.direction={same} to continue "
                "it, or a new hydra.sweeper.study_name for a new search"
            )

    # --- the search: an optuna.Study ("study" in cnn-study is a folder of runs) ------------
    @contextlib.contextmanager
    def _one_process_per_sqlite_file(self) -> Iterator[bool]:
        """An SQLite file serves one process: a second one waits for the first. Holding the
        lock, any trial still running belongs to a process that has stopped (yields True)."""
        file = sqlite_file(self.storage_config)
        if file is None:
            yield False
            return
        with file_lock(
            file.with_name(f".{file.name}.lock"),
            what=f"this search ({file}; for several workers use a database server or a journal)",
            doing="run",
            unguarded="running trials are taken over only once their heartbeats are stale",
        ) as locked:
            yield locked

    def _sampler(self, trials_so_far: int, space: dict[str, BaseDistribution], alone: bool) -> Any:
        """The configured sampler. A seeded one that resumes a search is seeded with
        seed + trials so far: reseeded with its first seed, it would draw the first trials'
        parameters again and spend the budget on runs that are already there. On a storage
        that several workers share, the process is mixed in too, or two workers started
        together would draw the same points. (A grid's or a QMC sequence's seed fixes one
        order for every worker and every rerun, which the samplers follow from the storage.)"""
        config = OmegaConf.create(OmegaConf.to_container(self.sampler_config, resolve=True))
        shared_order = self._grid() or str(config.get("_target_", "")).endswith("QMCSampler")
        if config.get("seed") is not None and not shared_order:
            config.seed = int(config.seed) + trials_so_far
            if not alone:
                config.seed = (config.seed + 7919 * os.getpid()) % 2**31
        sampler = instantiate(config)
        if self._grid():  # the grid is the search space
            sampler = sampler(search_space={k: grid_points(k, d) for k, d in space.items()})
        return sampler

    def _give_up(self, search: optuna.Study, trial: Any, why: str, ask_again: bool = True) -> None:
        """A trial that will not finish here: out of the budget; with ask_again, the same
        parameters are asked again (its run folder resumes from its last checkpoint)."""
        number = trial.number
        params = dict(trial.params)
        try:
            trial_id = self._trial_id(search, number)
            self.storage.set_trial_user_attr(trial_id, GIVEN_UP, why)
            search.tell(number, state=TrialState.FAIL)
        except RuntimeError as exc:
            if "Study.stop" not in str(exc):  # the grid's last point: told all the same
                return
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
            return  # finished meanwhile, or another worker gave it up first
        if ask_again:
            search.enqueue_trial(params, skip_if_exists=False)

    def _trial_id(self, search: optuna.Study, number: int) -> int:
        return self.storage.get_trial_id_from_study_id_trial_number(self.study_id, number)

    def _stale(self, trial: FrozenTrial, now: float) -> bool:
        last = trial.user_attrs.get(HEARTBEAT)
        if last is None and trial.datetime_start is not None:
            last = trial.datetime_start.timestamp()
        return last is not None and now - float(last) > self.grace_period

    def _recover(self, search: optuna.Study, alone: bool) -> None:
        """Running trials whose process has stopped: all of them when this process holds the
        search alone, else those whose heartbeat is stale."""
        now = time.time()
        running = [t for t in search.get_trials(deepcopy=False) if t.state == TrialState.RUNNING]
        stale = [t for t in running if alone or self._stale(t, now)]
        if stale:
            log.info(
                "trial(s) %s %s: asking for them again",
                ", ".join(str(t.number) for t in stale),
                "were running when this search last stopped"
                if alone
                else f"gave no sign of life for {self.grace_period} s",
            )
        for trial in stale:
            self._give_up(search, trial, "interrupted" if alone else "stale")

    def _ask(
        self, search: optuna.Study, space: dict[str, BaseDistribution], wanted: int
    ) -> list[optuna.Trial]:
        """Up to `wanted` new trials within the budget, counted in the storage: another
        worker's running trials are part of it, so N workers together run exactly n_trials."""
        asked: list[optuna.Trial] = []
        for _ in range(wanted):
            if sum(map(records.counts, search.get_trials(deepcopy=False))) >= self.n_trials:
                break
            trial = search.ask(space)
            # Trials ahead of this one: those counted, and those queued (asked again after an
            # interrupt: another worker may be taking one up right now).
            ahead = [
                t
                for t in search.get_trials(deepcopy=False)
                if t.number < trial.number and (records.counts(t) or t.state == TrialState.WAITING)
            ]
            if len(ahead) >= self.n_trials:  # another worker took the last of the budget
                self._give_up(search, trial, "unused", ask_again=False)
                break
            asked.append(trial)
        return asked

    def sweep(self, arguments: list[str]) -> list[Sequence[JobReturn]]:
        sweep_dir = Path(self.config.hydra.sweep.dir)
        try:
            self._check_numbers()
            directions = self._directions()
            pruner = _made("pruner", self.pruner_config)
            _made("sampler", self.sampler_config)  # (made again, seeded, once the study opens)
            space, fixed = self._space(arguments)
            if not space:
                raise StudyError(
                    "nothing to search: give hydra.sweeper.params (e.g. hparams_search=chapter) "
                    "or a sweep on the command line, e.g. "
                    "'optimizer.lr=tag(log, interval(1e-4, 0.1))'"
                )
            names = self.objectives = self._check_runs(fixed, space, directions)
            name = self.study_name or sweep_dir.name
            if not _NAME.match(name):
                raise StudyError(
                    f"hydra.sweeper.study_name={name!r}: use letters, digits, '.', '-' and '_' "
                    "(it names the study's files)"
                )
            extend = self._extension()
            if self._grid():
                if extend is not None:
                    raise StudyError(
                        "a grid search searches hydra.sweeper.params only: a "
                        "custom_search_space adds parameters the grid does not hold; "
                        "give them as choice(...) or range(...) in params instead"
                    )
                grid = 1
                for key, d in space.items():
                    grid *= len(grid_points(key, d))
                if grid < self.n_trials:
                    log.info("the grid has %d points: n_trials %d -> %d", grid, self.n_trials, grid)
                    self.n_trials = grid
            self.storage = self._open_storage()
            self._check_study(self.storage, name, directions)
            sweep_dir.mkdir(parents=True, exist_ok=True)
        except StudyError as exc:
            raise CompactHydraException(str(exc)) from None
        except OSError as exc:
            raise CompactHydraException(
                f"the search folder {sweep_dir} cannot be made: {exc.strerror}: choose another "
                "hydra.sweep.dir (or paths.output_dir)"
            ) from None
        atomic_write(sweep_dir / "multirun.yaml", OmegaConf.to_yaml(self.config))

        returns: list[Sequence[JobReturn]] = []
        with self._one_process_per_sqlite_file() as alone:
            search = optuna.create_study(
                study_name=name,
                storage=self.storage,
                directions=directions,
                pruner=pruner,
                load_if_exists=True,
            )
            self.study_id = self.storage.get_study_id_from_name(name)
            search.sampler = self._sampler(len(search.get_trials(deepcopy=False)), space, alone)
            self._recover(search, alone)
            trials_now = search.get_trials(deepcopy=False)
            done = sum(map(records.finished, trials_now))
            log.info(
                "search %s: %d of %d trials done, %d to run",
                name,
                done,
                self.n_trials,
                max(0, self.n_trials - sum(map(records.counts, trials_now))),
            )
            try:
                with Heartbeat(self.storage, self.heartbeat_interval) as heartbeat:
                    while True:
                        if not alone:
                            self._recover(search, alone)
                        trials = self._ask(search, space, self.n_jobs)
                        if not trials:
                            if not self._others_running(search):
                                break
                            time.sleep(min(self.heartbeat_interval, 5))
                            continue
                        returns.append(
                            self._run_batch(search, trials, fixed, extend, heartbeat, sweep_dir)
                        )
                        records.write(search, sweep_dir, self.n_trials, names)
                        self._check_failures(trials, search)
            finally:
                records.write(search, sweep_dir, self.n_trials, names)
            self._say_best(search, names)
        return returns

    def _others_running(self, search: optuna.Study) -> bool:
        """Is the budget still open on trials that other workers are running (they may die,
        and their trials come back to this one once stale)?"""
        trials = search.get_trials(deepcopy=False)
        if sum(map(records.finished, trials)) >= self.n_trials:
            return False
        return any(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)

    def _run_batch(
        self,
        search: optuna.Study,
        trials: list[optuna.Trial],
        fixed: list[str],
        extend: Any,
        heartbeat: Heartbeat,
        sweep_dir: Path,
    ) -> Sequence[JobReturn]:
        ids = [self._trial_id(search, t.number) for t in trials]
        heartbeat.watch(ids)
        try:
            if extend is not None:
                for trial in trials:
                    extend(self.config, trial)
            batch = [fixed + self._trial_overrides(search, t) for t in trials]
            records.write(search, sweep_dir, self.n_trials, self.objectives)  # running ones too
            self.validate_batch_is_legal(batch)
            results = self.launcher.launch(batch, initial_job_idx=self.job_idx)
        except BaseException:
            # Stopped (Ctrl-C, SIGTERM, a failed launch): these trials never finished.
            for trial in trials:
                self._give_up(search, trial, "interrupted")
            raise
        finally:
            heartbeat.forget(ids)
        self.job_idx += len(batch)
        for trial, result in zip(trials, results, strict=True):
            self._tell(search, trial, result)
        return results

    def _trial_overrides(self, search: optuna.Study, trial: optuna.Trial) -> list[str]:
        overrides = [override(k, v) for k, v in trial.params.items()]
        if self._pruning():  # the run reports to its trial (cnn_study/search_trial.py)
            overrides += [
                f"++hydra.job.env_set.{SEARCH_ENV}='{search.study_name}'",  # a string, 1e3 too
                f"++hydra.job.env_set.{TRIAL_ENV}='{trial.number}'",
            ]
        return overrides

    def _tell(self, search: optuna.Study, trial: optuna.Trial, result: JobReturn) -> None:
        run_dir = None
        if result.hydra_cfg is not None:
            run_dir = OmegaConf.select(result.hydra_cfg, "hydra.runtime.output_dir")
        stored = self.storage.get_trial(self._trial_id(search, trial.number))
        if stored.state != TrialState.RUNNING:
            # Another worker took it for a dead one's (its heartbeats did not reach the
            # storage in time) and asked it again: that trial tells the run's result.
            log.warning("trial %d was given up meanwhile (%s): not told", trial.number, run_dir)
            return
        try:
            if run_dir:
                trial.set_user_attr(RUN_DIR, str(run_dir))
            if PRUNED_AT in stored.user_attrs or _pruned_folder(run_dir):
                search.tell(trial, state=TrialState.PRUNED)
                return
            values = _values(result, len(search.directions))
            if values is None:
                search.tell(trial, state=TrialState.FAIL)
                log.warning("trial %d failed (no objective came back): %s", trial.number, run_dir)
            else:
                search.tell(trial, values)
        except optuna.exceptions.UpdateFinishedTrialError:
            log.warning("trial %d was given up meanwhile (%s): not told", trial.number, run_dir)
        except RuntimeError as exc:
            # The grid sampler stops its study once every point has been asked for; outside
            # study.optimize, that is an error to ignore: the trial is told all the same.
            if "Study.stop" not in str(exc):
                raise

    def _check_failures(self, trials: list[optuna.Trial], search: optuna.Study) -> None:
        """The official plugin's rule, per batch: a search stops when more than
        max_failure_rate of one batch failed; the next run of the command continues it."""
        told = {t.number: t for t in search.get_trials(deepcopy=False)}
        failed = [t for t in trials if told[t.number].state == TrialState.FAIL]
        if failed and len(failed) / len(trials) > self.max_failure_rate:
            raise CompactHydraException(
                f"{len(failed)} of the {len(trials)} trials of the last batch failed, more than "
                f"hydra.sweeper.max_failure_rate={self.max_failure_rate}: see each failed run's "
                "failure.json; fix the cause and rerun the same command to continue the search"
            )

    def _say_best(self, search: optuna.Study, names: list[str]) -> None:
        complete = search.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if not complete:
            log.info("search %s: no trial completed", search.study_name)
        elif len(names) == 1:
            best = search.best_trial
            log.info(
                "search %s: best trial %d, %s %s, with %s",
                search.study_name,
                best.number,
                names[0],
                best.value,
                " ".join(override(k, v) for k, v in best.params.items()),
            )
        else:
            log.info(
                "search %s: %d best trade-off(s) of %s: trials %s",
                search.study_name,
                len(search.best_trials),
                ", ".join(names),
                ", ".join(str(t.number) for t in search.best_trials),
            )


def _made(key: str, config: Any) -> Any:
    """hydra.sweeper.<key> instantiated, or one line on why it cannot be."""
    try:
        return instantiate(config)
    except Exception as exc:
        cause = exc.__cause__ or exc
        raise StudyError(
            f"hydra.sweeper.{key} cannot be made: {type(cause).__name__}: "
            f"{' '.join(str(cause).split())[:300]}: fix its settings "
            f"(hydra.sweeper.{key}.<name>=...) or choose another hydra/sweeper/{key}"
        ) from None


def _pruned_folder(run_dir: str | None) -> bool:
    """Does the run's own record say it was pruned (where its note to the trial was lost)?"""
    if not run_dir:
        return False
    try:
        return bool(RunFolder(run_dir).read_results().get(PRUNED_AT))
    except (OSError, ValueError, AttributeError):
        return False


def _values(result: JobReturn, count: int) -> list[float] | None:
    """The job's objective value(s), or None where it failed or gave no number."""
    if result.status != JobStatus.COMPLETED:
        return None
    value = result.return_value
    listed = list(value) if isinstance(value, (list, tuple, ListConfig)) else [value]
    if len(listed) != count:
        return None
    try:
        numbers = [float(v) for v in listed]
    except (TypeError, ValueError):
        return None
    return None if any(n != n for n in numbers) else numbers  # NaN: the run failed
