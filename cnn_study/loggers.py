"""Live loggers: watch runs train in TensorBoard or MLflow (the `logger` config group).

metrics.csv and results.json are a run's record and are always written; a logger only mirrors
them into a UI, so nothing downstream depends on one. A logger never stops a run: its first
failure is reported in one line and turns it off for the rest of the run.

A resumed run continues the same TensorBoard run and the same MLflow run. On opening, each
backend completes its copy of the epochs already finished (history), so a run that was killed
between a checkpoint and its log call still shows one curve, with no epoch missing or twice.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cnn_study.errors import StudyError
from cnn_study.fileio import atomic_write, file_lock
from cnn_study.runs import metrics_columns

log = logging.getLogger(__name__)

# backend -> (the module it imports, the pip package and cnn-study extra that install it)
_REQUIREMENTS = {
    "tensorboard": ("torch.utils.tensorboard", "tensorboard"),
    "mlflow": ("mlflow", "mlflow"),
}
# Logged per epoch under metrics.csv's own names, with the epoch as the step (the validation
# pair only where the run has a validation split).
EPOCH_METRICS = tuple(column for column in metrics_columns(validation=True) if column != "epoch")
FINAL_METRICS = (
    "final_val_acc",
    "best_val_acc",
    "test_acc_at_best_val",
    "final_test_acc",
    "best_test_acc",
    "final_test_loss",
    "final_train_acc",
    "parameters",
)
# In the run folder: which MLflow run this run folder continues when it resumes.
STATE_FILE = "logger.json"


def check_available(logger_cfg: Mapping[str, Any]) -> None:
    """Raise StudyError, in one line with the fix, when the backend cannot be used."""
    backend = logger_cfg.get("backend", "none")
    if backend == "none":
        return
    if backend not in _REQUIREMENTS:
        raise StudyError(
            f"logger.backend={backend!r} is unknown: choose logger=none, logger=tensorboard "
            "or logger=mlflow"
        )
    module, package = _REQUIREMENTS[backend]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StudyError(
            f"logger={backend} needs the {package} package, which cannot be imported "
            f'({reason}): pip install "cnn-study[{backend}]" (or pip install {package})'
        ) from None


class RunLogger:
    """One run's live log. This base class is backend `none`: it logs nothing."""

    def log_epoch(self, row: Mapping[str, float]) -> None:
        """One finished epoch: a row of metrics.csv."""

    def log_final(self, results: Mapping[str, Any]) -> None:
        """The run's final metrics (FINAL_METRICS, from results.json)."""

    def close(self) -> None:
        """Finish the log; a run closed without log_final is marked as stopped early."""


def open_logger(
    logger_cfg: Mapping[str, Any],
    run_dir: Path,
    run_name: str,
    hparams: Mapping[str, Any],
    history: Sequence[Mapping[str, float]],
) -> RunLogger:
    """Start, or continue for a resumed run, the live log of the run in run_dir.

    run_name is the run folder's path below the outputs (grid/mnist/cnn/sgd/seed=0); hparams is
    the flat dict of settings to compare runs by; history holds the epochs already finished.
    """
    check_available(logger_cfg)
    backend = logger_cfg.get("backend", "none")
    if backend == "none":
        return RunLogger()
    opener = TensorBoardLogger if backend == "tensorboard" else MlflowLogger
    params = {key: _plain(value) for key, value in hparams.items()}
    return _Fused(backend, lambda: opener(logger_cfg, Path(run_dir), run_name, params, history))


class _Fused(RunLogger):
    """A backend behind a fuse: its first exception is logged in one line and turns it off.

    A logger is a convenience; a server that is down or a full disk must not cost the run.
    """

    def __init__(self, name: str, open_backend: Callable[[], RunLogger]):
        self.name = name
        self.backend: RunLogger | None = None
        try:
            self.backend = open_backend()
        except Exception as exc:
            self._turn_off(exc)

    def log_epoch(self, row: Mapping[str, float]) -> None:
        self._call(lambda backend: backend.log_epoch(row))

    def log_final(self, results: Mapping[str, Any]) -> None:
        self._call(lambda backend: backend.log_final(results))

    def close(self) -> None:
        self._call(lambda backend: backend.close())
        self.backend = None

    def _call(self, action: Callable[[RunLogger], None]) -> None:
        if self.backend is None:
            return
        try:
            action(self.backend)
        except Exception as exc:
            self._turn_off(exc)

    def _turn_off(self, exc: Exception) -> None:
        self.backend = None
        reason = (str(exc).strip().splitlines() or [""])[0][:300]
        log.warning(
            "logger=%s failed (%s: %s); live logging is off for the rest of this run "
            "(metrics.csv and results.json are still written)",
            self.name,
            type(exc).__name__,
            reason,
        )


class TensorBoardLogger(RunLogger):
    """Scalars per epoch and an HParams session, all in one TensorBoard run (one folder).

    The folder is <run_dir>/tensorboard, or <log_dir>/<run_name> where logger.log_dir is set,
    so that `tensorboard --logdir outputs/` lists each run under its folder's path.
    """

    def __init__(
        self,
        cfg: Mapping[str, Any],
        run_dir: Path,
        run_name: str,
        hparams: Mapping[str, Any],
        history: Sequence[Mapping[str, float]],
    ):
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams as hparams_summaries

        log_dir = cfg.get("log_dir")
        folder = run_dir / "tensorboard" if log_dir is None else Path(log_dir) / run_name
        # purge_step=0 hides all an earlier session of this run wrote, and all of it is written
        # again below from history: whatever that session managed to write before it was
        # killed, the run reads as one curve with each epoch once.
        self.writer = SummaryWriter(str(folder), purge_step=0)
        # Only the session's own summaries, in this folder: add_hparams would open another run
        # in a timestamped subfolder, and an experiment summary per run would make TensorBoard
        # show one run's hparams only, where it infers a sweep's table from all the sessions.
        _, session_start, self.session_end = hparams_summaries(dict(hparams), {})
        self.writer.file_writer.add_summary(session_start, 0)
        self.last_epoch = 0
        for row in history:
            self._add_epoch(row)
        self.writer.flush()

    def log_epoch(self, row: Mapping[str, float]) -> None:
        self._add_epoch(row)
        self.writer.flush()  # shown live, and on disk before the next checkpoint

    def log_final(self, results: Mapping[str, Any]) -> None:
        for key in FINAL_METRICS:
            if key in results:
                self.writer.add_scalar(key, results[key], self.last_epoch)
        self.writer.file_writer.add_summary(self.session_end, self.last_epoch)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def _add_epoch(self, row: Mapping[str, float]) -> None:
        self.last_epoch = int(row["epoch"])
        for key in EPOCH_METRICS:
            if key in row:  # runs from before learning-rate schedules have no lr
                self.writer.add_scalar(key, row[key], self.last_epoch)


class MlflowLogger(RunLogger):
    """An MLflow run per run folder: params, metrics per epoch, final metrics.

    The run is named like its folder, in the experiment logger.experiment_name (the study).
    Its id is kept in <run_dir>/logger.json, so that a resumed run continues it.
    """

    def __init__(
        self,
        cfg: Mapping[str, Any],
        run_dir: Path,
        run_name: str,
        hparams: Mapping[str, Any],
        history: Sequence[Mapping[str, float]],
    ):
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        _fail_fast_over_http()
        uri = cfg["tracking_uri"]
        with _store_lock(uri):
            self.client = MlflowClient(tracking_uri=uri)
            experiment_id = self._experiment_id(cfg.get("experiment_name") or hparams["study"])
        state_file = run_dir / STATE_FILE
        self.run_id = self._earlier_run(state_file, uri)
        if self.run_id is None:
            run = self.client.create_run(experiment_id, run_name=run_name)
            self.run_id = run.info.run_id
            state = {"tracking_uri": uri, "experiment_id": experiment_id, "run_id": self.run_id}
            atomic_write(state_file, json.dumps(state, indent=2))
        else:
            self.client.update_run(self.run_id, status="RUNNING")
        # Logging the same param again is a no-op, so params are logged on every opening:
        # a session killed right after creating the run did not lose them.
        params = [Param(key, str(value)) for key, value in hparams.items()]
        self.client.log_batch(self.run_id, params=params)
        self.client.set_tag(self.run_id, "run_dir", str(run_dir))
        self.finished = False
        self.last_epoch = 0
        self._log_missing_epochs(history)

    def log_epoch(self, row: Mapping[str, float]) -> None:
        self.last_epoch = int(row["epoch"])
        metrics = [(key, row[key]) for key in EPOCH_METRICS if key in row]
        self._log_metrics(metrics, self.last_epoch)

    def log_final(self, results: Mapping[str, Any]) -> None:
        metrics = [(key, results[key]) for key in FINAL_METRICS if key in results]
        self._log_metrics(metrics, self.last_epoch)
        self.finished = True

    def close(self) -> None:
        self.client.set_terminated(self.run_id, "FINISHED" if self.finished else "FAILED")

    def _experiment_id(self, name: str) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return self.client.create_experiment(name)
        except Exception:  # another run, at a server, created it first
            experiment = self.client.get_experiment_by_name(name)
            if experiment is None:
                raise
            return experiment.experiment_id

    def _earlier_run(self, state_file: Path, uri: str) -> str | None:
        """The MLflow run an earlier session of this run folder logged to, if it still exists."""
        from mlflow.exceptions import MlflowException

        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            return None
        if state.get("tracking_uri") != uri:  # logging elsewhere now: start a run there
            return None
        try:
            run = self.client.get_run(state["run_id"])
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise
        return None if run.info.lifecycle_stage == "deleted" else run.info.run_id

    def _log_missing_epochs(self, history: Sequence[Mapping[str, float]]) -> None:
        """Log the finished epochs that the run lacks, asking MLflow which it has.

        MLflow cannot replace a metric's value at a step, only add one; the store itself says
        what an earlier session logged before it was killed, where a note of ours could lag.
        """
        logged = {
            key: {metric.step for metric in self.client.get_metric_history(self.run_id, key)}
            for key in EPOCH_METRICS
        }
        for row in history:
            self.last_epoch = int(row["epoch"])
            missing = [
                (key, row[key])
                for key in EPOCH_METRICS
                if key in row and self.last_epoch not in logged[key]
            ]
            if missing:
                self._log_metrics(missing, self.last_epoch)

    def _log_metrics(self, metrics: Sequence[tuple[str, float]], step: int) -> None:
        from mlflow.entities import Metric

        timestamp = int(time.time() * 1000)
        entries = [Metric(key, float(value), timestamp, step) for key, value in metrics]
        self.client.log_batch(self.run_id, metrics=entries)


def _plain(value: Any) -> bool | int | float | str:
    """A value both backends take as a param; others (None, lists) as their text."""
    return value if isinstance(value, (bool, int, float, str)) else str(value)


def _fail_fast_over_http() -> None:
    """Keep a tracking server that is down from stalling a run or filling its log.

    MLflow retries a request for about 4 minutes by default; a live log is not worth that. These
    give up within seconds (10 s per request); a user's own settings of them are kept. urllib3
    logs each retry as a warning: the one line a failure gets is ours.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


@contextmanager
def _store_lock(uri: str) -> Iterator[None]:
    """Hold a lock beside a SQLite store while it is opened, its experiment found or made.

    Two runs of a parallel sweep that open a new store at once both create its tables, and
    MLflow's migrations then fail in one of them; once created, SQLite's locking suffices.
    """
    if not uri.startswith("sqlite:///"):
        yield
        return
    database = Path(uri.removeprefix("sqlite:///"))
    with file_lock(database.with_name(database.name + ".lock")):
        yield
