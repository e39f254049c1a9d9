"""The expensive set-ups of the end-to-end tests, made once per session and shared.

- `epoch_data`: generated data big enough for an epoch to last about a second on one thread,
  so that a test has time to act on a running run (signals, locks, requeues).
- `reference_run`: the uninterrupted run of that data that a stopped, requeued or resumed
  run must end up equal to (the signal, live-logging and SLURM tests).
- `parallel_sweep`: a finished parallel sweep of both datasets over two seeds, logged to
  TensorBoard (the CLI, analysis and live-logging tests read it; none of them writes to it).

Every test in this folder is marked slow (tests/conftest.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cnn_study.runs import RunFolder
from tests.conftest import ROOT, make_dataset, run_cli, tiny_overrides

# The reference run's length: the SLURM requeue test needs this many epochs (a job still
# running well after it is requeued in its third epoch); shorter runs compare with its first
# epochs, which do not depend on how many follow (tests/unit/test_experiment.py checks it).
REFERENCE_EPOCHS = 16


@pytest.fixture(scope="session")
def epoch_data(tmp_path_factory) -> Path:
    """An MNIST look-alike of 4,000 training images: about a second an epoch on one thread."""
    root = tmp_path_factory.mktemp("epoch_data")
    make_dataset(root, "MNIST", train=4000, test=500)
    return root


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, epoch_data) -> RunFolder:
    """The run of epoch_data, REFERENCE_EPOCHS epochs, never interrupted."""
    tmp = tmp_path_factory.mktemp("reference")
    done = run_cli(
        "cnn_study", *tiny_overrides(epoch_data, tmp), f"trainer.epochs={REFERENCE_EPOCHS}"
    )
    assert done.returncode == 0, done.stderr[-4000:]
    (folder,) = {p.parent for p in (tmp / "outputs").rglob("results.json")}
    return RunFolder(folder)


def reference_rows(reference: RunFolder, epochs: int) -> list[dict]:
    """The reference's first epochs, without their times: what a run of `epochs` epochs of
    the same data and seed must write, however it was stopped and resumed."""
    rows = reference.read_metrics()[:epochs]
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


# The shared sweep's command, after the tiny overrides: rerunning it finds every run finished.
SWEEP = ["hydra/launcher=parallel", "logger=tensorboard", "dataset=mnist,fashion", "seed=0,1"]


@pytest.fixture(scope="session")
def parallel_sweep(tmp_path_factory, tiny_data) -> Path:
    """A folder holding outputs/ of a finished parallel sweep: 2 datasets x 2 seeds, 2 epochs
    each, logged to TensorBoard. Tests that share it only read it (or rerun it, which must
    change nothing)."""
    tmp = tmp_path_factory.mktemp("sweep")
    done = sweep_cli(tmp, tiny_data)
    assert done.returncode == 0, done.stderr[-4000:]
    return tmp


def sweep_cli(tmp: Path, data: Path) -> subprocess.CompletedProcess:
    """The shared sweep's command line, as a user types it."""
    return run_cli("cnn_study", "-m", *tiny_overrides(data, tmp), *SWEEP)


def postgres_url() -> str:
    """The storage URL of the server scripts/postgres-local.sh starts."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres-local.sh"), "url"], capture_output=True, text=True
    )
    return done.stdout.strip()


@pytest.fixture(scope="session")
def postgres() -> str:
    """A PostgreSQL server that answers (`bash scripts/postgres-local.sh start`), or a skip
    (under CI=true, a failure: tests/ci.py)."""
    url = postgres_url()
    try:
        import sqlalchemy

        sqlalchemy.create_engine(url).connect().close()
    except Exception as exc:
        pytest.skip(
            f"no PostgreSQL server at {url} ({type(exc).__name__}): start one with "
            "`bash scripts/postgres-local.sh start`"
        )
    return url
