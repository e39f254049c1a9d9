"""A sweep's failed runs, recorded where the launching process finds them.

Kept apart from launch.py, which imports training (and PyTorch): the Hydra callbacks that read
these records load in every process before anything else, including a bad command's.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from hydra.core.hydra_config import HydraConfig

from cnn_study.errors import RunFailed, StudyError
from cnn_study.fileio import atomic_write
from cnn_study.runs import RunFolder

log = logging.getLogger(__name__)

SWEEP_ID = "CNN_STUDY_SWEEP_ID"  # set by callbacks.ReportFailures, inherited by every job
# Where the jobs of this sweep record their failures (set with SWEEP_ID): the sweep folder's,
# or a temporary one when the outputs are a read-only archive.
FAILURES_DIR = "CNN_STUDY_FAILURES_DIR"


def failures_dir(sweep_dir: str | Path, sweep_id: str) -> Path:
    """Where the jobs of one sweep record their failures (hidden: not a run folder)."""
    return Path(sweep_dir) / ".failures" / sweep_id


def record_sweep_failure(run_dir: str, exc: BaseException) -> None:
    """Note a failed job of this sweep where the launching process will find it."""
    hydra = HydraConfig.get()
    folder = Path(
        os.environ.get(FAILURES_DIR)
        or failures_dir(hydra.sweep.dir, os.environ.get(SWEEP_ID, "unknown"))
    )
    run = RunFolder(run_dir)
    failure_file = None
    if isinstance(exc, RunFailed):  # the run began, and recorded its failure itself
        failure_file, exc = exc.failure_file, exc.cause or exc
    elif not run.config_file.is_file():
        # Failed before the run began (an invalid config): give it its record too, in a
        # folder that holds no run, so nothing of another run is touched.
        run.record_failure(exc)
        failure_file = run.failure_file
    record = {
        "run": run_dir,
        "error": str(exc) or type(exc).__name__,
        "failure_file": str(failure_file) if failure_file and failure_file.is_file() else None,
    }
    try:
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / f"{hydra.job.num}.json", json.dumps(record))
    except (OSError, StudyError) as error:  # a full disk: the error is in the log and on the screen
        log.error("could not record the failure of %s: %s", run_dir, error)
    log.error("run %s failed: %s", run_dir, record["error"])
