"""Hydra callbacks: checks Hydra itself would otherwise fail on with a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


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
