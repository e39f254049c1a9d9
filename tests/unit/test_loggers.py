"""Live loggers, read back through the backends' own readers.

The trainer is simulated by calling open_logger / log_epoch / log_final / close with fake rows;
a "crash" is a session dropped without close, after its last checkpointed epoch went unlogged.
"""

from __future__ import annotations

import logging
import socket
import sys
import time
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from cnn_study.errors import StudyError
from cnn_study.loggers import EPOCH_METRICS, check_available, open_logger
from tests.conftest import compose_config

# MLflow's SQLite store trips a deprecation inside SQLAlchemy 2.1; not this project's to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RUN_NAME = "grid/mnist/cnn/sgd/seed=0"
HPARAMS = {
    "study": "grid",
    "dataset": "mnist",
    "model": "cnn",
    "optimizer": "sgd",
    "optimizer.lr": 0.01,
    "optimizer.momentum": 0.5,
    "optimizer.nesterov": False,
    "optimizer.betas": [0.9, 0.999],  # not a plain value: logged as its text
    "scheduler": "none",
    "epochs": 5,
    "batch_size": 64,
    "seed": 0,
}
ROWS = [
    {
        "epoch": epoch,
        "train_loss": 2.0 / epoch,
        "train_acc": 0.5 + epoch / 20,
        "test_loss": 1.9 / epoch,
        "test_acc": 0.55 + epoch / 25,
        "lr": 0.01 / epoch,
        "seconds": 7.0 + epoch / 10,
    }
    for epoch in range(1, 6)
]
RESULTS = {
    "final_test_acc": ROWS[-1]["test_acc"],
    "best_test_acc": ROWS[-1]["test_acc"],
    "final_test_loss": ROWS[-1]["test_loss"],
    "final_train_acc": ROWS[-1]["train_acc"],
    "parameters": 21840,
    "confusion_matrix": [[1, 0], [0, 1]],  # results hold more than a logger takes
}


def run_session(cfg, run_dir: Path, history: list, rows: list, finish: bool) -> None:
    """One session of the trainer: open with history, log rows; close only when it finishes."""
    logger = open_logger(cfg, run_dir, RUN_NAME, HPARAMS, history)
    for row in rows:
        logger.log_epoch(row)
    if finish:
        logger.log_final(RESULTS)
        logger.close()


def run_killed_then_resumed(cfg, run_dir: Path) -> None:
    """Killed after epoch 4 was checkpointed but before it was logged; then resumed."""
    run_session(cfg, run_dir, history=[], rows=ROWS[:3], finish=False)
    time.sleep(1.1)  # event files are named by the second: the resumed session's sorts later
    run_session(cfg, run_dir, history=ROWS[:4], rows=ROWS[4:], finish=True)


def logger_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "cnn_study.loggers"]


# --- check_available and the config group ----------------------------------------------------
@pytest.mark.parametrize(
    ("backend", "module"), [("tensorboard", "torch.utils.tensorboard"), ("mlflow", "mlflow")]
)
def test_a_missing_package_is_named_with_its_install_command(monkeypatch, backend, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(StudyError) as raised:
        check_available({"backend": backend})
    message = str(raised.value)
    assert "\n" not in message
    assert f'pip install "cnn-study[{backend}]"' in message
    assert f"pip install {backend}" in message


def test_an_unknown_backend_is_an_error():
    with pytest.raises(StudyError, match="logger=none, logger=tensorboard or logger=mlflow"):
        check_available({"backend": "wandb"})


def test_the_config_group_composes(tmp_path):
    root = f"paths.output_dir={tmp_path}"
    assert compose_config(root).logger.backend == "none"
    tensorboard = compose_config(root, "logger=tensorboard").logger
    assert OmegaConf.to_container(tensorboard) == {"backend": "tensorboard", "log_dir": None}
    mlflow = compose_config(root, "logger=mlflow", "study=grid").logger
    assert mlflow.tracking_uri == f"sqlite:///{tmp_path}/mlflow.db"
    assert mlflow.experiment_name == "grid"


def test_backend_none_does_nothing(tmp_path):
    run_session({"backend": "none"}, tmp_path, history=ROWS[:2], rows=ROWS[2:], finish=True)
    assert list(tmp_path.iterdir()) == []


# --- TensorBoard -------------------------------------------------------------------------------
@pytest.fixture
def tensorboard_run(tmp_path):
    """A function reading a TensorBoard run folder back: (accumulator, scalars by tag)."""
    pytest.importorskip("tensorboard", reason="logger=tensorboard needs tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def read(folder: Path):
        events = EventAccumulator(str(folder)).Reload()
        scalars = {tag: events.Scalars(tag) for tag in events.Tags()["scalars"]}
        return events, scalars

    return read


def assert_epochs_match(scalars, rows) -> None:
    for key in (k for k in EPOCH_METRICS if k in rows[0]):  # val_* only with a split
        assert [s.step for s in scalars[key]] == [row["epoch"] for row in rows], key
        assert [s.value for s in scalars[key]] == pytest.approx([row[key] for row in rows]), key


def test_tensorboard_logs_epochs_final_metrics_and_hparams(tmp_path, tensorboard_run):
    from tensorboard.plugins.hparams import metadata

    run_session({"backend": "tensorboard", "log_dir": None}, tmp_path, [], ROWS, finish=True)

    folder = tmp_path / "tensorboard"
    assert [p for p in folder.iterdir() if p.is_dir()] == []  # no add_hparams sub-run
    events, scalars = tensorboard_run(folder)
    assert_epochs_match(scalars, ROWS)
    for key in ("final_test_acc", "best_test_acc", "final_test_loss", "final_train_acc"):
        assert [(s.step, s.value) for s in scalars[key]] == [(5, pytest.approx(RESULTS[key]))]
    assert scalars["parameters"][0].value == 21840

    summaries = events.PluginTagToContent(metadata.PLUGIN_NAME)
    assert metadata.EXPERIMENT_TAG not in summaries  # TensorBoard infers it over all runs
    start = metadata.parse_session_start_info_plugin_data(
        summaries[metadata.SESSION_START_INFO_TAG]
    )
    assert start.hparams["optimizer.lr"].number_value == pytest.approx(0.01)
    assert start.hparams["dataset"].string_value == "mnist"
    assert start.hparams["optimizer.betas"].string_value == "[0.9, 0.999]"
    assert metadata.SESSION_END_INFO_TAG in summaries


def test_tensorboard_log_dir_holds_each_run_under_its_name(tmp_path, tensorboard_run):
    cfg = {"backend": "tensorboard", "log_dir": str(tmp_path / "tb")}
    run_session(cfg, tmp_path / "run", [], ROWS[:2], finish=True)
    _, scalars = tensorboard_run(tmp_path / "tb" / RUN_NAME)
    assert_epochs_match(scalars, ROWS[:2])


def test_a_resumed_tensorboard_run_is_one_curve(tmp_path, tensorboard_run):
    run_killed_then_resumed({"backend": "tensorboard", "log_dir": None}, tmp_path)
    _, scalars = tensorboard_run(tmp_path / "tensorboard")
    assert_epochs_match(scalars, ROWS)  # epoch 4 once, nothing twice


# --- MLflow ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory) -> str:
    """One SQLite store for the module: creating one takes seconds (MLflow's migrations)."""
    pytest.importorskip("mlflow", reason="logger=mlflow needs mlflow")
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow')}/mlflow.db"


@pytest.fixture
def mlflow_cfg(mlflow_store, request):
    """logger=mlflow with an experiment of the test's own in the shared store."""
    return {"backend": "mlflow", "tracking_uri": mlflow_store, "experiment_name": request.node.name}


def only_run(cfg):
    """The one MLflow run of the experiment, and a client to query it."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=cfg["tracking_uri"])
    experiment = client.get_experiment_by_name(cfg["experiment_name"])
    runs = client.search_runs([experiment.experiment_id])
    assert len(runs) == 1
    return client, runs[0]


def assert_mlflow_epochs_match(client, run, rows) -> None:
    for key in (k for k in EPOCH_METRICS if k in rows[0]):
        history = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in history] == [row["epoch"] for row in rows], key
        assert [m.value for m in history] == pytest.approx([row[key] for row in rows]), key


def test_mlflow_logs_params_epochs_and_final_metrics(tmp_path, mlflow_cfg):
    run_session(mlflow_cfg, tmp_path, [], ROWS, finish=True)

    client, run = only_run(mlflow_cfg)
    assert run.info.run_name == RUN_NAME
    assert run.info.status == "FINISHED"
    assert run.data.params["optimizer.lr"] == "0.01"
    assert run.data.params["optimizer.betas"] == "[0.9, 0.999]"
    assert run.data.params["study"] == "grid"
    assert run.data.tags["run_dir"] == str(tmp_path)
    for key in ("final_test_acc", "best_test_acc", "final_test_loss", "final_train_acc"):
        assert run.data.metrics[key] == pytest.approx(RESULTS[key])
    assert run.data.metrics["parameters"] == 21840
    assert_mlflow_epochs_match(client, run, ROWS)


def test_a_resumed_mlflow_run_continues_the_same_run(tmp_path, mlflow_cfg):
    run_killed_then_resumed(mlflow_cfg, tmp_path)

    client, run = only_run(mlflow_cfg)  # one run, not one per session
    assert run.info.status == "FINISHED"
    assert_mlflow_epochs_match(client, run, ROWS)  # epoch 4 once, nothing twice
    assert (tmp_path / "logger.json").is_file()


def test_a_run_resumed_after_logging_elsewhere_gets_all_its_epochs(tmp_path, mlflow_cfg):
    run_session({"backend": "none"}, tmp_path, [], ROWS[:3], finish=False)
    run_session(mlflow_cfg, tmp_path, history=ROWS[:3], rows=ROWS[3:], finish=True)
    client, run = only_run(mlflow_cfg)
    assert_mlflow_epochs_match(client, run, ROWS)


# --- failures ----------------------------------------------------------------------------------
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def broken_configs(tmp_path: Path):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    yield "tensorboard", {"backend": "tensorboard", "log_dir": str(a_file)}
    yield "mlflow", {"backend": "mlflow", "tracking_uri": f"http://127.0.0.1:{closed_port()}"}
    yield "mlflow", {"backend": "mlflow", "tracking_uri": f"sqlite:///{a_file}/mlflow.db"}


def test_a_failing_backend_warns_once_and_never_raises(tmp_path, caplog, capfd):
    pytest.importorskip("tensorboard", reason="logger=tensorboard needs tensorboard")
    pytest.importorskip("mlflow", reason="logger=mlflow needs mlflow")
    for backend, cfg in broken_configs(tmp_path):
        caplog.clear()
        started = time.perf_counter()
        with caplog.at_level(logging.WARNING):
            run_session(cfg, tmp_path / "run", ROWS[:2], ROWS[2:], finish=True)
        assert time.perf_counter() - started < 20, cfg  # a dead server must not stall the run
        (warning,) = [r.getMessage() for r in caplog.records]  # urllib3's retries are quiet
        assert warning.startswith(f"logger={backend} failed (") and "\n" not in warning
        assert "WARNING" not in capfd.readouterr().err  # nor does MLflow's own handler warn


def test_a_backend_failing_mid_run_is_turned_off(tmp_path, caplog, tensorboard_run):
    from torch.utils.tensorboard import SummaryWriter

    logger = open_logger({"backend": "tensorboard"}, tmp_path, RUN_NAME, HPARAMS, [])
    logger.log_epoch(ROWS[0])

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with pytest.MonkeyPatch.context() as patch, caplog.at_level(logging.WARNING):
        patch.setattr(SummaryWriter, "add_scalar", disk_full)
        for row in ROWS[1:]:
            logger.log_epoch(row)
        logger.log_final(RESULTS)
        logger.close()
    (warning,) = logger_warnings(caplog)
    assert "No space left on device" in warning
    _, scalars = tensorboard_run(tmp_path / "tensorboard")
    assert_epochs_match(scalars, ROWS[:1])
