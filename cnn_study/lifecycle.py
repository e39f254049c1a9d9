"""What a run folder holds decides what a run does: skip it, resume it, start it, or stop.

A finished run with this config is skipped; an unfinished one resumes from its checkpoint;
an empty folder starts a run. Another config, or files that cannot be read, stop the run with
the reason and the fix, or with force=true are moved aside for a new run. One process at a
time decides and trains (the folder's lock).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnn_study.errors import StudyError
from cnn_study.run_identity import config_differences
from cnn_study.runs import RunFolder
from cnn_study.signals import stop_on_signals

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    """What a folder holds: a finished run's results (skip), a checkpoint (resume), or
    neither (start)."""

    results: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None


@dataclass(frozen=True)
class Job:
    """Which job asks, and whether it may replace what it finds (force=true)."""

    force: bool = False
    job_id: str | None = None
    sweep_id: str | None = None
    searching: bool = False  # a search's trial, which its pruner may stop: a pruned run is done


@contextlib.contextmanager
def held(folder: RunFolder) -> Iterator[None]:
    """The folder to this process alone (a second one waits here for the first to end), and
    SIGINT/SIGTERM raising Stopped, so a stop unwinds and keeps the last checkpoint."""
    with folder.lock(), stop_on_signals():
        for stale in folder.remove_stale_temp_files():
            log.info("removed %s, left by a process that was killed mid-write", stale)
        yield


def prepare_folder(
    folder: RunFolder,
    config: dict[str, Any],
    job: Job,
    data_now: Callable[[], str | None] | None = None,
) -> Found:
    """Ready the folder for this run and say what it holds to build on: a finished run to
    skip, a checkpoint to resume, or nothing. What cannot be kept (another config, unreadable
    files, a run finished by another job, or one finished on other data) stops the run, or
    with force=true is moved aside.

    data_now gives the data's fingerprint as it is now, for datasets whose files can change
    under the same config (an image folder); a finished run that recorded another is not
    skipped."""
    try:
        saved = folder.read_config()
    except StudyError as problem:
        return _forced(folder, problem, job)
    if saved is None:
        return Found()
    differences = config_differences(saved, config)
    if differences:
        problem = StudyError(
            f"{folder.path} holds a run with another config (differs in: {', '.join(differences)})",
            "rerun with that config, choose another study=NAME, or add force=true to move the "
            "old run aside",
            separator="; ",
        )
        return _forced(folder, problem, job)
    if folder.is_finished(pruned_counts=job.searching):
        results = folder.read_results()
        changed = _data_changed(folder, results, data_now)
        if changed is not None:
            return _forced(folder, changed, job)
        if job.force and not _same_job(results, job):
            move_aside(folder, "force=true retrains a finished run")
            return Found()
        if results.get("pruned_at_epoch"):
            log.info("skipped %s: pruned after epoch %d", folder.path, results["pruned_at_epoch"])
        else:
            log.info(
                "skipped %s: already finished (final test accuracy %.4f)",
                folder.path,
                results["final_test_acc"],
            )
        return Found(results=results)
    # Unfinished, same config: resume, force or not. A requeued or retried job that was
    # started with force=true must not throw away its own progress.
    try:
        return Found(checkpoint=folder.load_checkpoint())
    except StudyError as problem:
        return _forced(folder, problem, job)


def _data_changed(
    folder: RunFolder, results: dict[str, Any], data_now: Callable[[], str | None] | None
) -> StudyError | None:
    """Why a finished run cannot be skipped: it was made from other files of its dataset."""
    recorded = results.get("data_fingerprint")
    if data_now is None or recorded is None:
        return None
    now = data_now()
    if now is None or now == recorded:  # data that cannot be read now: the run stands
        return None
    return StudyError(
        f"{folder.path} finished on other images: the dataset's folder has changed since "
        f"(its fingerprint was {recorded[:12]}..., is now {now[:12]}...)",
        "add force=true to move the old run aside and train on the images as they are now, "
        "or give the changed dataset another dataset.name",
        separator="; ",
    )


def _same_job(results: dict[str, Any], job: Job) -> bool:
    """Was this finished run made by this very job (a requeue) or an earlier job of this
    very sweep (two overrides that map to one folder)? force=true keeps it then."""
    same_job = job.job_id and results.get("job_id") == job.job_id
    same_sweep = job.sweep_id and results.get("sweep_id") == job.sweep_id
    return bool(same_job or same_sweep)


def _forced(folder: RunFolder, problem: StudyError, job: Job) -> Found:
    """A folder that cannot be kept: an error, or with force=true moved aside for a new run."""
    if not job.force:
        raise problem
    move_aside(folder, problem.reason)
    return Found()


def move_aside(folder: RunFolder, why: str) -> None:
    aside = folder.move_aside()
    folder.path.mkdir(parents=True)
    _reopen_log_files(folder.path)
    log.warning("force=true: moved %s aside to %s (%s)", folder.path, aside, why)


def _reopen_log_files(folder: Path) -> None:
    """Point log files of a folder just moved aside back at the folder's path.

    Hydra opened the run's log file before the run started; after the move its handler
    still writes into the moved folder. Closed, a FileHandler reopens its path on next use.
    """
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler) and Path(handler.baseFilename).is_relative_to(
            folder
        ):
            handler.close()
