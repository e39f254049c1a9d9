"""Sources by name: dataset.source resolves to a registered source in one place, and a new
kind of source is one registered class that a run trains through like any other."""

from __future__ import annotations

import pytest
import torch

from cnn_study import experiment
from cnn_study.data import Source, load_dataset, register_source, source_for
from cnn_study.data.image_folder import ImageFolderSource
from cnn_study.data.raw import RawData, RawSplit
from cnn_study.data.sources import unregister_source
from cnn_study.data.torchvision_source import TorchvisionSource
from cnn_study.errors import StudyError

TRAIN, TEST = 60, 30


@pytest.fixture
def random_source():
    """A source of random 1 x 28 x 28 images, registered for one test only; its one setting
    of its own is dataset.folder, which must say "anywhere"."""

    @register_source("random_tensors")
    class RandomTensors(Source):
        def check(self, dataset):
            if dataset["folder"] != "anywhere":
                raise StudyError(f"dataset.folder={dataset['folder']}", "say anywhere")

        def read(self, dataset, data_dir, cache_dir, check_memory):
            check_memory(TRAIN, TEST)
            g = torch.Generator().manual_seed(0)

            def split(n: int, where: str) -> RawSplit:
                images = torch.randint(0, 256, (n, 1, 28, 28), generator=g, dtype=torch.uint8)
                return RawSplit(images, torch.arange(n) % 10, where)

            return RawData(split(TRAIN, "train"), split(TEST, "test"), fingerprint="random-0")

    yield RandomTensors
    unregister_source("random_tensors")


def test_a_registered_source_trains_a_run(random_source, make_cfg, tmp_path):
    cfg = make_cfg("dataset.source=random_tensors", "dataset.folder=anywhere", "trainer.epochs=1")
    results = experiment.run(cfg, tmp_path / "run")
    assert (results["train_size"], results["test_size"]) == (TRAIN, TEST)
    assert results["data_fingerprint"] == "random-0"  # its data, not MNIST's files
    assert results["epochs_completed"] == 1 and 0 <= results["final_test_acc"] <= 1


def test_a_source_checks_its_settings_before_any_file_is_written(random_source, make_cfg, tmp_path):
    cfg = make_cfg("dataset.source=random_tensors", "dataset.folder=elsewhere")
    with pytest.raises(StudyError, match="dataset.folder=elsewhere: say anywhere"):
        experiment.run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_its_memory_is_checked_with_the_sizes_it_gives(random_source, make_cfg, tmp_path):
    cfg = make_cfg("dataset.source=random_tensors", "dataset.folder=anywhere")
    dataset = {**cfg.dataset, "max_memory_gb": 1e-6}
    with pytest.raises(StudyError, match=f"{TRAIN + TEST} images of 784 values"):
        load_dataset(dataset, tmp_path, tmp_path, torch.device("cpu"))


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("torchvision.datasets.MNIST", TorchvisionSource),
        ("torchvision.datasets.CIFAR10", TorchvisionSource),
        ("image_folder", ImageFolderSource),
    ],
)
def test_the_yaml_values_resolve_to_their_sources(value, kind):
    assert isinstance(source_for({"source": value}), kind)


@pytest.mark.parametrize("value", ["imagefolder", "", None, 3])
def test_an_unknown_source_is_named_with_the_choices(value):
    with pytest.raises(StudyError) as err:
        source_for({"source": value})
    message = str(err.value)
    assert f"dataset.source={value!r}" in message and "image_folder" in message
    assert "\n" not in message


def test_a_class_path_that_does_not_import_is_named(make_cfg, tmp_path):
    cfg = make_cfg("dataset.source=torchvision.datasets.NoSuchSet")
    with pytest.raises(StudyError, match=r"dataset.source=torchvision.datasets.NoSuchSet: no such"):
        experiment.run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_setting_a_source_needs_unset_or_missing_is_one_line():
    from omegaconf import OmegaConf

    from cnn_study.data import check_source
    from tests.conftest import compose_config

    folder = ["dataset=image_folder", "dataset.name=x", "dataset.folder=/x", "dataset.classes=[a]"]
    unset = compose_config(*folder, "dataset.resize=???").dataset
    with pytest.raises(StudyError, match=r"^dataset.resize is not set \(\?\?\? in its YAML\)"):
        check_source(unset)
    plain = OmegaConf.to_container(compose_config(*folder).dataset, resolve=True)
    del plain["convert"]  # a user's YAML naming the source but not starting from its template
    with pytest.raises(StudyError, match=r"^dataset.convert is missing, .* reads it"):
        check_source(OmegaConf.create(plain))
