"""Every fix the data layer's errors suggest works: each test breaks tiny generated data,
meets the error, applies the fix the message names, and loads. (The fixes tested beside
their errors elsewhere: dataset.resize/convert=true, a subset for the memory limit and
dataset.download=true in test_datasets.py; dataset.verify=false for CIFAR's batches there.)"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from cnn_study.data import check_source, load_dataset
from cnn_study.errors import StudyError
from tests.conftest import compose_config, make_dataset, tiny_overrides, write_idx
from tests.generated import write_image_folder

CPU = torch.device("cpu")
LEAVES = ["oak", "maple", "birch"]


def mnist(tmp_path: Path, **changes) -> dict:
    cfg = compose_config(*tiny_overrides(tmp_path, tmp_path), "dataset=mnist")
    return OmegaConf.to_container(cfg.dataset, resolve=True) | changes


def leaves(folder: Path, classes: list[str] = LEAVES, **changes) -> dict:
    """The image-folder dataset, composed as a user's overrides compose it (num_classes
    follows classes)."""
    cfg = compose_config(
        "dataset=image_folder",
        "dataset.name=leaves",
        f"dataset.folder={folder}",
        f"dataset.classes=[{','.join(classes)}]",
        "dataset.image_size=16",
    )
    return OmegaConf.to_container(cfg.dataset, resolve=True) | changes


def fails(dataset: dict, data_dir: Path, cache: Path, *expected: str) -> str:
    with pytest.raises(StudyError) as err:
        load_dataset(dataset, data_dir, cache, CPU)
    message = str(err.value)
    assert "\n" not in message and all(e in message for e in expected), message
    return message


def loads(dataset: dict, data_dir: Path, cache: Path) -> int:
    return len(load_dataset(dataset, data_dir, cache, CPU).train)


@pytest.fixture
def images(tmp_path) -> Path:
    return write_image_folder(tmp_path / "images", LEAVES, train=3, test=2)


def test_set_dataset_folder_to_the_images(tmp_path, images):
    fails(leaves(tmp_path / "nowhere"), tmp_path, tmp_path / "c", "set dataset.folder=")
    assert loads(leaves(images), tmp_path, tmp_path / "c") == 9


def test_add_a_stray_class_folder_to_the_classes_or_move_it_out(tmp_path, images):
    shutil.copytree(images / "train" / "oak", images / "train" / "pine")
    shutil.copytree(images / "test" / "oak", images / "test" / "pine")
    fails(leaves(images), tmp_path, tmp_path / "c", "add it to dataset.classes", "move")
    assert loads(leaves(images, classes=[*LEAVES, "pine"]), tmp_path, tmp_path / "c") == 12
    shutil.move(images / "train" / "pine", tmp_path / "pine-train")
    shutil.move(images / "test" / "pine", tmp_path / "pine-test")
    assert loads(leaves(images), tmp_path, tmp_path / "c") == 9


def test_put_images_in_an_empty_folder(tmp_path):
    (tmp_path / "empty" / "train" / "oak").mkdir(parents=True)
    fails(leaves(tmp_path / "empty"), tmp_path, tmp_path / "c", "put the images there")
    write_image_folder(tmp_path / "empty", LEAVES, train=2, test=1)
    assert loads(leaves(tmp_path / "empty"), tmp_path, tmp_path / "c") == 6


def test_take_a_class_without_test_images_out_of_the_classes(tmp_path, images):
    shutil.rmtree(images / "test" / "birch")
    fails(leaves(images), tmp_path, tmp_path / "c", "take the class out of dataset.classes")
    shutil.rmtree(images / "train" / "birch")  # out of the dataset, as it is out of the list
    assert loads(leaves(images, classes=LEAVES[:2]), tmp_path, tmp_path / "c") == 6


def test_remove_a_file_that_is_not_an_image(tmp_path, images):
    bad = images / "train" / "oak" / "broken.png"
    bad.write_bytes(b"not a png")
    fails(leaves(images), tmp_path, tmp_path / "c", "replace or remove the file")
    bad.unlink()
    assert loads(leaves(images), tmp_path, tmp_path / "c") == 9


def test_an_image_folder_reads_one_or_three_channels(tmp_path, images):
    with pytest.raises(StudyError, match="set dataset.in_channels=1 or 3"):
        check_source(leaves(images, in_channels=2))
    grey = write_image_folder(tmp_path / "grey", LEAVES, train=3, test=2, mode="L")
    assert loads(leaves(grey, in_channels=1), tmp_path, tmp_path / "c") == 9


def test_give_dataset_std_for_a_channel_that_never_varies(tmp_path, images):
    for path in images.rglob("*.png"):
        Image.fromarray(np.full((16, 16, 3), 7, np.uint8), "RGB").save(path)
    fails(leaves(images), tmp_path, tmp_path / "c", "give dataset.std")
    assert loads(leaves(images, std=0.25), tmp_path, tmp_path / "c") == 9


def test_set_the_shape_the_message_gives(tmp_path):
    make_dataset(tmp_path, "MNIST", train=20, test=10)
    message = fails(mnist(tmp_path, image_size=32), tmp_path, tmp_path / "c", "set them to")
    channels, size = (
        int(n) for n in message.split("set them to ")[1].split(" in ")[0].split(" and ")
    )
    assert loads(mnist(tmp_path, in_channels=channels, image_size=size), tmp_path, tmp_path) == 20


def test_choose_a_smaller_val_size(tmp_path):
    make_dataset(tmp_path, "MNIST", train=20, test=10)
    fails(mnist(tmp_path, val_size=20), tmp_path, tmp_path / "c", "smaller dataset.val_size")
    assert loads(mnist(tmp_path, val_size=10), tmp_path, tmp_path / "c") == 10


def test_point_paths_data_dir_at_the_folder_holding_the_data(tmp_path):
    make_dataset(tmp_path / "datasets", "MNIST", train=20, test=10)
    fails(mnist(tmp_path), tmp_path / "elsewhere", tmp_path / "c", "paths.data_dir=")
    assert loads(mnist(tmp_path), tmp_path / "datasets", tmp_path / "c") == 20


@pytest.mark.parametrize("name", ["train-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
def test_fetch_a_truncated_file_again(tmp_path, name):
    raw = make_dataset(tmp_path / "good", "MNIST", train=20, test=10)
    shutil.copytree(tmp_path / "good", tmp_path / "data")
    broken = tmp_path / "data" / "MNIST" / "raw" / name
    broken.write_bytes(broken.read_bytes()[:-5])
    fails(mnist(tmp_path), tmp_path / "data", tmp_path / "c", "fetch")
    shutil.copy(raw / name, broken)  # fetched again
    assert loads(mnist(tmp_path), tmp_path / "data", tmp_path / "c") == 20


def test_fetch_files_that_do_not_belong_together_again(tmp_path):
    raw = make_dataset(tmp_path / "good", "MNIST", train=20, test=10)
    shutil.copytree(tmp_path / "good", tmp_path / "data")
    labels = tmp_path / "data" / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    write_idx(labels, torch.arange(15) % 10)
    fails(mnist(tmp_path), tmp_path / "data", tmp_path / "c", "fetch both again")
    shutil.copy(raw / labels.name, labels)
    assert loads(mnist(tmp_path), tmp_path / "data", tmp_path / "c") == 20


def test_a_checksum_mismatch_goes_with_the_right_file_or_verify_false(tmp_path):
    raw = make_dataset(tmp_path / "good", "MNIST", train=20, test=10)
    files = [{"name": p.name, "sha256": _sha256(p)} for p in sorted(raw.iterdir())]
    shutil.copytree(tmp_path / "good", tmp_path / "data")
    other = tmp_path / "data" / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    write_idx(other, torch.zeros(10, 28, 28))  # another version: same size, other bytes
    dataset = mnist(tmp_path, files=files, verify=True)
    fails(dataset, tmp_path / "data", tmp_path / "c", "fetch it again", "dataset.verify=false")
    assert loads({**dataset, "verify": False}, tmp_path / "data", tmp_path / "c") == 20
    shutil.copy(raw / other.name, other)
    assert loads(dataset, tmp_path / "data", tmp_path / "c") == 20


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_list_every_class_for_labels_beyond_the_classes(tmp_path):
    data = tmp_path / "data"
    make_dataset(data, "MNIST", train=40, test=20)
    raw = data / "MNIST" / "raw"
    for prefix, n in (("train", 40), ("t10k", 20)):  # twelve classes, where the YAML has ten
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", torch.arange(n) % 12)
    ten = mnist(tmp_path, verify=False)
    fails(
        ten, data, tmp_path / "cache", "labels range 0..11", "list every class in dataset.classes"
    )
    twelve = {**ten, "classes": [*ten["classes"], "ten", "eleven"], "num_classes": 12}
    assert loads(twelve, data, tmp_path / "cache") == 40
