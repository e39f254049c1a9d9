"""Hydra callbacks: checks Hydra itself would otherwise fail on with a traceback."""

from __future__ import annotations

import errno
import json
import logging
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from cnn_study.sweep_failures import FAILURES_DIR, SWEEP_ID, failures_dir

log = logging.getLogger(__name__)


class CheckOutputDir(Callback):
    """Stop with one line when paths.output_dir cannot hold run folders.

    Hydra creates each run's folder before the run starts, so an unwritable output folder
    would otherwise surface as a traceback from inside Hydra. Hydra turns a callback's
    exceptions into warnings and carries on, so the check exits with SystemExit instead.
    """

    def _check(self, config: DictConfig) -> bool:
        """True where the folder is a read-only archive of runs (a warning said so)."""
        folder = Path(str(config.paths.output_dir))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        except OSError as exc:
            if folder.is_dir() and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                # An archive of finished runs: they are skipped without writing a byte; a
                # run that would have to write stops with its own one line.
                log.warning(
                    "paths.output_dir=%s is read-only (%s): finished runs are skipped, runs "
                    "that would have to write stop",
                    folder,
                    exc.strerror,
                )
                return True
            raise SystemExit(
                f"paths.output_dir={folder} cannot hold run folders ({exc.strerror or exc}): "
                "choose a writable folder, e.g. paths.output_dir=$HOME/cnn-study/outputs"
            ) from None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._check(config)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if self._check(config):
            self._sweep_records_elsewhere(config)

    @staticmethod
    def _sweep_records_elsewhere(config: DictConfig) -> None:
        """A sweep writes its own records (multirun.yaml, failure notes) into its sweep
        folder before any run starts. On a read-only archive they go to a temporary folder;
        the runs keep their folders (the sweep folder's path joined to each run's subdir)."""
        sweep = config.hydra.sweep
        records = tempfile.mkdtemp(prefix="cnn-study-sweep-")
        # The launching process reads sweep.dir for its records; each job's folder is
        # composed anew from the config files, so the runs keep their own folders.
        with read_write(sweep), open_dict(sweep):
            sweep.dir = records
        log.info("this sweep's own records go to %s", records)


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
        os.environ[FAILURES_DIR] = str(
            failures_dir(config.hydra.sweep.dir, os.environ[SWEEP_ID]).absolute()
        )

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        folder = Path(
            os.environ.get(FAILURES_DIR)
            or failures_dir(config.hydra.sweep.dir, os.environ.get(SWEEP_ID, "unknown"))
        )
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
