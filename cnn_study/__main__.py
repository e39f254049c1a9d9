"""python -m cnn_study [-m] [overrides]: train one run, or sweep with -m."""

import logging
import math

import hydra
from hydra.errors import CompactHydraException
from omegaconf import DictConfig

from cnn_study import experiment, launch
from cnn_study.errors import RunFailed, StudyError


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float | None:
    # A log file on a full disk must not print a traceback per line: the run's own error
    # (one line) says what happened.
    logging.raiseExceptions = False
    run_dir = launch.run_dir()
    try:
        results = experiment.run(cfg, run_dir, launch.from_hydra())
    except Exception as exc:
        if launch.in_sweep():
            # The sweep goes on with its other runs; at its end, the ReportFailures callback
            # names every failed run and the command exits non-zero.
            launch.record_sweep_failure(run_dir, exc)
            return math.nan
        problem = exc.cause if isinstance(exc, RunFailed) else exc
        if isinstance(problem, StudyError):
            # Hydra prints a CompactHydraException as its message alone, without a traceback.
            raise CompactHydraException(str(problem)) from None
        raise  # anything else is a bug: its traceback, then RunFailed naming failure.json
    # What a sweeper that optimises sees: a validation number, never a test one; nothing
    # without a validation split (the Optuna sweeper refuses such a search before it starts).
    return results.get(cfg.objective)


if __name__ == "__main__":
    main()
