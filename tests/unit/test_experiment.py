"""One run, in process: its files, determinism, resume, skip, conflicts and failures."""

import csv
import json

import pytest
import torch

from cnn_study import experiment
from cnn_study.errors import RunFailed, StudyError
from cnn_study.results import RESULT_KEYS, VALIDATION_KEYS
from cnn_study.runs import METRICS_COLUMNS, RunFolder
from tests.conftest import compose_config, make_dataset, tiny_overrides


def read_metrics(run_dir):
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def without_time(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def test_a_run_writes_metrics_results_and_its_config(make_cfg, tmp_path):
    cfg = make_cfg("dataset=fashion", "seed=4")
    results = experiment.run(cfg, tmp_path / "run")
    rows = read_metrics(tmp_path / "run")
    assert list(rows[0]) == METRICS_COLUMNS and [r["epoch"] for r in rows] == ["1", "2"]
    on_disk = json.loads((tmp_path / "run" / "results.json").read_text())
    assert on_disk == results
    assert set(results) == RESULT_KEYS  # the schema the analysis reads (no validation split)
    assert results["dataset"] == "fashion" and results["seed"] == 4
    assert results["final_test_acc"] == float(rows[-1]["test_acc"])
    assert 0 <= results["final_test_acc"] <= 1 and results["parameters"] == 21_840
    assert results["best_test_acc"] == max(float(r["test_acc"]) for r in rows)
    confusion = torch.tensor(results["confusion_matrix"])
    assert confusion.sum() == results["test_size"] == 100
    assert results["final_test_acc"] == pytest.approx(confusion.diag().sum().item() / 100)
    assert list(results["per_class_test_acc"]) == list(cfg.dataset.classes)
    for i, accuracy in enumerate(results["per_class_test_acc"].values()):  # rows: true class
        assert accuracy == pytest.approx(confusion[i, i].item() / confusion[i].sum().item())
    assert results["device"] == "cpu" and results["launcher"] == "basic"
    assert results["torch"] == torch.__version__ and results["host"]
    assert results["train_seconds"] == pytest.approx(sum(float(r["seconds"]) for r in rows))
    saved = (tmp_path / "run" / ".hydra" / "config.yaml").read_text()
    assert "name: fashion" in saved and "${" not in saved  # resolved, as it ran


def test_what_the_analysis_and_loggers_read_is_in_the_results_schema():
    from cnn_study.analysis.collect import RESULT_FIELDS
    from cnn_study.loggers import FINAL_METRICS

    schema = RESULT_KEYS | VALIDATION_KEYS
    assert set(RESULT_FIELDS) - schema == set(), "add them to cnn_study/results.py"
    assert set(FINAL_METRICS) - schema == set(), "add them to cnn_study/results.py"


def test_same_config_and_seed_give_identical_numbers(make_cfg, tmp_path):
    experiment.run(make_cfg("seed=1"), tmp_path / "a")
    experiment.run(make_cfg("seed=1"), tmp_path / "b")
    experiment.run(make_cfg("seed=2"), tmp_path / "c")
    a, b, c = (without_time(read_metrics(tmp_path / x)) for x in "abc")
    assert a == b
    assert a != c


class Interrupted(Exception):
    pass


def test_an_interrupted_run_resumes_exactly(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg("trainer.epochs=4", "seed=3")
    experiment.run(cfg, tmp_path / "whole")

    real_train_epoch = experiment.train_epoch
    calls = {"n": 0}

    def stop_in_epoch_3(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Interrupted("killed during epoch 3")
        return real_train_epoch(*args, **kwargs)

    monkeypatch.setattr(experiment, "train_epoch", stop_in_epoch_3)
    with pytest.raises(RunFailed) as failed:
        experiment.run(cfg, tmp_path / "resumed")
    assert isinstance(failed.value.cause, Interrupted)
    assert failed.value.failure_file == tmp_path / "resumed" / "failure.json"
    assert len(read_metrics(tmp_path / "resumed")) == 2
    assert not (tmp_path / "resumed" / "results.json").exists()
    assert json.loads((tmp_path / "resumed" / "failure.json").read_text())["type"] == "Interrupted"

    monkeypatch.setattr(experiment, "train_epoch", real_train_epoch)
    experiment.run(cfg, tmp_path / "resumed")
    assert without_time(read_metrics(tmp_path / "resumed")) == without_time(
        read_metrics(tmp_path / "whole")
    )
    whole = RunFolder(tmp_path / "whole").load_checkpoint()["model"]
    resumed = RunFolder(tmp_path / "resumed").load_checkpoint()["model"]
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    # the earlier failure is kept under a dated name, not lost
    assert list((tmp_path / "resumed").glob("failure.*.json"))


def test_a_pruned_run_stops_at_its_epoch_is_done_for_a_search_and_resumed_by_a_plain_run(
    make_cfg, tmp_path, monkeypatch
):
    cfg = make_cfg("trainer.epochs=4", "seed=3")
    experiment.run(cfg, tmp_path / "whole")
    asked = []

    def after_epoch_2(history):
        asked.append(len(history))
        return len(history) == 2

    never = []
    experiment.run(cfg, tmp_path / "unpruned", should_stop=lambda h: never.append(len(h)))
    assert never == [1, 2, 3]  # asked after each epoch but the last: nothing left to save
    pruned = experiment.run(cfg, tmp_path / "pruned", should_stop=after_epoch_2)
    assert asked == [1, 2]
    assert pruned["pruned_at_epoch"] == 2 and pruned["epochs_completed"] == 2
    folder = RunFolder(tmp_path / "pruned")
    assert folder.status().state == "pruned" and len(folder.read_metrics()) == 2
    assert folder.load_checkpoint()["epoch"] == 2

    # A search finds it done: nothing is trained again.
    monkeypatch.setattr(experiment, "train_epoch", lambda *a, **k: pytest.fail("retrained"))
    assert experiment.run(cfg, folder.path, should_stop=lambda h: False) == pruned
    monkeypatch.undo()
    # A plain run trains on from the checkpoint to the run it would have been.
    finished = experiment.run(cfg, folder.path)
    assert "pruned_at_epoch" not in finished and folder.status().state == "complete"
    assert without_time(read_metrics(folder.path)) == without_time(read_metrics(tmp_path / "whole"))


def test_metrics_after_the_checkpoint_are_dropped_on_resume(make_cfg, tmp_path):
    cfg = make_cfg("trainer.epochs=3")
    folder = RunFolder(tmp_path / "run")
    experiment.run(cfg, folder.path)
    # Simulate a crash after epoch 3's metrics but with epoch 2's checkpoint on disk.
    rows = folder.read_metrics()
    (folder.path / "results.json").unlink()
    experiment.run(make_cfg("trainer.epochs=2"), tmp_path / "two")
    # A run's first epochs do not depend on how many follow (with the default constant rate):
    # the end-to-end tests compare shorter runs with a longer reference run's first epochs.
    assert without_time(RunFolder(tmp_path / "two").read_metrics()) == without_time(rows[:2])
    folder.save_checkpoint(RunFolder(tmp_path / "two").load_checkpoint())
    experiment.run(cfg, folder.path)
    again = folder.read_metrics()
    assert [r["epoch"] for r in again] == [1, 2, 3]
    assert without_time(again) == without_time(rows)


def test_a_finished_run_is_skipped(make_cfg, tmp_path, monkeypatch, caplog):
    cfg = make_cfg()
    first = experiment.run(cfg, tmp_path / "run")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.is_file()}
    monkeypatch.setattr(experiment, "train_epoch", lambda *a, **k: pytest.fail("retrained"))
    with caplog.at_level("INFO"):
        assert experiment.run(cfg, tmp_path / "run") == first
    assert "skipped" in caplog.text and "already finished" in caplog.text
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert after == before


def test_a_finished_run_with_only_incidental_changes_is_still_skipped(
    make_cfg, tmp_path, monkeypatch
):
    experiment.run(make_cfg(), tmp_path / "run")
    monkeypatch.setattr(experiment, "train_epoch", lambda *a, **k: pytest.fail("retrained"))
    experiment.run(make_cfg("trainer.eval_batch_size=7", "trainer.num_threads=2"), tmp_path / "run")


def test_another_config_in_the_folder_is_named_and_nothing_is_touched(make_cfg, tmp_path):
    experiment.run(make_cfg(), tmp_path / "run")
    before = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    with pytest.raises(StudyError) as err:
        experiment.run(make_cfg("optimizer.lr=0.5", "model.hidden_units=30"), tmp_path / "run")
    message = str(err.value)
    assert "model.hidden_units" in message and "optimizer.lr" in message and "force=true" in message
    after = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    assert after == before


def test_force_moves_the_old_run_aside_and_starts_anew(make_cfg, tmp_path, caplog):
    experiment.run(make_cfg(), tmp_path / "run")
    old = (tmp_path / "run" / "results.json").read_text()
    with caplog.at_level("WARNING"):
        experiment.run(make_cfg("optimizer.lr=0.05", "force=true"), tmp_path / "run")
    # the reason, without the fix that force=true has just applied
    (line,) = [r.getMessage() for r in caplog.records if "force=true: moved" in r.getMessage()]
    assert line.endswith("(differs in: optimizer.lr))") and "rerun" not in line
    aside = list(tmp_path.glob(".run.replaced-*"))
    assert len(aside) == 1 and (aside[0] / "results.json").read_text() == old
    assert (
        json.loads((tmp_path / "run" / "results.json").read_text())["config"]["optimizer"]["lr"]
        == 0.05
    )


def test_a_failing_run_records_its_error(make_cfg, tmp_path):
    with pytest.raises(RunFailed, match="data not found") as failed:
        experiment.run(make_cfg("paths.data_dir=/nonexistent"), tmp_path / "run")
    assert isinstance(failed.value.cause, StudyError)  # the CLI prints it as one line
    assert failed.value.failure_file == tmp_path / "run" / "failure.json"
    failure = json.loads((tmp_path / "run" / "failure.json").read_text())
    assert "data not found" in failure["error"] and failure["time"] and failure["traceback"]


def test_invalid_config_stops_before_any_file_is_written(make_cfg, tmp_path):
    with pytest.raises(StudyError, match="trainer.batch_size"):
        experiment.run(make_cfg("trainer.batch_size=0"), tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_a_tampered_checkpoint_is_refused_not_executed(make_cfg, tmp_path, capsys):
    cfg = make_cfg("trainer.epochs=3")
    experiment.run(make_cfg("trainer.epochs=3"), tmp_path / "run")
    (tmp_path / "run" / "results.json").unlink()

    class Payload:
        def __reduce__(self):
            return (print, ("code ran",))

    import pickle

    (tmp_path / "run" / "checkpoint.pt").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(StudyError, match="checkpoint.pt cannot be loaded .*force=true"):
        experiment.run(cfg, tmp_path / "run")
    assert "code ran" not in capsys.readouterr().out


def test_a_cosine_schedule_resumes_exactly(make_cfg, tmp_path, monkeypatch):
    import math

    cfg = make_cfg("trainer.epochs=4", "scheduler=cosine", "seed=5")
    experiment.run(cfg, tmp_path / "whole")
    real = experiment.train_epoch
    trained = []

    def stop_in_epoch_3(*args, **kwargs):
        trained.append(1)
        if len(trained) == 3:
            raise Interrupted("killed during epoch 3")
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "train_epoch", stop_in_epoch_3)
    with pytest.raises(RunFailed):
        experiment.run(cfg, tmp_path / "resumed")
    trained.clear()
    monkeypatch.setattr(
        experiment, "train_epoch", lambda *a, **k: trained.append(1) or real(*a, **k)
    )
    experiment.run(cfg, tmp_path / "resumed")
    assert len(trained) == 2  # epochs 3 and 4: it resumed
    whole, resumed = read_metrics(tmp_path / "whole"), read_metrics(tmp_path / "resumed")
    assert without_time(resumed) == without_time(whole)
    lrs = [float(r["lr"]) for r in whole]
    assert lrs == pytest.approx([0.01 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])


def test_training_learns_generated_data_well_above_chance(tmp_path):
    data = tmp_path / "data"
    make_dataset(data, "MNIST", train=1000, test=300, seed=5)
    cfg = compose_config(
        *tiny_overrides(data, tmp_path), "trainer.epochs=3", "trainer.batch_size=64"
    )
    results = experiment.run(cfg, tmp_path / "run")
    # chance is 0.1; the chapter's slow SGD measured 0.60 here after 3 epochs of 1,000 images
    assert results["final_test_acc"] >= 0.5
    losses = [row["train_loss"] for row in RunFolder(tmp_path / "run").read_metrics()]
    assert losses[0] > losses[1] > losses[2]
