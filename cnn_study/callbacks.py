"""Hydra callbacks: checks Hydra itself would otherwise fail on with a traceback."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from cnn_study.launch import SWEEP_ID, failures_dir


class CheckOutputDir(Callback):
    """Stop with one line when paths.output_dir cannot hold run folders.

    Hydra creates each run's folder before the run starts, so an unwritable output folder
    would otherwise surface as a traceback from inside Hydra. Hydra turns a callback's
    exceptions into warnings and carries on, so the check exits with SystemExit instead.
    """

    def _check(self, config: DictConfig) -> None:
        folder = Path(str(config.paths.output_dir))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            raise SystemExit(
                f"paths.output_dir={folder} cannot hold run folders ({exc.strerror or exc}): "
                "choose a writable folder, e.g. paths.output_dir=$HOME/cnn-study/outputs"
            ) from None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)


class ReportFailures(Callback):
    """A failed run never stops a sweep: each job records its failure and returns; at the
    sweep's end this names every failed run and its failure.json, and exits non-zero.

    (Hydra's BasicSweeper would otherwise raise after the first batch with a failed job, and
    the runs of later batches would never start.)
    """

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Jobs inherit the environment (joblib workers, submitit's sbatch): it tells them
        # which sweep they belong to, so that two sweeps at once keep their failures apart.
        os.environ[SWEEP_ID] = uuid.uuid4().hex[:12]

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        folder = failures_dir(config.hydra.sweep.dir, os.environ.get(SWEEP_ID, "unknown"))
        records = []
        for path in sorted(folder.glob("*.json"), key=lambda p: int(p.stem)):
            try:
                records.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                records.append(
                    {"run": str(path), "error": "unreadable record", "failure_file": None}
                )
        if not records:
            return
        lines = [
            f"  {r['run']}: {r['error']}"
            + (f" (see {r['failure_file']})" if r["failure_file"] else "")
            for r in records
        ]
        raise SystemExit(
            f"{len(records)} run(s) of this sweep failed; the others ran:\n" + "\n".join(lines)
        )
