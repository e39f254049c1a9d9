"""The run folder: what a run writes and how it is read back.

This is the one contract between training and analysis: the analysis reads a run folder only
through RunFolder (config, overrides, choices, metrics, results, failure, status). A run
folder holds

    .hydra/config.yaml     the run's resolved config
    .hydra/overrides.yaml  the command-line overrides it was started with
    .hydra/hydra.yaml      Hydra's record of the run, with the config options it was made of
    metrics.csv            one row per finished epoch (METRICS_COLUMNS)
    checkpoint.pt          model, optimizer, history and every random state, after each epoch
    results.json           written once, when the last epoch is done (cnn_study/results.py)
    failure.json           written when the run stopped with an error

Which run a folder holds is its saved config, compared through cnn_study/run_identity.py.
Every file is written to a temporary name and renamed into place, so a crash mid-write never
leaves a broken file behind.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
import socket
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from omegaconf import DictConfig, OmegaConf

from cnn_study.errors import StudyError
from cnn_study.fileio import atomic_write, file_lock, move
from cnn_study.results import Results

log = logging.getLogger(__name__)

METRICS_COLUMNS = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "seconds"]
# Written only by runs with a validation split (dataset.val_size > 0), before the test columns.
VAL_COLUMNS = ["val_loss", "val_acc"]
# Runs made before learning-rate schedules were a factor have no lr column.
_OPTIONAL_COLUMNS = {"lr", *VAL_COLUMNS}
CONFIG_FILE = Path(".hydra") / "config.yaml"

# The C loader where PyYAML has it: an analysis of 200 runs reads 200 configs in ms.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# A run folder's status, as the analysis counts it (RunFolder.status). A pruned run was
# stopped early by a search's pruner: neither failed nor a finished run to pool.
COMPLETE, INCOMPLETE, FAILED, PRUNED = "complete", "incomplete", "failed", "pruned"


def metrics_columns(validation: bool) -> list[str]:
    """metrics.csv's columns: the validation pair, where there is one, before the test pair."""
    if not validation:
        return list(METRICS_COLUMNS)
    at = METRICS_COLUMNS.index("test_loss")
    return [*METRICS_COLUMNS[:at], *VAL_COLUMNS, *METRICS_COLUMNS[at:]]


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunStatus:
    """Where a run stands, with the files its status was judged from (read once)."""

    state: str  # COMPLETE, INCOMPLETE, FAILED or PRUNED
    epochs_recorded: int  # rows of metrics.csv (0 where it is missing or unreadable)
    metrics: list[dict[str, float]] | None  # metrics.csv's rows; None: missing or unreadable
    results: Results | None  # results.json; None: missing or unreadable
    error: str | None  # failure.json's error, for a failed run
    unreadable: dict[Path, str] = field(default_factory=dict)  # file -> why it was not read

    @property
    def complete(self) -> bool:
        return self.state == COMPLETE


class RunFolder:
    """One run's folder on disk."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_file = property(lambda self: self.path / CONFIG_FILE)
    metrics_file = property(lambda self: self.path / "metrics.csv")
    checkpoint_file = property(lambda self: self.path / "checkpoint.pt")
    results_file = property(lambda self: self.path / "results.json")
    failure_file = property(lambda self: self.path / "failure.json")

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # --- config -------------------------------------------------------------------------
    def read_config(self) -> dict[str, Any] | None:
        """The saved config, or None where the folder holds no run yet."""
        if not self.config_file.is_file():
            return None
        try:
            config = yaml.load(self.config_file.read_text(), Loader=_Loader)
        except (OSError, yaml.YAMLError) as exc:
            raise StudyError(
                f"{self.config_file} cannot be read ({exc})", "move the folder aside"
            ) from None
        if not isinstance(config, dict):
            raise StudyError(f"{self.config_file} is not a config mapping", "move the folder aside")
        return config

    def read_overrides(self) -> list[str]:
        """The command-line overrides the run was started with ([] where none are recorded)."""
        path = self.path / ".hydra" / "overrides.yaml"
        if not path.is_file():
            return []
        try:
            overrides = yaml.load(path.read_text(), Loader=_Loader)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path} is not YAML: {exc}") from None
        return [str(o) for o in overrides or []]

    def read_choices(self) -> dict[str, str]:
        """model -> cnn_bn, ...: the config options the run was composed from, as Hydra
        recorded them in .hydra/hydra.yaml ({} where it recorded none, or cannot be read:
        the choices only name a run, they never decide what it measured)."""
        try:
            hydra = yaml.load((self.path / ".hydra" / "hydra.yaml").read_text(), Loader=_Loader)
            choices = hydra["hydra"]["runtime"]["choices"]
        except (OSError, yaml.YAMLError, KeyError, TypeError):
            return {}
        if not isinstance(choices, dict):
            return {}
        return {str(k): str(v) for k, v in choices.items()}

    def write_hydra_files(
        self, config: DictConfig, hydra_config: DictConfig | None, overrides: Sequence[str]
    ) -> None:
        """What Hydra's .hydra/ holds; the job config is saved resolved, as it ran."""
        folder = self.path / ".hydra"
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write(folder / "config.yaml", OmegaConf.to_yaml(config, resolve=True))
        if hydra_config is not None:
            atomic_write(folder / "hydra.yaml", OmegaConf.to_yaml({"hydra": hydra_config}))
        atomic_write(folder / "overrides.yaml", yaml.safe_dump(list(overrides)))

    # --- progress -----------------------------------------------------------------------
    def save_checkpoint(self, state: dict[str, Any]) -> None:
        import torch  # here, not above: reading a run folder (the analysis) needs no PyTorch

        buffer = io.BytesIO()
        torch.save(state, buffer)
        atomic_write(self.checkpoint_file, buffer.getvalue())

    def load_checkpoint(self) -> dict[str, Any] | None:
        """The last checkpoint, loaded on the CPU; weights_only, so a tampered file runs no code."""
        if not self.checkpoint_file.is_file():
            return None
        import torch  # here, not above: reading a run folder (the analysis) needs no PyTorch

        try:
            return torch.load(self.checkpoint_file, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise StudyError(
                f"{self.checkpoint_file} cannot be loaded ({type(exc).__name__})",
                "rerun with force=true to move this run aside and start it anew",
            ) from None

    def write_metrics(self, rows: Sequence[Mapping[str, Any]]) -> None:
        columns = metrics_columns(validation=bool(rows) and "val_acc" in rows[0])
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: row[k] for k in columns} for row in rows)
        atomic_write(self.metrics_file, text.getvalue())

    def read_metrics(self) -> list[dict[str, float]]:
        with self.metrics_file.open(newline="") as f:
            rows = list(csv.DictReader(f))
        known = metrics_columns(validation=True)
        if rows and not set(known) - _OPTIONAL_COLUMNS <= set(rows[0]) <= set(known):
            raise ValueError(f"columns {sorted(rows[0])} are not {known}")
        return [{k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()} for row in rows]

    # --- outcome ------------------------------------------------------------------------
    def write_results(self, results: Results) -> None:
        atomic_write(self.results_file, json.dumps(results, indent=2))

    def read_results(self) -> Results | None:
        """results.json; a run older than one of its keys lacks that key."""
        if not self.results_file.is_file():
            return None
        return json.loads(self.results_file.read_text())

    def is_finished(self, pruned_counts: bool = False) -> bool:
        """What training asks before it starts a run: has results.json recorded every epoch
        (or, with pruned_counts, did a search's pruner stop it)? Kept apart from status() on
        purpose: training has just checked the saved config against its own, and a run it
        counts as finished is skipped, never resumed. A pruned run is resumed by anything
        but a search: from its checkpoint, it trains on to the run it would have been."""
        try:
            results = self.read_results()
        except (OSError, ValueError):
            return False
        if not results:
            return False
        if pruned_counts and results.get("pruned_at_epoch"):
            return True
        return results.get("epochs_completed") == results.get("epochs")

    def status(self, config: Mapping[str, Any] | None = None) -> RunStatus:
        """The one definition of a complete run, as the analysis counts it: results.json
        says every planned epoch (the config's trainer.epochs) is done, and metrics.csv holds
        a row for each. A run that is not complete is failed where failure.json says why,
        else incomplete (still running, killed, or unreadable).

        config: the saved config where the caller has read it already. Unreadable files
        make a run incomplete, never an error; they are listed in the status.
        """
        unreadable: dict[Path, str] = {}
        if config is None:
            try:
                config = self.read_config() or {}
            except StudyError as exc:
                unreadable[self.config_file], config = str(exc), {}
        metrics = None
        if self.metrics_file.is_file():
            try:
                metrics = self.read_metrics()
            except (OSError, ValueError, KeyError) as exc:
                unreadable[self.metrics_file] = str(exc)
        try:
            results = self.read_results()
        except (OSError, ValueError) as exc:
            unreadable[self.results_file] = str(exc)
            results = None
        recorded = len(metrics or [])
        planned = (config.get("trainer") or {}).get("epochs")
        if results is not None and results.get("epochs_completed") == planned == recorded:
            return RunStatus(COMPLETE, recorded, metrics, results, None, unreadable)
        if results is not None and results.get("pruned_at_epoch") == recorded:
            return RunStatus(PRUNED, recorded, metrics, results, None, unreadable)
        try:
            failure = self.read_failure()
        except (OSError, ValueError):
            failure = None
        state = FAILED if failure else INCOMPLETE
        error = (failure or {}).get("error")
        return RunStatus(state, recorded, metrics, results, error, unreadable)

    def record_failure(self, exc: BaseException) -> None:
        """Write failure.json; a disk too full for it only costs the record, never the run."""
        failure = {
            "error": str(exc) or type(exc).__name__,
            "type": type(exc).__name__,
            "time": now(),
            "host": socket.gethostname(),
            "traceback": traceback.format_exception(type(exc), exc, exc.__traceback__),
        }
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            atomic_write(self.failure_file, json.dumps(failure, indent=2))
        except (OSError, StudyError) as error:
            log.error("could not record the failure in %s: %s", self.failure_file, error)

    def read_failure(self) -> dict[str, Any] | None:
        if not self.failure_file.is_file():
            return None
        return json.loads(self.failure_file.read_text())

    def archive_failure(self) -> None:
        """Keep an earlier failure's record under a dated name when the run starts again."""
        if self.failure_file.is_file():
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
            move(self.failure_file, self.path / f"failure.{stamp}.json")

    # --- one trainer per folder ----------------------------------------------------------
    @property
    def lock_file(self) -> Path:
        """Beside the folder, not in it: moving the folder aside (force=true) keeps the lock."""
        return self.path.with_name(f".{self.path.name}.lock")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold this folder's lock; a second process waits here, naming the holder, until the
        first is done. A crashed or killed run never leaves a stale lock; on a filesystem
        without locks the run goes on unlocked, with a warning (fileio.file_lock)."""
        with file_lock(
            self.lock_file,
            what=str(self.path),
            doing="trained",
            unguarded="nothing stops two processes from training this run at once",
        ):
            yield

    def remove_stale_temp_files(self) -> list[Path]:
        """Temporary files of writes that a killed process never finished (hold the lock)."""
        stale = [p for p in self.path.glob(".*.tmp") if p.is_file()] if self.path.is_dir() else []
        for path in stale:
            path.unlink()
        return stale

    def move_aside(self) -> Path:
        """Rename the folder to a hidden, dated sibling (analysis skips hidden folders)."""
        stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
        target = self.path.with_name(f".{self.path.name}.replaced-{stamp}")
        move(self.path, target)
        return target


def find_runs(root: str | Path) -> Iterator[RunFolder]:
    """Every run folder at or below root (a folder with .hydra/config.yaml), hidden ones skipped."""
    root = Path(root)
    if (root / CONFIG_FILE).is_file():
        yield RunFolder(root)
    for folder, subfolders, _ in os.walk(root):
        subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
        for name in subfolders:
            if (Path(folder) / name / CONFIG_FILE).is_file():
                yield RunFolder(Path(folder) / name)
