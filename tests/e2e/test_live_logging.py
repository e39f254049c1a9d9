"""Live loggers through the real command line: a parallel sweep logs every run, and a run
stopped mid-epoch and resumed reads as one curve, each epoch once, equal to metrics.csv."""

import signal
import subprocess
import sys
import time

import pytest

from cnn_study.runs import RunFolder
from tests.conftest import ROOT, run_cli, tiny_overrides
from tests.e2e.conftest import SWEEP, reference_rows

COLUMNS = ["train_loss", "train_acc", "test_loss", "test_acc", "lr"]


def tensorboard_scalars(run: RunFolder) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run.path / "tensorboard")).Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def mlflow_runs(output_dir, study="chapter5"):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{output_dir}/mlflow.db")
    experiment = client.get_experiment_by_name(study)
    return client, client.search_runs([experiment.experiment_id])


def assert_curves_equal_metrics(history: dict, run: RunFolder) -> None:
    rows = run.read_metrics()
    for column in COLUMNS:
        assert [step for step, _ in history[column]] == [r["epoch"] for r in rows], column
        assert [v for _, v in history[column]] == pytest.approx([r[column] for r in rows])


def runs_below(folder) -> list[RunFolder]:
    return [RunFolder(p.parent) for p in sorted(folder.rglob("results.json"))]


@pytest.mark.parametrize("logger", ["tensorboard", "mlflow"])
def test_a_parallel_sweep_logs_every_run(tmp_path, tiny_data, request, logger):
    pytest.importorskip(logger)
    if logger == "tensorboard":
        tmp_path = request.getfixturevalue("parallel_sweep")  # the shared sweep logs to it
    else:
        done = run_cli(
            "cnn_study",
            "-m",
            *tiny_overrides(tiny_data, tmp_path),
            *[a for a in SWEEP if not a.startswith("logger=")],
            f"logger={logger}",
        )
        assert done.returncode == 0, done.stderr
    runs = runs_below(tmp_path / "outputs")
    assert len(runs) == 4
    if logger == "tensorboard":
        for run in runs:
            assert_curves_equal_metrics(tensorboard_scalars(run), run)
        return
    client, logged = mlflow_runs(tmp_path / "outputs")
    by_name = {r.info.run_name: r for r in logged}
    assert len(by_name) == 4
    for run in runs:
        name = str(run.path.relative_to(tmp_path / "outputs"))
        mlflow_run = by_name[name]
        assert mlflow_run.info.status == "FINISHED"
        params = mlflow_run.data.params
        assert params["dataset"] in name and params["optimizer.lr"] == "0.01"
        assert params["model"] == "cnn" and params["seed"] == name[-1]
        history = {
            c: [(m.step, m.value) for m in client.get_metric_history(mlflow_run.info.run_id, c)]
            for c in COLUMNS
        }
        assert_curves_equal_metrics(history, run)
        assert mlflow_run.data.metrics["final_test_acc"] == pytest.approx(
            run.read_results()["final_test_acc"]
        )


@pytest.mark.parametrize("logger", ["tensorboard", "mlflow"])
def test_a_run_stopped_and_resumed_is_one_continuous_curve(
    tmp_path, epoch_data, reference_run, logger
):
    pytest.importorskip(logger)
    args = [
        sys.executable,
        "-m",
        "cnn_study",
        *tiny_overrides(epoch_data, tmp_path),
        "trainer.epochs=6",  # long enough to stop mid-run on a machine 3x faster
        f"logger={logger}",
    ]
    first = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while not list((tmp_path / "outputs").rglob("metrics.csv")):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    time.sleep(0.1)  # into epoch 2
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=60)
    assert first.returncode == 128 + signal.SIGTERM
    again = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resumed" in again.stdout
    (run,) = runs_below(tmp_path / "outputs")
    if logger == "tensorboard":
        history = tensorboard_scalars(run)
    else:
        client, (logged,) = mlflow_runs(tmp_path / "outputs")
        history = {
            c: [(m.step, m.value) for m in client.get_metric_history(logged.info.run_id, c)]
            for c in COLUMNS
        }
        assert logged.info.status == "FINISHED"
    assert_curves_equal_metrics(history, run)  # epochs 1-6, each once
    # and those are the epochs of a run never stopped
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in run.read_metrics()] == (
        reference_rows(reference_run, 6)
    )
