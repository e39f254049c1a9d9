"""What Hydra knows about how a job was launched, turned into a plain Launch record."""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from cnn_study.errors import RunFailed, StudyError
from cnn_study.experiment import Launch
from cnn_study.fileio import atomic_write
from cnn_study.hardware import available_cores
from cnn_study.runs import RunFolder

log = logging.getLogger(__name__)


# The job config's key by which a launcher preset (conf/hydra/launcher/*.yaml) declares how
# many runs it trains at once on one machine: they share its cores (trainer.num_threads=auto)
# and its memory. A number; -1 = one per core (joblib's n_jobs=-1, -2 = all cores but one...);
# null = as many as it is handed at once (a sweeper's whole batch), counted as one per core.
RUNS_PER_MACHINE = "runs_per_machine"
# Launchers whose share is known without a declaration: Hydra's own runs one job at a time.
_ONE_AT_A_TIME = ("hydra._internal.core_plugins.basic_launcher.BasicLauncher",)
_UNDECLARED = object()


def _parallel_jobs(cfg: DictConfig, hydra: DictConfig) -> int:
    """How many runs the launcher starts at once on this machine, as its preset declares."""
    declared = OmegaConf.select(cfg, RUNS_PER_MACHINE, default=_UNDECLARED)
    if declared is _UNDECLARED:
        target = str(hydra.launcher.get("_target_", ""))
        if target in _ONE_AT_A_TIME:
            return 1
        # Unknown: assume the machine is full (one run per core, one thread each), the one
        # guess that never oversubscribes it; joblib's own default is exactly that.
        preset = hydra.runtime.choices.get("hydra/launcher") or target
        log.warning(
            "hydra/launcher=%s does not say how many runs share a machine: counting one per "
            "core (one thread each); add `%s: N` to its preset (# @package _global_), or +%s=N",
            preset,
            RUNS_PER_MACHINE,
            RUNS_PER_MACHINE,
        )
        return available_cores()
    if declared is None:
        return available_cores()
    if isinstance(declared, bool) or not isinstance(declared, int) or declared == 0:
        raise StudyError(
            f"{RUNS_PER_MACHINE} must be a number of runs, -1 (one per core) or null, "
            f"got {declared!r}: e.g. {RUNS_PER_MACHINE}=2"
        )
    return declared if declared > 0 else max(1, available_cores() + 1 + declared)


def _job_id() -> str | None:
    try:
        import submitit

        return str(submitit.JobEnvironment().job_id)
    except Exception:  # not inside a submitit job
        return os.environ.get("SLURM_JOB_ID")


def from_hydra(cfg: DictConfig) -> Launch:
    hydra = HydraConfig.get()
    launcher = hydra.runtime.choices.get("hydra/launcher") or "basic"
    return Launch(
        launcher=launcher,
        parallel_jobs=_parallel_jobs(cfg, hydra),
        job_id=_job_id(),
        host=socket.gethostname(),
        overrides=list(hydra.overrides.task),
        hydra_config=hydra,
        slot=int(hydra.job.get("num") or 0),
        sweep_id=os.environ.get(SWEEP_ID) if hydra.mode == RunMode.MULTIRUN else None,
    )


def run_dir() -> str:
    return HydraConfig.get().runtime.output_dir


SWEEP_ID = "CNN_STUDY_SWEEP_ID"  # set by callbacks.ReportFailures, inherited by every job
# Where the jobs of this sweep record their failures (set with SWEEP_ID): the sweep folder's,
# or a temporary one when the outputs are a read-only archive.
FAILURES_DIR = "CNN_STUDY_FAILURES_DIR"


def in_sweep() -> bool:
    return HydraConfig.get().mode == RunMode.MULTIRUN


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
