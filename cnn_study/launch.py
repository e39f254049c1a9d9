"""What Hydra knows about how a job was launched, turned into a plain Launch record."""

from __future__ import annotations

import logging
import os
import socket

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from cnn_study.errors import StudyError
from cnn_study.experiment import Launch
from cnn_study.hardware import available_cores
from cnn_study.sweep_failures import SWEEP_ID

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


def in_sweep() -> bool:
    return HydraConfig.get().mode == RunMode.MULTIRUN
