"""hparams_search through the Optuna sweeper (hydra_plugins/cnn_study_optuna_sweeper): it tunes
on validation accuracy, refuses to tune without a validation split, and resumes a stopped
search without training a finished trial again."""

import csv
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import ROOT, make_dataset, run_cli, tiny_overrides


def _search(data: Path, out: Path, *extra: str, trials: int = 4, epochs: int = 2) -> list[str]:
    """A tiny hparams_search=chapter over the real configs, writing under out."""
    return [
        "cnn_study",
        "hparams_search=chapter",
        "dataset=fashion",
        *tiny_overrides(data, out),
        f"trainer.epochs={epochs}",
        "dataset.val_size=50",
        f"hydra.sweeper.n_trials={trials}",
        *extra,
    ]


def _trials(study_dir: Path) -> list[dict]:
    with (study_dir / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def test_a_search_tunes_on_validation_accuracy_through_the_parallel_launcher(tiny_data, tmp_path):
    done = run_cli(*_search(tiny_data, tmp_path, "hydra/launcher=parallel"))
    assert done.returncode == 0, done.stderr[-3000:]
    study_dir = tmp_path / "outputs" / "tune-chapter-fashion"
    trials = _trials(study_dir)
    assert [t["state"] for t in trials] == ["complete"] * 4
    values = []
    for trial in trials:
        results = json.loads((study_dir / trial["run_dir"] / "results.json").read_text())
        assert not Path(trial["run_dir"]).is_absolute()  # the record moves with its folder
        assert float(trial["value"]) == results["final_val_acc"]  # never a test number
        assert results["val_size"] == 50 and results["epochs_completed"] == 2
        values.append(results["final_val_acc"])
    best = yaml.safe_load((study_dir / "optimization_results.yaml").read_text())
    assert best["best_value"] == max(values) and best["trials_done"] == 4
    best_run = (study_dir / trials[best["best_trial"]]["run_dir"]).resolve()
    # best_overrides.txt is the recipe as a command line: with it, a plain run is the best
    # trial's run folder again, found finished.
    overrides = (study_dir / "best_overrides.txt").read_text().split()
    again = run_cli(
        "cnn_study",
        "-m",
        "study=tune-chapter-fashion",
        "dataset=fashion",
        *tiny_overrides(tiny_data, tmp_path),
        "trainer.epochs=2",
        "dataset.val_size=50",
        *overrides,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"skipped {best_run}" in again.stdout


def test_a_search_without_a_validation_split_is_refused_before_anything_trains(tiny_data, tmp_path):
    args = [a for a in _search(tiny_data, tmp_path) if a != "dataset.val_size=50"]
    done = run_cli(*args, "dataset.val_size=0")
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "val_size" in line]
    assert errors == [
        "this sweep optimises the objective, but dataset.val_size=0 leaves no validation "
        "split, and tuning on the test set would make its numbers optimistic: add "
        "dataset.val_size=10000 (or any count > 0)"
    ]
    assert "Traceback" not in done.stderr
    study_dir = tmp_path / "outputs" / "tune-chapter-fashion"
    assert not study_dir.exists() or not any(study_dir.rglob("metrics.csv"))
    assert not (study_dir / "optuna.db").exists()


def test_a_search_killed_in_its_third_trial_resumes_and_ends_with_exactly_its_budget(tmp_path):
    """SIGKILL (nothing can be cleaned up) during trial 3 of 4; the same command again keeps
    trials 1-2 untouched, resumes trial 3 from its checkpoint, runs trial 4, and stops."""
    data = tmp_path / "data"
    make_dataset(data, "FashionMNIST", train=1200, test=100)
    # One trial at a time, each long enough (4 epochs of 1,150 images) to be caught mid-way
    # on a machine 3x faster than this one.
    args = _search(data, tmp_path, "hydra.sweeper.n_jobs=1", "trainer.batch_size=16", epochs=4)
    study_dir = tmp_path / "outputs" / "tune-chapter-fashion"
    process = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    third = None
    deadline = time.monotonic() + 240
    while third is None and time.monotonic() < deadline and process.poll() is None:
        finished = [r for r in study_dir.rglob("results.json")]
        checkpoints = [c for c in study_dir.rglob("checkpoint.pt")]
        started = [c.parent for c in checkpoints if not (c.parent / "results.json").exists()]
        if len(finished) == 2 and started:
            third = started[0]
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert third is not None, f"never saw trial 3 running: {process.stderr.read()[-2000:]}"
    assert not (third / "results.json").exists(), "trial 3 finished before the kill"
    first_two = {
        p: p.stat().st_mtime_ns for p in study_dir.rglob("metrics.csv") if p.parent != third
    }
    assert len(first_two) == 2

    again = run_cli(*args, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "2 of 4 trials done, 2 to run" in again.stdout
    assert "asking for them again" in again.stdout
    # Finished trials were never trained again.
    assert {p: p.stat().st_mtime_ns for p in first_two} == first_two
    log = (third / "cnn_study.log").read_text()
    assert "resumed" in log
    epochs = [int(r["epoch"]) for r in csv.DictReader((third / "metrics.csv").open())]
    assert epochs == [1, 2, 3, 4]
    # The budget, exactly: four finished trials, the interrupted one marked as such.
    states = [t["state"] for t in _trials(study_dir)]
    assert states.count("complete") == 4 and states.count("interrupted") == 1
    rows = sqlite3.connect(study_dir / "optuna.db").execute(
        "select state, count(*) from trials group by state"
    )
    assert dict(rows) == {"COMPLETE": 4, "FAIL": 1}
    assert len(list(study_dir.rglob("results.json"))) == 4
    # And a third run of the command finds nothing left to do.
    third_run = run_cli(*args)
    assert third_run.returncode == 0 and "4 of 4 trials done, 0 to run" in third_run.stdout


def test_a_pruned_trial_stops_early_is_never_retrained_and_is_not_a_finished_run(
    tiny_data, tmp_path
):
    """A pruner that stops every trial after its second epoch (accuracy is never above 1.1):
    each trial stops there with its checkpoint, trials.csv and its folder say so, a rerun
    trains nothing, and the analysis counts none of them as finished."""
    args = _search(
        tiny_data,
        tmp_path,
        "hydra.sweeper.n_jobs=1",
        "hydra/sweeper/pruner=threshold",
        "hydra.sweeper.pruner.lower=1.1",
        "hydra.sweeper.pruner.n_warmup_steps=2",
        trials=3,
        epochs=4,
    )
    done = run_cli(*args)
    assert done.returncode == 0, done.stderr[-3000:]
    study_dir = tmp_path / "outputs" / "tune-chapter-fashion"
    trials = _trials(study_dir)
    assert [(t["state"], t["pruned_at_epoch"]) for t in trials] == [("pruned", "2")] * 3
    for trial in trials:
        folder = study_dir / trial["run_dir"]
        epochs = [int(r["epoch"]) for r in csv.DictReader((folder / "metrics.csv").open())]
        assert epochs == [1, 2]  # of 4
        results = json.loads((folder / "results.json").read_text())
        assert results["pruned_at_epoch"] == 2 and results["epochs_completed"] == 2
        assert float(trial["value"]) == results["final_val_acc"]  # its last report
        assert (folder / "checkpoint.pt").is_file()
        assert "pruned after epoch 2 of 4" in (folder / "cnn_study.log").read_text()
    mtimes = {p: p.stat().st_mtime_ns for p in study_dir.rglob("metrics.csv")}

    again = run_cli(*args)
    assert again.returncode == 0 and "3 of 3 trials done, 0 to run" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes

    from cnn_study.analysis.collect import collect

    runs = collect([study_dir]).runs
    assert len(runs) == 3 and set(runs["status"]) == {"pruned"}  # not failed, not complete


def test_a_search_with_a_test_set_objective_is_refused_before_anything_trains(tiny_data, tmp_path):
    done = run_cli(*_search(tiny_data, tmp_path, "objective=final_test_acc"))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    said = [line for line in done.stderr.splitlines() if "objective must be one of" in line]
    assert len(said) == 1 and "never a test one" in said[0]
    assert not list((tmp_path / "outputs").rglob("metrics.csv"))
