"""The Optuna sweeper as a user of the official hydra-optuna-sweeper meets it: the official
docs' example configs (tests/apps/sphere, whose task answers at once) run unchanged, every
sampler preset runs, a multi-objective search writes its best trade-offs, a grid ends when it is
exhausted, failures are counted per batch and never lock a search out, every mistake is one
line before anything runs, and each study in a folder keeps its own files."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, run_cli

SAMPLERS = ("tpe", "motpe", "random", "cmaes", "nsgaii", "qmc", "grid", "gp")


def sphere(out: Path, *args: str, config: str = "sphere", timeout: int = 120):
    return run_cli(
        "tests.apps.sphere",
        f"--config-name={config}",
        "-m",
        f"hydra.sweep.dir={out}",
        *args,
        timeout=timeout,
    )


def trials(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_the_official_docs_example_runs_unchanged_and_searches_its_space(tmp_path):
    done = sphere(tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = trials(tmp_path / "sphere.trials.csv")  # study_name: sphere, in another folder
    assert len(rows) == 20 and {r["state"] for r in rows} == {"complete"}
    for row in rows:
        x, y = float(row["x"]), int(row["y"])
        assert -5.5 <= x <= 5.5 and (x * 2).is_integer()  # range(-5.5, 5.5, step=0.5)
        assert y in (-5, 0, 5)
        assert float(row["value"]) == x**2 + y**2  # the value the run computed
    best = yaml.safe_load((tmp_path / "sphere.optimization_results.yaml").read_text())
    assert best["name"] == "optuna"
    assert best["best_value"] == min(float(r["value"]) for r in rows)
    assert best["best_value"] == best["best_params"]["x"] ** 2 + best["best_params"]["y"] ** 2
    closing = [line for line in done.stdout.splitlines() if "best trial" in line]
    assert len(closing) == 1 and f"value {best['best_value']}" in closing[0]


def test_every_sampler_preset_runs_a_four_trial_search(tmp_path):
    for sampler in SAMPLERS:
        out = tmp_path / sampler
        done = sphere(out, f"hydra/sweeper/sampler={sampler}", "hydra.sweeper.n_trials=4")
        assert done.returncode == 0, (sampler, done.stderr[-2000:])
        rows = trials(out / "sphere.trials.csv")
        assert [r["state"] for r in rows] == ["complete"] * 4, sampler


def test_a_two_objective_search_writes_its_best_trade_offs(tmp_path):
    done = sphere(tmp_path, "hydra.sweeper.n_trials=12", config="multi-objective")
    assert done.returncode == 0, done.stderr[-3000:]
    rows = trials(tmp_path / "multi-objective.trials.csv")
    points = [(float(r["value_0"]), float(r["value_1"])) for r in rows]
    record = yaml.safe_load((tmp_path / "multi-objective.optimization_results.yaml").read_text())
    front = [tuple(s["values"]) for s in record["solutions"]]

    def dominated(p):
        return any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)

    assert front and not any(dominated(p) for p in front)
    assert set(front) == {p for p in points if not dominated(p)}  # every trade-off, no other
    assert record["direction"] == ["minimize", "minimize"]


def test_a_grid_search_ends_when_the_grid_is_exhausted_and_a_rerun_finds_it_done(tmp_path):
    grid = [
        "hydra/sweeper/sampler=grid",
        "x=range(1, 3)",  # sweeps on the command line are searched, as in the official plugin
        "y=choice(0, 1)",
        "hydra.sweeper.n_trials=10",
        f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db",
    ]
    done = sphere(tmp_path, *grid)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-3000:]
    rows = trials(tmp_path / "sphere.trials.csv")
    assert sorted((int(r["x"]), int(r["y"])) for r in rows) == [
        (x, y) for x in (1, 2, 3) for y in (0, 1)
    ]
    again = sphere(tmp_path, *grid)
    assert again.returncode == 0 and "6 of 6 trials done, 0 to run" in again.stdout


def test_a_batch_over_the_failure_rate_stops_the_search_and_a_fixed_rerun_completes_it(tmp_path):
    args = [
        f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=2",
        "hydra.sweeper.max_failure_rate=0.25",
        "fail_job=1",  # the second trial of the first batch
    ]
    first = sphere(tmp_path, *args)
    assert first.returncode != 0
    said = [line for line in first.stderr.splitlines() if "max_failure_rate" in line]
    assert len(said) == 1 and "fix the cause and rerun the same command" in said[0]
    states = [r["state"] for r in trials(tmp_path / "sphere.trials.csv")]
    assert sorted(states) == ["complete", "fail"]  # told, then stopped after the batch

    fixed = sphere(tmp_path, *args[:-1])  # the cause fixed
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert "2 of 4 trials done, 2 to run" in fixed.stdout
    states = [r["state"] for r in trials(tmp_path / "sphere.trials.csv")]
    assert sorted(states) == ["complete", "complete", "complete", "fail"]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["hydra.sweeper.n_jobs=0"], "hydra.sweeper.n_jobs must be a whole number >= 1"),
        (["hydra.sweeper.direction=bogus"], "hydra.sweeper.direction must be minimize or"),
        (["hydra.sweeper.storage=bogus://x"], "hydra.sweeper.storage='bogus://x' cannot be opened"),
        (["hydra.sweeper.params.x='range(1,'"], "hydra.sweeper.params: "),
        (["x=tag(log, interval(0.0, 1.0))"], "`low > 0` must hold"),
        (["hydra.sweeper.max_failure_rate=2"], "max_failure_rate must be a share between 0"),
        (["hydra.sweeper.study_name='a b'"], "hydra.sweeper.study_name='a b': use letters"),
        (
            ["hydra/sweeper/pruner=threshold"],  # neither bound given
            "hydra.sweeper.pruner cannot be made: TypeError: Either lower or upper must be",
        ),
        (
            ["hydra/sweeper/sampler=grid", "x=interval(0.0, 1.0)"],
            "x: a grid search needs a finite set of values",
        ),
    ],
)
def test_each_mistake_is_one_line_before_anything_runs(tmp_path, args, says):
    done = sphere(tmp_path, *args)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    lines = [line for line in done.stderr.splitlines() if says in line]
    assert len(lines) == 1, done.stderr[-3000:]
    assert not list(tmp_path.glob("*/.hydra"))  # no trial ran


def test_a_changed_direction_on_a_stored_study_is_refused(tmp_path):
    storage = f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db"
    assert sphere(tmp_path, storage, "hydra.sweeper.n_trials=2").returncode == 0
    done = sphere(tmp_path, storage, "hydra.sweeper.n_trials=4", "hydra.sweeper.direction=maximize")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "was made with direction ['minimize'], and this command asks ['maximize']" in (
        done.stderr
    )
    assert len(trials(tmp_path / "sphere.trials.csv")) == 2  # nothing ran, nothing lost


def test_a_default_study_name_resumes_and_each_study_in_a_folder_keeps_its_files(tmp_path):
    storage = f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db"
    own = ["hydra.sweeper.study_name=null", storage]
    assert sphere(tmp_path, *own, "hydra.sweeper.n_trials=2").returncode == 0
    again = sphere(tmp_path, *own, "hydra.sweeper.n_trials=3")
    assert "2 of 3 trials done, 1 to run" in again.stdout  # the folder's name: the same study
    assert sphere(tmp_path, storage, "hydra.sweeper.n_trials=2").returncode == 0  # "sphere"
    assert len(trials(tmp_path / "trials.csv")) == 3  # the folder's own study
    assert len(trials(tmp_path / "sphere.trials.csv")) == 2
    for name in ("optimization_results.yaml", "sphere.optimization_results.yaml"):
        assert (tmp_path / name).is_file()


def test_a_stopped_search_says_so_in_trials_csv(tmp_path):
    """Ctrl-C during a trial: the trial is recorded as interrupted, the file is rewritten."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.apps.sphere",
            "-m",
            f"hydra.sweep.dir={tmp_path}",
            f"hydra.sweeper.storage=sqlite:///{tmp_path}/optuna.db",
            "seconds=30",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # SIGINT at its default, as in a terminal: a suite started in the background hands
        # its processes SIGINT ignored (tests/e2e/test_safety.py's interruptible()).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    csv_file = tmp_path / "sphere.trials.csv"
    while time.monotonic() < deadline and not (
        csv_file.is_file() and "running" in csv_file.read_text()
    ):
        time.sleep(0.05)
    try:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        process.kill()
    # The interrupted trial's parameters wait to be asked again by the next run.
    assert [r["state"] for r in trials(csv_file)] == ["interrupted", "waiting"]
