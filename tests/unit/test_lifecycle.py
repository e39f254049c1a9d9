"""A run folder's fate, in process: force=true that keeps a job's own progress, a resume that
trains only what is missing, and a failing write that leaves the last checkpoint intact.
(The same through the command line, with real signals and locks: tests/e2e/test_safety.py.)"""

import errno
import os

import pytest

from cnn_study import experiment, fileio
from cnn_study.errors import RunFailed, StudyError
from cnn_study.runs import RunFolder


def without_time(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


# --- force=true keeps a job's own progress ------------------------------------------------------


class Killed(Exception):
    pass


def interrupt_in_epoch(monkeypatch, n):
    """Make training raise in epoch n; return the list of epochs trained (counted)."""
    real = experiment.train_epoch
    trained = []

    def train_epoch(*args, **kwargs):
        trained.append(len(trained) + 1)
        if len(trained) == n:
            raise Killed(f"killed in epoch {n}")
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "train_epoch", train_epoch)
    return trained


def count_epochs(monkeypatch):
    real = experiment.train_epoch
    trained = []

    def train_epoch(*args, **kwargs):
        trained.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "train_epoch", train_epoch)
    return trained


def test_a_requeued_force_job_resumes_its_own_progress(make_cfg, tmp_path, monkeypatch, caplog):
    cfg = make_cfg("trainer.epochs=4", "seed=2", "force=true")
    experiment.run(make_cfg("trainer.epochs=4", "seed=2"), tmp_path / "whole")
    interrupt_in_epoch(monkeypatch, 3)
    with pytest.raises(RunFailed, match="killed in epoch 3"):
        experiment.run(cfg, tmp_path / "run")
    trained = count_epochs(monkeypatch)
    with caplog.at_level("INFO"):
        experiment.run(cfg, tmp_path / "run")  # the requeue: same job, force=true again
    assert len(trained) == 2  # epochs 3 and 4 only: it resumed, it did not start over
    assert "resumed" in caplog.text and "moved" not in caplog.text
    assert not list(tmp_path.glob(".run.replaced-*"))
    assert without_time(RunFolder(tmp_path / "run").read_metrics()) == without_time(
        RunFolder(tmp_path / "whole").read_metrics()
    )


def test_force_on_a_run_finished_by_the_same_slurm_job_keeps_it(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg("force=true")
    job = experiment.Launch(launcher="slurm", job_id="1234_0")
    first = experiment.run(cfg, tmp_path / "run", job)
    trained = count_epochs(monkeypatch)
    assert experiment.run(cfg, tmp_path / "run", job) == first  # requeued after it finished
    assert trained == [] and not list(tmp_path.glob(".run.replaced-*"))
    experiment.run(cfg, tmp_path / "run", experiment.Launch(job_id="9999"))  # another job
    assert len(trained) == 2 and len(list(tmp_path.glob(".run.replaced-*"))) == 1


def test_force_moves_an_unreadable_checkpoint_aside(make_cfg, tmp_path, caplog):
    experiment.run(make_cfg("trainer.epochs=3"), tmp_path / "run")
    (tmp_path / "run" / "results.json").unlink()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(StudyError, match="cannot be loaded .*: rerun with force=true"):
        experiment.run(make_cfg("trainer.epochs=3"), tmp_path / "run")
    with caplog.at_level("WARNING"):
        experiment.run(make_cfg("trainer.epochs=3", "force=true"), tmp_path / "run")
    assert "checkpoint.pt cannot be loaded (UnpicklingError))" in caplog.text
    assert "rerun with force=true" not in caplog.text
    assert RunFolder(tmp_path / "run").is_finished()
    (aside,) = tmp_path.glob(".run.replaced-*")
    assert (aside / "checkpoint.pt").read_bytes() == b"not a checkpoint"


# --- a resume really resumes ---------------------------------------------------------------------


def test_resume_trains_only_the_missing_epochs(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg("trainer.epochs=5", "seed=1")
    interrupt_in_epoch(monkeypatch, 4)
    with pytest.raises(RunFailed, match="killed in epoch 4"):
        experiment.run(cfg, tmp_path / "run")
    assert RunFolder(tmp_path / "run").load_checkpoint()["epoch"] == 3
    trained = count_epochs(monkeypatch)
    experiment.run(cfg, tmp_path / "run")
    assert len(trained) == 2  # epochs 4 and 5


# --- a full disk, simulated (the real one: tests/e2e/test_safety.py) ----------------------


def test_a_failing_write_leaves_the_checkpoint_and_no_temporary_file(
    make_cfg, tmp_path, monkeypatch
):
    cfg = make_cfg("trainer.epochs=3")
    real_fsync = os.fsync
    calls = {"checkpoints": 0}

    def fsync_full_on_second_checkpoint(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp") and "checkpoint" in os.readlink(
            f"/proc/self/fd/{fd}"
        ):
            calls["checkpoints"] += 1
            if calls["checkpoints"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(fileio.os, "fsync", fsync_full_on_second_checkpoint)
    with pytest.raises(RunFailed) as err:
        experiment.run(cfg, tmp_path / "run")
    assert isinstance(err.value.cause, StudyError)
    message = str(err.value)
    assert "\n" not in message and "No space left on device" in message
    assert "checkpoint.pt" in message and "rerun the same command" in message
    folder = RunFolder(tmp_path / "run")
    assert not list(folder.path.glob(".*.tmp"))
    assert folder.load_checkpoint()["epoch"] == 1
    monkeypatch.setattr(fileio.os, "fsync", real_fsync)
    trained = count_epochs(monkeypatch)
    experiment.run(cfg, tmp_path / "run")
    assert len(trained) == 2 and folder.is_finished()
