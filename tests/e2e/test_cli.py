"""The command line as a user types it: sweeps, re-runs, failures and bad input."""

import json
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT, make_dataset, run_cli, tiny_overrides
from tests.e2e.conftest import sweep_cli


def study(tmp_path, data_dir, *args):
    """The tiny run's overrides first, so that the test's own arguments win."""
    flags = [a for a in args if a.startswith("-")]
    overrides = [a for a in args if not a.startswith("-")]
    return run_cli("cnn_study", *flags, *tiny_overrides(data_dir, tmp_path), *overrides)


def run_folders(tmp_path):
    return sorted(p.parent for p in (tmp_path / "outputs").rglob("results.json"))


def snapshot(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file() and p.suffix != ".log"}


def test_sweep_writes_one_folder_per_run_then_skips_on_rerun(parallel_sweep, tiny_data):
    folders = run_folders(parallel_sweep)
    assert [f.relative_to(parallel_sweep / "outputs").parts[:2] for f in folders] == [
        ("chapter5", "fashion"),
        ("chapter5", "fashion"),
        ("chapter5", "mnist"),
        ("chapter5", "mnist"),
    ]
    assert [f.name for f in folders] == ["seed=0", "seed=1"] * 2
    for folder in folders:
        lines = (folder / "metrics.csv").read_text().splitlines()
        assert lines[0] == "epoch,train_loss,train_acc,test_loss,test_acc,lr,seconds"
        assert [line.split(",")[0] for line in lines[1:]] == ["1", "2"]
        results = json.loads((folder / "results.json").read_text())
        assert results["epochs_completed"] == 2 and 0 <= results["final_test_acc"] <= 1
        assert (folder / ".hydra" / "config.yaml").is_file()
        assert "trainer.epochs=2" in str(folder)

    before = {f: snapshot(f) for f in folders}
    again = sweep_cli(parallel_sweep, tiny_data)  # the same command again
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("already finished") + again.stderr.count("already finished") == 4
    assert {f: snapshot(f) for f in folders} == before


def test_one_failing_job_leaves_the_others_and_is_recorded(tmp_path, tiny_data):
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    labels = data / "FashionMNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-10])
    done = study(tmp_path, data, "-m", "dataset=fashion,mnist")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "train-labels-idx1-ubyte" in done.stderr and "truncated" in done.stderr
    (mnist,) = run_folders(tmp_path)
    assert "mnist" in str(mnist)
    (failure,) = (tmp_path / "outputs").rglob("failure.json")
    assert "fashion" in str(failure)
    assert "truncated" in json.loads(failure.read_text())["error"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, tiny_data):
    tmp = tmp_path_factory.mktemp("finished")
    done = study(tmp, tiny_data)
    assert done.returncode == 0, done.stderr
    return tmp


BAD_INPUTS = {
    "zero epochs": (["trainer.epochs=0"], "trainer.epochs must be a whole number >= 1"),
    "non-numeric epochs": (["trainer.epochs=abc"], "trainer.epochs must be a whole number"),
    "zero batch": (["trainer.batch_size=0"], "trainer.batch_size must be"),
    "zero learning rate": (["optimizer.lr=0"], "optimizer.lr must be a number > 0"),
    "negative limit": (["dataset.train_limit=-1"], "dataset.train_limit must be"),
    "unknown device": (["trainer.device=tpu"], "trainer.device must be auto, cpu"),
    "unknown dataset option": (["dataset=cifar"], "Could not find 'dataset/cifar'"),
    "unknown key": (["optimizer.lrr=1"], "Key 'lrr' is not in struct"),
    "missing data": (
        ["paths.data_dir=/nonexistent", "seed=9"],
        "data not found: looked in /nonexistent/MNIST/raw",
    ),
    "output is a file": (
        ["paths.output_dir=/dev/null"],
        "paths.output_dir=/dev/null cannot hold run folders",
    ),
}


@pytest.fixture(scope="module")
def bad_inputs(finished_run, tiny_data):
    """Every bad input's command on the finished run's folder, all started at once: each is
    mostly Python's start and PyTorch's import, so side by side they take half the time on
    two cores. With the folder's files from before any of them ran."""
    before = snapshot(finished_run / "outputs")
    started = {
        name: subprocess.Popen(
            [sys.executable, "-m", "cnn_study", *tiny_overrides(tiny_data, finished_run), *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (args, _) in BAD_INPUTS.items()
    }
    done = {}
    for name, process in started.items():
        _, stderr = process.communicate(timeout=300)
        done[name] = (process.returncode, stderr)
    return before, done


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_gives_one_line_and_touches_nothing(bad_inputs, name):
    before, done = bad_inputs
    returncode, stderr = done[name]
    assert returncode != 0
    assert BAD_INPUTS[name][1] in stderr, stderr
    assert "Traceback" not in stderr
    assert unchanged(before)  # by this command or any other bad one


def unchanged(before) -> bool:
    """Every file that was there before still holds the same bytes."""
    return all(path.is_file() and path.read_bytes() == data for path, data in before.items())


def test_corrupt_data_file_is_named(tmp_path, tiny_data):
    data = tmp_path / "data"
    make_dataset(data, "MNIST")
    images = data / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    images.write_bytes(b"\x00\x00\x08\x01" + images.read_bytes()[4:])
    done = study(tmp_path, data)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert f"{images}: wrong magic number" in done.stderr


def test_changed_config_in_a_finished_folder_names_the_keys(finished_run, tiny_data):
    (folder,) = run_folders(finished_run)
    config = folder / ".hydra" / "config.yaml"
    original = config.read_text()
    # As if conf/ had been edited since the run: its saved config no longer matches.
    config.write_text(original.replace("momentum: 0.5", "momentum: 0.9"))
    before = snapshot(folder)
    try:
        done = study(finished_run, tiny_data)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert "differs in: optimizer.momentum" in done.stderr
        assert snapshot(folder) == before
    finally:
        config.write_text(original)


def test_force_moves_a_finished_run_aside_with_its_log(tmp_path, tiny_data):
    assert study(tmp_path, tiny_data).returncode == 0
    (folder,) = run_folders(tmp_path)
    old_results = (folder / "results.json").read_text()
    done = study(tmp_path, tiny_data, "force=true")
    assert done.returncode == 0, done.stderr
    (aside,) = folder.parent.glob(f".{folder.name}.replaced-*")
    assert (aside / "results.json").read_text() == old_results
    assert "force=true" not in (aside / "cnn_study.log").read_text()
    new_log = (folder / "cnn_study.log").read_text()
    assert "force=true: moved" in new_log and "retrains a finished run" in new_log
    assert "finished" in new_log
    assert (folder / "results.json").is_file()


def test_an_image_folder_given_on_the_command_line_is_filed_under_its_name(tmp_path, tiny_data):
    """dataset.folder=/a/path makes one folder level, not one per part of the path, below
    the dataset's own name (not image_folder/)."""
    from tests.generated import write_image_folder

    images = write_image_folder(tmp_path / "deep" / "er" / "pets", ["cat", "dog"], 4, 2)
    done = study(
        tmp_path,
        tiny_data,
        "dataset=image_folder",
        f"dataset.folder={images}",
        "dataset.name=pets",
        "dataset.classes=[cat,dog]",
        "dataset.image_size=16",
        "trainer.epochs=1",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (folder,) = run_folders(tmp_path)
    parts = folder.relative_to(tmp_path / "outputs").parts
    assert parts[:4] == ("chapter5", "pets", "cnn", "sgd") and len(parts) == 6
    assert "dataset.folder=pets-" in parts[4] and parts[5] == "seed=0"
