"""One search, several sweeper processes: through a real PostgreSQL server
(`bash scripts/postgres-local.sh start`; under CI, .ci/run starts it) and through Optuna's
journal file. Together they finish exactly n_trials; a worker killed mid-trial leaves a
trial that another one retries once its heartbeat is stale, and no live worker's trial is
ever taken. (The task is tests/apps/sphere: each trial sleeps, then answers.)"""

from __future__ import annotations

import contextlib
import csv
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

from tests.conftest import ROOT

HEARTBEAT = ["hydra.sweeper.heartbeat_interval=1"]


def _storage(kind: str, tmp_path: Path, url: str | None) -> str:
    if kind == "postgresql":
        return f"hydra.sweeper.storage={url}"
    log = tmp_path / "search.journal"
    return (
        "hydra.sweeper.storage={_target_:optuna.storages.JournalStorage,"
        "log_storage:{_target_:optuna.storages.journal.JournalFileBackend,"
        f"file_path:{log}}}}}"
    )


@pytest.fixture
def study(storage, request):
    """A study name of this test's own, deleted from the server afterwards."""
    name = f"{request.node.name.split('[')[0][-20:]}-{uuid.uuid4().hex[:8]}"
    yield name
    if storage.startswith("hydra.sweeper.storage=postgresql"):
        url = storage.split("=", 1)[1]
        with contextlib.suppress(KeyError):  # never made: the test failed before
            optuna.delete_study(study_name=name, storage=url)


@pytest.fixture
def workers():
    """Every worker a test starts is gone when it ends, whatever happened."""
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _worker(tmp_path: Path, name: str, storage: str, study: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.apps.sphere",
            "-m",
            f"hydra.sweep.dir={tmp_path}",
            f"hydra.sweep.subdir={name}-${{hydra.job.num}}",  # each worker's own trial folders
            storage,
            f"hydra.sweeper.study_name={study}",
            *HEARTBEAT,
            *extra,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _rows(tmp_path: Path, study: str) -> list[dict]:
    with (tmp_path / f"{study}.trials.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(params=["postgresql", "journal"])
def storage(request, tmp_path):
    url = request.getfixturevalue("postgres") if request.param == "postgresql" else None
    return _storage(request.param, tmp_path, url)


def test_two_workers_finish_exactly_the_budget_between_them(tmp_path, storage, study, workers):
    # A grace period no stall of a loaded machine reaches: here no trial may go stale.
    args = ("hydra.sweeper.n_trials=7", "seconds=0.5", "hydra.sweeper.grace_period=60")
    workers += [_worker(tmp_path, name, storage, study, *args) for name in ("a", "b")]
    outputs = [w.communicate(timeout=180)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    rows = _rows(tmp_path, study)
    states = [r["state"] for r in rows]
    # Exactly the budget; a trial one worker asked just after the other took the last of
    # it is "unused", never run.
    assert states.count("complete") == 7 and set(states) <= {"complete", "unused"}
    ran_by = {r["run_dir"].split("-")[0] for r in rows if r["run_dir"]}
    assert ran_by == {"a", "b"}  # both took part


def test_a_killed_workers_trial_is_retried_by_the_other_once_stale(
    tmp_path, storage, study, workers
):
    args = ("hydra.sweeper.n_trials=5", "seconds=3", "hydra.sweeper.grace_period=8")
    doomed = _worker(tmp_path, "a", storage, study, *args)
    survivor = _worker(tmp_path, "b", storage, study, *args)
    workers += [doomed, survivor]
    # Both mid-trial: each has started its first job (its folder exists), which lasts 3 s.
    deadline = time.monotonic() + 120
    while not ((tmp_path / "a-0").is_dir() and (tmp_path / "b-0").is_dir()):
        assert time.monotonic() < deadline, "the workers never started a trial"
        time.sleep(0.05)
    doomed.kill()
    doomed.wait(timeout=30)
    said = survivor.communicate(timeout=240)[0]
    assert survivor.returncode == 0, said[-3000:]
    rows = _rows(tmp_path, study)
    states = [r["state"] for r in rows]
    assert states.count("complete") == 5 and states.count("fail") == 0
    stale = [r for r in rows if r["state"] == "stale"]
    assert len(stale) >= 1  # the killed worker's trial, given up only after its grace period
    retried = {(r["x"], r["y"]) for r in rows if r["state"] == "complete"}
    assert {(r["x"], r["y"]) for r in stale} <= retried  # the same parameters, asked again
    assert "gave no sign of life for 8 s" in said
    # Never a live worker's: every trial the survivor ran completed.
    assert all(r["state"] == "complete" for r in rows if r["run_dir"].startswith("b-"))
