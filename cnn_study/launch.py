"""What Hydra knows about how a job was launched, turned into a plain Launch record."""

from __future__ import annotations

import os
import socket

from hydra.core.hydra_config import HydraConfig

from cnn_study.experiment import Launch
from cnn_study.hardware import available_cores


def _parallel_jobs(hydra) -> int:
    """How many runs the launcher starts at once on this machine (they share its cores)."""
    target = str(hydra.launcher.get("_target_", ""))
    if "JoblibLauncher" in target:
        n_jobs = hydra.launcher.get("n_jobs") or 1
        return (
            n_jobs if n_jobs > 0 else max(1, available_cores() + 1 + n_jobs)
        )  # joblib: -1 = all cores
    if "submitit_launcher.LocalLauncher" in target:
        # submitit's local executor starts a whole sweeper batch at once.
        return max(1, int(hydra.sweeper.get("max_batch_size") or available_cores()))
    return 1  # basic runs one at a time; on SLURM each job has its own allocated cores


def _job_id() -> str | None:
    try:
        import submitit

        return str(submitit.JobEnvironment().job_id)
    except Exception:  # not inside a submitit job
        return os.environ.get("SLURM_JOB_ID")


def from_hydra() -> Launch:
    hydra = HydraConfig.get()
    launcher = hydra.runtime.choices.get("hydra/launcher") or "basic"
    return Launch(
        launcher=launcher,
        parallel_jobs=_parallel_jobs(hydra),
        job_id=_job_id(),
        host=socket.gethostname(),
        overrides=list(hydra.overrides.task),
        hydra_config=hydra,
    )


def run_dir() -> str:
    return HydraConfig.get().runtime.output_dir
