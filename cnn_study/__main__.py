"""python -m cnn_study [-m] [overrides]: train one run, or sweep with -m."""

import logging
import math
import os
import sys

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, ListConfig

from cnn_study.config_checks import validate
from cnn_study.errors import RunFailed, StudyError
from cnn_study.sweep_failures import record_sweep_failure


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | list[float | None] | None:
    # A log file on a full disk must not print a traceback per line: the run's own error
    # (one line) says what happened.
    logging.raiseExceptions = False
    in_sweep = HydraConfig.get().mode == RunMode.MULTIRUN
    if not in_sweep:
        try:  # a config that cannot run is said in a second, before PyTorch loads
            validate(cfg)
        except StudyError as exc:
            raise CompactHydraException(str(exc)) from None
    from cnn_study import experiment, launch, search_trial  # training, PyTorch with it
    from cnn_study.search_trial import PRUNED_AT

    run_dir = launch.run_dir()
    try:
        trial = search_trial.from_hydra(cfg) if in_sweep else None
        should_stop = trial.should_stop if trial is not None else None
        results = experiment.run(cfg, run_dir, launch.from_hydra(cfg), should_stop)
        if trial is not None and PRUNED_AT in results:
            trial.pruned(results[PRUNED_AT])
    except Exception as exc:
        if in_sweep:
            # The sweep goes on with its other runs; at its end, the ReportFailures callback
            # names every failed run and the command exits non-zero.
            record_sweep_failure(run_dir, exc)
            return math.nan
        problem = exc.cause if isinstance(exc, RunFailed) else exc
        if isinstance(problem, StudyError):
            # Hydra prints a CompactHydraException as its message alone, without a traceback.
            raise CompactHydraException(str(problem)) from None
        raise  # anything else is a bug: its traceback, then RunFailed naming failure.json
    # What a sweeper that optimises sees: a validation number, never a test one; nothing
    # without a validation split (the Optuna sweeper refuses such a search before it starts).
    if isinstance(cfg.objective, ListConfig):  # a multi-objective search
        return [results.get(name) for name in cfg.objective]
    return results.get(cfg.objective)


def _stopped_by_ctrl_c() -> None:
    """Ctrl-C reached this process while it waited for a sweep's jobs. Each run has already
    said, in one line, where it stopped; end the sweep with one line too, not a traceback
    from inside the launcher, and leave no worker processes behind."""
    executor = sys.modules.get("joblib.externals.loky.reusable_executor")
    if executor is not None and getattr(executor, "_executor", None) is not None:
        executor._executor.shutdown(wait=True, kill_workers=True)
    print("stopped by SIGINT: rerun the same command to resume", file=sys.stderr)


if __name__ == "__main__":
    # After Ctrl-C, multiprocessing's resource tracker (a process joblib starts, which reads
    # this variable) removes the semaphores of the killed workers itself, warning that they
    # "leaked": noise after the one line above. Other warnings stay on.
    os.environ.setdefault("PYTHONWARNINGS", "ignore:resource_tracker:UserWarning")
    try:
        main()
    except KeyboardInterrupt:
        _stopped_by_ctrl_c()
        sys.exit(130)
