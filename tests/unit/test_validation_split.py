"""The validation split: held out of the training set, class-balanced, one split for every run;
and what a run hands to a sweeper is a validation number, never a test one."""

import csv
import json
import subprocess
import sys

import pytest
import torch

from cnn_study import experiment
from cnn_study.config_checks import check_tunable, validate
from cnn_study.data import load_dataset, validation_indices
from cnn_study.errors import StudyError
from cnn_study.results import RESULT_KEYS, VALIDATION_KEYS
from cnn_study.run_identity import config_differences
from cnn_study.runs import METRICS_COLUMNS, RunFolder, metrics_columns
from tests.conftest import make_dataset

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def uneven_data(tmp_path_factory):
    """500 training images whose classes come in uneven numbers, so balance is not free."""
    root = tmp_path_factory.mktemp("uneven")
    make_dataset(root, "MNIST", train=500, test=100)
    from tests.conftest import make_images, write_idx

    labels = torch.cat([torch.full((20 + 10 * c,), c) for c in range(10)])  # 20..110 per class
    raw = root / "MNIST" / "raw"
    write_idx(raw / "train-images-idx3-ubyte", make_images(labels, 3))
    write_idx(raw / "train-labels-idx1-ubyte", labels)
    return root


def _dataset_cfg(cfg):
    from omegaconf import OmegaConf

    return OmegaConf.to_container(cfg.dataset, resolve=True)


def test_the_split_is_disjoint_class_balanced_and_covers_the_training_set(make_cfg, uneven_data):
    cfg = make_cfg(f"paths.data_dir={uneven_data}", "dataset.val_size=105")
    labels = torch.cat([torch.full((20 + 10 * c,), c) for c in range(10)])
    held = validation_indices(labels, 105, 10, split_seed=0)
    assert len(held) == len(set(held.tolist())) == 105
    counts = torch.bincount(labels[held], minlength=10).tolist()
    assert counts == [11] * 5 + [10] * 5  # 105 = 10 per class, the first 5 classes one more

    data = load_dataset(_dataset_cfg(cfg), uneven_data, cfg.paths.cache_dir, torch.device("cpu"))
    assert len(data.val) == 105 and len(data.train) == len(labels) - 105
    # Disjoint and complete: the two splits together are the training images, each once.
    whole = load_dataset(
        _dataset_cfg(make_cfg(f"paths.data_dir={uneven_data}")),
        uneven_data,
        cfg.paths.cache_dir,
        torch.device("cpu"),
    )
    key = lambda images: sorted(map(bytes, images.flatten(1).numpy()))  # noqa: E731
    assert key(torch.cat([data.train.images, data.val.images])) == key(whole.train.images)
    assert not set(key(data.train.images)) & set(key(data.val.images))


def test_the_split_depends_on_split_seed_only_and_is_the_same_in_another_process(make_cfg):
    labels = torch.arange(1000) % 10
    a = validation_indices(labels, 100, 10, split_seed=0)
    torch.manual_seed(123)  # a run's seed must not move the split
    assert torch.equal(a, validation_indices(labels, 100, 10, split_seed=0))
    assert not torch.equal(a, validation_indices(labels, 100, 10, split_seed=1))
    code = (
        "import torch; from cnn_study.data import validation_indices, split_fingerprint;"
        "print(split_fingerprint(validation_indices(torch.arange(1000) % 10, 100, 10, 0)))"
    )
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from cnn_study.data import split_fingerprint

    assert other.stdout.strip() == split_fingerprint(a)


def test_every_seed_of_a_study_sees_one_split_and_records_it(make_cfg, tmp_path):
    results = [
        experiment.run(make_cfg("dataset.val_size=50", f"seed={seed}"), tmp_path / f"s{seed}")
        for seed in (0, 1)
    ]
    assert results[0]["split_fingerprint"] == results[1]["split_fingerprint"]
    assert [r["val_size"] for r in results] == [50, 50]
    assert set(results[0]) == RESULT_KEYS | VALIDATION_KEYS  # results.json's schema
    assert [r["train_size"] for r in results] == [150, 150]  # 200 - 50


def test_a_run_with_a_split_logs_validation_and_selects_on_it(make_cfg, tmp_path):
    cfg = make_cfg("dataset.val_size=50", "trainer.epochs=3")
    results = experiment.run(cfg, tmp_path / "run")
    with (tmp_path / "run" / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == metrics_columns(validation=True)
    val = [float(r["val_acc"]) for r in rows]
    best = val.index(max(val))  # the first epoch at the best validation accuracy
    assert results["best_val_epoch"] == best + 1
    assert results["best_val_acc"] == max(val)
    assert results["test_acc_at_best_val"] == float(rows[best]["test_acc"])
    assert results["final_val_acc"] == val[-1]
    assert RunFolder(tmp_path / "run").read_metrics()[0]["val_acc"] == val[0]


def test_no_split_leaves_the_data_files_and_results_as_they_were(make_cfg, tmp_path):
    """val_size=0 trains on every image in the dataset's order, as runs did before the split
    existed (a dataset config without the key), and writes the files older runs wrote."""
    from omegaconf import OmegaConf

    cfg = make_cfg()
    older = _dataset_cfg(cfg)
    del older["val_size"], older["split_seed"]
    cpu = torch.device("cpu")
    now = load_dataset(_dataset_cfg(cfg), cfg.paths.data_dir, cfg.paths.cache_dir, cpu)
    before = load_dataset(older, cfg.paths.data_dir, cfg.paths.cache_dir, cpu)
    assert now.val is None and len(now.train) == 200
    assert torch.equal(now.train.images, before.train.images)
    assert torch.equal(now.train.labels, before.train.labels)

    results = experiment.run(cfg, tmp_path / "run")
    header = (tmp_path / "run" / "metrics.csv").read_text().splitlines()[0]
    assert header.split(",") == METRICS_COLUMNS
    assert "final_val_acc" not in results and results["val_size"] == 0
    # An older run folder (no val_size in its config) is the same run: it is skipped, not
    # refused as "another config".
    saved = OmegaConf.to_container(cfg, resolve=True)
    del saved["dataset"]["val_size"], saved["dataset"]["split_seed"], saved["objective"]
    assert config_differences(saved, OmegaConf.to_container(cfg, resolve=True)) == []
    assert config_differences(
        saved, OmegaConf.to_container(make_cfg("dataset.val_size=5"), resolve=True)
    ) == ["dataset.val_size"]


def test_the_objective_is_a_validation_number_and_tuning_needs_a_split(make_cfg):
    with pytest.raises(StudyError, match="objective must be one of final_val_acc, best_val_acc"):
        validate(make_cfg("objective=final_test_acc"))
    with pytest.raises(StudyError, match="dataset.val_size=0 leaves no validation split"):
        check_tunable(make_cfg())
    check_tunable(make_cfg("dataset.val_size=50"))


def test_the_entry_point_hands_the_sweeper_validation_accuracy(tiny_data, tmp_path):
    """A one-run multirun through the real entry point: Hydra's multirun returns what main
    returned, and it is final_val_acc (or nothing without a split)."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from cnn_study.__main__ import main
    from tests.conftest import CONF, tiny_overrides

    returned = {}
    for val_size in (50, 0):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            overrides = [*tiny_overrides(tiny_data, tmp_path), f"dataset.val_size={val_size}"]
            cfg = compose("config", overrides=overrides, return_hydra_config=True)
        cfg.hydra.runtime.output_dir = str(tmp_path / f"run{val_size}")
        HydraConfig.instance().set_config(cfg)
        with open_dict(cfg):
            del cfg["hydra"]
        returned[val_size] = main(cfg)  # hydra.main hands a given config straight through
    results = json.loads((tmp_path / "run50" / "results.json").read_text())
    assert returned[50] == results["final_val_acc"]
    assert returned[0] is None
