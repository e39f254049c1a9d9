"""Every dataset a YAML file can describe, on generated files in each real format: KMNIST's
IDX files and archives, CIFAR-10's pickled batches, a folder of PNGs. Each loads, is verified,
is normalised per channel, and trains a step with every model; each bad input stops with one
line naming the problem and the fix."""

from __future__ import annotations

import copy
import functools
import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
import yaml
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from cnn_study.config_checks import validate
from cnn_study.data import image_folder, load_dataset
from cnn_study.errors import StudyError
from cnn_study.run_identity import config_differences, flat_config
from cnn_study.train import train_step
from tests.conftest import CONF, compose_config, tiny_overrides
from tests.generated import (
    CIFAR_CLASSES,
    as_tensor,
    expected_stats,
    png_pixels,
    write_cifar10,
    write_image_folder,
    write_kmnist,
)

CPU = torch.device("cpu")
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))
LEAVES = ["oak", "maple", "birch"]


@pytest.fixture(scope="module")
def formats(tmp_path_factory) -> dict:
    """One data folder holding generated KMNIST and CIFAR-10, and a folder of PNGs."""
    root = tmp_path_factory.mktemp("formats")
    return {
        "root": root,
        "kmnist_files": write_kmnist(root),
        "cifar_md5": write_cifar10(root),
        "leaves": write_image_folder(root / "leaves", LEAVES),
    }


@pytest.fixture
def cifar_md5(formats, monkeypatch) -> dict[str, str]:
    """torchvision's CIFAR10 checks its files against its published MD5 before reading them:
    here it checks them against the generated files' own."""
    md5 = formats["cifar_md5"]
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(
        cls, "train_list", [[f"data_batch_{b}", md5[f"data_batch_{b}"]] for b in range(1, 6)]
    )
    monkeypatch.setattr(cls, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(cls, "meta", {**cls.meta, "md5": md5["batches.meta"]})
    return md5


def config(formats, tmp_path, dataset: str, *overrides: str):
    return compose_config(
        *tiny_overrides(formats["root"], tmp_path), f"dataset={dataset}", *overrides
    )


def leaves_overrides(formats, *more: str) -> list[str]:
    return [
        f"dataset.folder={formats['leaves']}",
        f"dataset.classes=[{','.join(LEAVES)}]",
        "dataset.image_size=16",
        "dataset.name=leaves",
        *more,
    ]


def dataset_dict(cfg, **changes) -> dict:
    container = OmegaConf.to_container(cfg.dataset, resolve=True)
    container.update(changes)
    return container


@pytest.fixture(scope="module")
def generated(formats, tmp_path_factory) -> dict:
    """Each format's composed config and its dataset config, verified against the generated
    files' checksums (composed once: composing costs a third of a second)."""
    tmp = tmp_path_factory.mktemp("configs")
    kmnist = config(formats, tmp, "kmnist")
    cifar = config(formats, tmp, "cifar10")
    leaves = config(formats, tmp, "image_folder", *leaves_overrides(formats))
    md5 = formats["cifar_md5"]
    return {
        "kmnist": (kmnist, dataset_dict(kmnist, verify=True, files=formats["kmnist_files"])),
        "cifar10": (
            cifar,
            dataset_dict(cifar, verify=True, files=[{"name": n, "md5": d} for n, d in md5.items()]),
        ),
        "leaves": (leaves, dataset_dict(leaves)),
    }


def generated_configs(generated) -> dict:
    return copy.deepcopy(generated)


@pytest.mark.parametrize("name", ["kmnist", "cifar10", "leaves"])
def test_each_format_loads_verified_and_normalised_per_channel(
    generated, formats, cifar_md5, tmp_path, name
):
    cfg, dcfg = generated_configs(generated)[name]
    validate(cfg)
    data = load_dataset(dcfg, formats["root"], tmp_path / "cache", CPU)
    channels, size = cfg.dataset.in_channels, cfg.dataset.image_size
    assert data.train.images.shape[1:] == (channels, size, size)
    assert data.classes == [str(c) for c in cfg.dataset.classes]
    # mean/std null: computed from the training split, per channel, as numpy computes them
    if name == "kmnist":
        raw = torchvision.datasets.KMNIST(formats["root"], train=True).data.numpy()[:, None]
    elif name == "cifar10":
        raw = torchvision.datasets.CIFAR10(formats["root"], train=True).data.transpose(0, 3, 1, 2)
    else:
        raw = png_pixels(formats["leaves"], "train", LEAVES)
    mean, std = expected_stats(raw)
    assert data.mean == pytest.approx(mean, abs=1e-6) and data.std == pytest.approx(std, abs=1e-6)
    assert len(set(data.mean)) == channels  # each channel its own (the bars differ by colour)
    images = data.train.images.double()
    assert images.mean(dim=(0, 2, 3)).tolist() == pytest.approx([0.0] * channels, abs=1e-4)
    assert images.std(dim=(0, 2, 3), correction=0).tolist() == pytest.approx(
        [1.0] * channels, abs=1e-4
    )
    # the pixels are the files' pixels, in the files' order
    expected = (
        as_tensor(raw).double() / 255 - torch.tensor(mean).view(1, -1, 1, 1)
    ) / torch.tensor(std).view(1, -1, 1, 1)
    assert torch.allclose(images, expected, atol=1e-5)


@pytest.mark.parametrize("name", ["kmnist", "cifar10", "leaves"])
@pytest.mark.parametrize("model", MODELS)
def test_every_model_trains_a_step_on_every_format(
    generated, formats, cifar_md5, tmp_path, name, model
):
    dataset, extra = ("image_folder", leaves_overrides(formats)) if name == "leaves" else (name, [])
    cfg = config(formats, tmp_path, dataset, f"model={model}", *extra)
    dcfg = generated_configs(generated)[name][1]
    data = load_dataset(dcfg, formats["root"], tmp_path / "cache", CPU)
    torch.manual_seed(0)
    net = instantiate(cfg.model)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05)
    batch = slice(0, 16)
    before = [p.detach().clone() for p in net.parameters()]
    loss, _ = train_step(net, optimizer, data.train.images[batch], data.train.labels[batch])
    assert torch.isfinite(loss)
    assert net(data.test.images[:2]).shape == (2, len(data.classes))
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


def test_the_chapter_cnn_on_mnist_is_the_chapters_network():
    net = instantiate(compose_config("dataset=mnist", "model=cnn").model)
    assert sum(p.numel() for p in net.parameters()) == 21_840
    assert net.fc1.in_features == 320


def test_the_yaml_checksums_are_torchvisions_published_ones():
    kmnist = OmegaConf.load(CONF / "dataset" / "kmnist.yaml")
    listed = {f["name"]: f["md5"] for f in kmnist.files if "md5" in f}
    assert listed == dict(torchvision.datasets.KMNIST.resources)
    cifar = OmegaConf.load(CONF / "dataset" / "cifar10.yaml")
    cls = torchvision.datasets.CIFAR10
    published = dict(cls.train_list + cls.test_list) | {cls.meta["filename"]: cls.meta["md5"]}
    assert {f["name"]: f["md5"] for f in cifar.files} == published
    assert list(cifar.classes) == CIFAR_CLASSES


# --- checksums and memory ---------------------------------------------------------------


def test_a_wrong_md5_names_the_file(generated, formats, cifar_md5, tmp_path):
    _, dcfg = generated_configs(generated)["cifar10"]
    dcfg["files"] = [
        f if f["name"] != "data_batch_4" else {**f, "md5": "0" * 32} for f in dcfg["files"]
    ]
    with pytest.raises(StudyError, match=r"data_batch_4: MD5 \w+\.\.\. does not match"):
        load_dataset(dcfg, formats["root"], tmp_path / "cache", CPU)


def test_cifar_files_that_fail_their_md5_are_used_with_verify_false(formats, tmp_path):
    """The fix a failed checksum offers works: torchvision's own MD5 check (on every read of
    a CIFAR batch) does not refuse the files again."""
    cfg = config(formats, tmp_path, "cifar10")  # the YAML's MD5: torchvision's published ones
    dcfg = dataset_dict(cfg, verify=True)
    with pytest.raises(StudyError) as err:
        load_dataset(dcfg, formats["root"], tmp_path / "cache", CPU)
    assert "does not match" in one_line(err) and "dataset.verify=false" in str(err.value)
    data = load_dataset({**dcfg, "verify": False}, formats["root"], tmp_path / "cache", CPU)
    assert len(data.train) == 250 and data.train.images.shape[1:] == (3, 32, 32)


def test_verify_false_still_needs_the_files(formats, tmp_path):
    root = tmp_path / "data"
    shutil.copytree(formats["root"] / "cifar-10-batches-py", root / "cifar-10-batches-py")
    (root / "cifar-10-batches-py" / "data_batch_2").unlink()
    cfg = config(formats, tmp_path, "cifar10")
    dcfg = dataset_dict(cfg, verify=False, download=False, files=[])
    with pytest.raises(StudyError) as err:
        load_dataset(dcfg, root, tmp_path / "cache", CPU)
    assert "CIFAR10 could not read" in one_line(err)


def test_a_dataset_larger_than_its_memory_stops_before_decoding(
    generated, formats, tmp_path, monkeypatch
):
    _, dcfg = generated_configs(generated)["leaves"]
    monkeypatch.setattr(image_folder, "_decode", lambda *a: pytest.fail("decoded"))
    with pytest.raises(StudyError) as err:
        load_dataset({**dcfg, "max_memory_gb": 1e-6}, formats["root"], tmp_path / "cache", CPU)
    message = one_line(err)
    assert "54 images of 768 values need" in message and "dataset.max_memory_gb=1e-06" in message
    assert "dataset.train_limit=N, smaller images" in message


def test_the_memory_needed_is_that_of_the_images_kept(generated, formats, tmp_path):
    """The fix the message offers works: a subset needs only its own memory."""
    _, dcfg = generated_configs(generated)["leaves"]
    pixels = 3 * 16 * 16
    # 36 + 18 images read (8-bit), 3 + 2 kept (float32, and their 8-bit copy) on the CPU
    need = 54 * pixels + 5 * pixels * 5
    small = {**dcfg, "train_limit": 3, "test_limit": 2, "max_memory_gb": need / 1e9}
    assert len(load_dataset(small, formats["root"], tmp_path / "cache", CPU).train) == 3
    with pytest.raises(StudyError, match="5 images of 768 values need"):
        load_dataset({**small, "max_memory_gb": (need - 1) / 1e9}, formats["root"], tmp_path, CPU)


def test_the_default_memory_limit_is_a_share_of_the_machines_memory(
    generated, formats, tmp_path, monkeypatch
):
    _, dcfg = generated_configs(generated)["leaves"]
    from cnn_study.data import load

    need = 54 * 3 * 16 * 16 * (1 + 4 + 1)
    monkeypatch.setattr(load, "total_memory", lambda device: need / 0.8 * 1.5)
    with pytest.raises(StudyError, match=r"80% of the .* GB of cpu, shared by 2 parallel runs"):
        load_dataset(dcfg, formats["root"], tmp_path / "cache", CPU, parallel_jobs=2)
    assert len(load_dataset(dcfg, formats["root"], tmp_path / "cache", CPU).train) == 36


def test_a_torchvision_source_is_not_offered_a_resize(formats, tmp_path):
    cfg = config(formats, tmp_path, "kmnist")
    with pytest.raises(StudyError) as err:
        load_dataset(dataset_dict(cfg, max_memory_gb=1e-6), formats["root"], tmp_path, CPU)
    assert "resize" not in one_line(err) and "dataset.train_limit=N, or allow more" in str(
        err.value
    )


def test_kmnist_without_its_archives_is_read_by_structure_alone(formats, tmp_path, caplog):
    root = tmp_path / "data"
    shutil.copytree(formats["root"] / "KMNIST", root / "KMNIST")
    for archive in (root / "KMNIST" / "raw").glob("*.gz"):
        archive.unlink()
    cfg = config(formats, tmp_path, "kmnist")  # its own YAML: archives optional, MD5 listed
    dcfg = dataset_dict(cfg, verify=True, download=True)
    data = load_dataset(dcfg, root, tmp_path / "cache", CPU)  # no download: the IDX are there
    assert len(data.train) == 200
    assert "checked by their structure only" in caplog.text


@pytest.mark.parametrize(
    ("shape", "permuted"), [((5, 28, 28), None), ((5, 3, 8, 3), False), ((5, 4, 4, 3), True)]
)
def test_a_stack_of_images_is_read_by_its_channel_axis(shape, permuted):
    from cnn_study.data.torchvision_source import _as_nchw

    data = np.arange(np.prod(shape), dtype=np.uint8).reshape(shape)
    images = _as_nchw(data, 3 if len(shape) == 4 else 1, "here")
    assert images.shape[1] == (1 if permuted is None else 3)
    if permuted:
        assert torch.equal(images, torch.from_numpy(data).permute(0, 3, 1, 2))
    with pytest.raises(StudyError, match="no axis of dataset.in_channels=2 channels"):
        _as_nchw(np.zeros((5, 4, 4, 3), np.uint8), 2, "here")


def test_a_torchvision_class_without_listed_files_is_fetched_when_allowed(
    formats, tmp_path, monkeypatch
):
    fetched = []
    monkeypatch.setattr(
        torchvision.datasets.KMNIST,
        "download",
        lambda self: fetched.append(write_kmnist(Path(self.root))),
    )
    cfg = config(formats, tmp_path, "kmnist")
    dcfg = dataset_dict(cfg, files=[], download=True)
    assert len(load_dataset(dcfg, tmp_path / "data", tmp_path / "cache", CPU).test) == 100
    assert fetched
    with pytest.raises(StudyError) as err:  # offline, nothing listed: torchvision's reader says
        load_dataset({**dcfg, "download": False}, tmp_path / "none", tmp_path, CPU)
    assert "KMNIST could not read" in one_line(err) and "dataset.download=true" in str(err.value)


# --- image folders ----------------------------------------------------------------------


def folder_of(tmp_path, **kwargs) -> Path:
    return write_image_folder(tmp_path / "images", LEAVES, train=3, test=2, **kwargs)


@functools.cache
def folder_config(*overrides: str) -> dict:
    """The image-folder dataset config, composed and validated once per set of overrides
    (composing costs a third of a second); the folder itself is filled in per test."""
    cfg = compose_config(
        "dataset=image_folder",
        "dataset.name=leaves",
        "dataset.folder=/to/be/given",
        f"dataset.classes=[{','.join(LEAVES)}]",
        "dataset.image_size=16",
        *overrides,
    )
    validate(cfg)
    return dataset_dict(cfg)


def load_folder(folder: Path, tmp_path, *overrides: str, **changes):
    dcfg = copy.deepcopy(folder_config(*overrides)) | {"folder": str(folder), **changes}
    return load_dataset(dcfg, tmp_path, tmp_path / "cache", CPU)


def one_line(err) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def test_an_image_folder_is_decoded_once_then_read_from_the_cache(tmp_path, monkeypatch):
    folder = folder_of(tmp_path)
    before = sorted(p for p in folder.rglob("*"))
    first = load_folder(folder, tmp_path)
    monkeypatch.setattr(image_folder, "_decode", lambda *a: pytest.fail("decoded again"))
    monkeypatch.setattr(image_folder.Listing, "contents", lambda self: pytest.fail("re-hashed"))
    second = load_folder(folder, tmp_path)
    assert torch.equal(first.train.images, second.train.images)
    assert sorted(p for p in folder.rglob("*")) == before  # nothing written beside the images
    assert list((tmp_path / "cache" / "image_folders").glob("*.pt"))


def test_a_changed_image_is_decoded_anew(tmp_path):
    folder = folder_of(tmp_path)
    first = load_folder(folder, tmp_path)
    path = folder / "train" / "oak" / "0000.png"
    Image.fromarray(np.full((16, 16, 3), 255, np.uint8), "RGB").save(path)
    second = load_folder(folder, tmp_path)
    assert first.fingerprint != second.fingerprint
    assert not torch.equal(first.train.images, second.train.images)


def test_a_touched_but_unchanged_folder_reuses_its_decoded_tensors(tmp_path, monkeypatch):
    folder = folder_of(tmp_path)
    first = load_folder(folder, tmp_path)
    for path in folder.rglob("*.png"):
        os.utime(path, ns=(1, 1))
    monkeypatch.setattr(image_folder, "_decode", lambda *a: pytest.fail("decoded again"))
    assert load_folder(folder, tmp_path).fingerprint == first.fingerprint


def test_a_cache_that_cannot_be_written_only_costs_decoding_again(tmp_path):
    folder = folder_of(tmp_path)
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    assert len(load_folder(folder, tmp_path).train) == 9
    assert len(load_folder(folder, tmp_path).train) == 9


def test_an_image_folder_with_no_images(tmp_path):
    (tmp_path / "images" / "train" / "oak").mkdir(parents=True)
    with pytest.raises(StudyError) as err:
        load_folder(tmp_path / "images", tmp_path)
    assert "no images in" in one_line(err) and "train/<class>/*.png" in str(err.value)


def test_a_missing_folder(tmp_path):
    with pytest.raises(StudyError, match="image folder .*nowhere not found: set dataset.folder="):
        load_folder(tmp_path / "nowhere", tmp_path)


def test_the_folder_must_be_given():
    cfg = compose_config("dataset=image_folder", "dataset.classes=[a,b]")
    with pytest.raises(StudyError, match=r"dataset.folder is not set \(\?\?\? in its YAML\)"):
        validate(cfg)


def test_a_class_missing_from_the_test_split(tmp_path):
    folder = folder_of(tmp_path)
    shutil.rmtree(folder / "test" / "birch")
    with pytest.raises(StudyError) as err:
        load_folder(folder, tmp_path)
    assert "no test images of class 'birch'" in one_line(err)
    assert "both train/ and test/" in str(err.value)


def test_a_folder_that_is_not_a_class(tmp_path):
    folder = folder_of(tmp_path)
    shutil.copytree(folder / "train" / "oak", folder / "train" / "pine")
    with pytest.raises(StudyError) as err:
        load_folder(folder, tmp_path)
    assert "train/pine is not one of dataset.classes (oak, maple, birch)" in one_line(err)


def test_mixed_sizes_stop_unless_resize_is_asked(tmp_path):
    folder = folder_of(tmp_path)
    odd = folder / "train" / "maple" / "odd.png"
    Image.fromarray(np.zeros((20, 24, 3), np.uint8), "RGB").save(odd)
    with pytest.raises(StudyError) as err:
        load_folder(folder, tmp_path)
    assert f"{odd} is 24x20 pixels, not the 16x16" in one_line(err)
    assert "dataset.resize=true" in str(err.value)
    data = load_folder(folder, tmp_path, "dataset.resize=true")
    assert data.train.images.shape == (10, 3, 16, 16)


def test_mixed_modes_stop_unless_convert_is_asked(tmp_path):
    folder = folder_of(tmp_path)
    odd = folder / "test" / "oak" / "0009.png"
    Image.fromarray(np.zeros((16, 16, 4), np.uint8), "RGBA").save(odd)
    with pytest.raises(StudyError) as err:
        load_folder(folder, tmp_path)
    assert f"{odd} is a RGBA image, but dataset.in_channels=3 reads RGB" in one_line(err)
    assert "dataset.convert=true" in str(err.value)
    assert len(load_folder(folder, tmp_path, "dataset.convert=true").test) == 7


def test_greyscale_folders_read_one_channel(tmp_path):
    folder = write_image_folder(tmp_path / "grey", LEAVES, train=3, test=2, mode="L")
    data = load_folder(folder, tmp_path, "dataset.in_channels=1")
    assert data.train.images.shape == (9, 1, 16, 16) and len(data.mean) == 1


def test_a_file_that_is_not_an_image(tmp_path):
    folder = folder_of(tmp_path)
    bad = folder / "train" / "oak" / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(StudyError) as err:
        load_folder(folder, tmp_path)
    assert f"{bad} cannot be read as an image" in one_line(err)


def test_per_channel_normalisation_must_match_the_channels(tmp_path):
    cfg = compose_config("dataset=cifar10", "dataset.mean=[0.5,0.5]", "dataset.std=0.25")
    with pytest.raises(
        StudyError, match=r"dataset.mean must be null, a number, or one per channel \(3\)"
    ):
        validate(cfg)


# conf/dataset/fashion.yaml as the published studies' runs recorded it (at 7001608).
PUBLISHED_FASHION = """
name: fashion
# The torchvision class that reads <paths.data_dir>/FashionMNIST/raw.
torchvision_class: torchvision.datasets.FashionMNIST
num_classes: 10
image_size: 28
in_channels: 1
classes: [T-shirt/top, Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot]
# Pixel mean and std of this dataset's own training set (after scaling to [0, 1]).
mean: 0.2860
std: 0.3530
# Class-balanced subsets for quick runs; null = the whole split.
train_limit: null
test_limit: null
# A class-balanced hold-out of this many training images for model selection and tuning
# (val_loss, val_acc per epoch); 0 = none, the chapter's setting: it trains on all 60,000.
val_size: 0
# Which images are held out: the same for every run, seed and trial that shares it.
split_seed: 0
# Let torchvision download the files when they are missing (needs internet).
download: true
# Check each file's SHA-256 once per data folder (the result is cached in paths.cache_dir).
verify: true
sha256:
  train-images-idx3-ubyte: c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888
  train-labels-idx1-ubyte: bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9
  t10k-images-idx3-ubyte: 5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b
  t10k-labels-idx1-ubyte: 0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34
"""


def test_runs_made_before_datasets_were_described_by_data_are_the_same_runs(make_cfg):
    """A published run's config (before dataset.source, label, folder and files) reads as
    its new twin: it is skipped or resumed, never refused or regrouped."""
    new = OmegaConf.to_container(make_cfg("dataset=fashion"), resolve=True)
    old = copy.deepcopy(new)
    old["dataset"] = yaml.safe_load(PUBLISHED_FASHION)
    assert "torchvision_class" in old["dataset"] and "source" not in old["dataset"]
    assert config_differences(old, new) == []
    assert flat_config(old)["dataset.folder"] == "FashionMNIST/raw"
    other = OmegaConf.to_container(make_cfg("dataset=kmnist"), resolve=True)
    assert {"dataset.source", "dataset.folder"} <= set(config_differences(old, other))


def test_another_image_folder_is_another_run(make_cfg):
    """An image folder's files are the dataset: runs of two folders are never the same run."""
    yours = ["dataset=image_folder", "dataset.name=leaves", "dataset.classes=[a,b]"]
    one = OmegaConf.to_container(make_cfg(*yours, "dataset.folder=/a"), resolve=True)
    two = OmegaConf.to_container(make_cfg(*yours, "dataset.folder=/b"), resolve=True)
    assert config_differences(one, two) == ["dataset.folder"]


def test_an_image_folder_must_be_named():
    """Its name labels it in run folders, tables and figures."""
    cfg = compose_config("dataset=image_folder", "dataset.folder=/x", "dataset.classes=[a,b]")
    with pytest.raises(StudyError, match=r"dataset.name is not set"):
        validate(cfg)


def test_missing_files_are_downloaded_by_torchvision_when_allowed(tmp_path, monkeypatch):
    def download(self):  # what torchvision leaves behind: the IDX files and their archives
        write_kmnist(Path(self.root))

    monkeypatch.setattr(torchvision.datasets.KMNIST, "download", download)
    cfg = compose_config(*tiny_overrides(tmp_path / "data", tmp_path), "dataset=kmnist")
    dcfg = dataset_dict(cfg, download=False)
    with pytest.raises(StudyError) as err:
        load_dataset(dcfg, tmp_path / "data", tmp_path / "cache", CPU)
    assert f"looked in {tmp_path / 'data' / 'KMNIST' / 'raw'}" in one_line(err)
    assert "dataset.download=true" in str(err.value)
    data = load_dataset({**dcfg, "download": True}, tmp_path / "data", tmp_path / "cache", CPU)
    assert len(data.train) == 200 and data.classes[:2] == ["o", "ki"]


def test_parallel_runs_wait_for_one_decoding_and_read_its_cache(tmp_path, monkeypatch):
    """Two runs of a sweep starting on the same new folder: the second waits while the first
    decodes, then reads the first's cache instead of decoding the images again."""
    folder = folder_of(tmp_path)
    first = load_folder(folder, tmp_path)  # the tensors the first run decodes
    cfg = compose_config(
        *tiny_overrides(tmp_path, tmp_path),
        "dataset=image_folder",
        "dataset.name=leaves",
        f"dataset.folder={folder}",
        f"dataset.classes=[{','.join(LEAVES)}]",
        "dataset.image_size=16",
    )
    dcfg = dataset_dict(cfg)
    cache = image_folder.DecodedCache(tmp_path / "cache")
    key = image_folder._settings_key(
        cache.fingerprint(image_folder.list_images(dcfg, tmp_path)), dcfg
    )
    entry = cache.folder / f"{key}.pt"
    saved = entry.read_bytes()
    entry.unlink()  # as if the first run were still decoding
    monkeypatch.setattr(image_folder, "_decode", lambda *a: pytest.fail("decoded twice"))
    loaded, failed = [], []

    def second_run():
        try:
            loaded.append(load_dataset(dcfg, tmp_path, tmp_path / "cache", CPU))
        except BaseException as exc:  # noqa: BLE001  (reported by the assertion below)
            failed.append(exc)

    with cache.decoding(key):
        worker = threading.Thread(target=second_run)
        worker.start()
        worker.join(timeout=0.5)
        assert worker.is_alive()  # waiting for the lock, not decoding
        entry.write_bytes(saved)  # the first run finishes its decoding
    worker.join(timeout=60)
    assert not failed and torch.equal(loaded[0].train.images, first.train.images)


def test_a_finished_run_on_a_changed_image_folder_is_not_skipped(tmp_path):
    """The folder's files are the dataset: a run finished on other images is neither skipped
    nor overwritten; force=true moves it aside and trains on the images as they are now."""
    from cnn_study import experiment

    folder = folder_of(tmp_path)
    cfg = compose_config(
        *tiny_overrides(tmp_path, tmp_path),
        "dataset=image_folder",
        "dataset.name=leaves",
        f"dataset.folder={folder}",
        f"dataset.classes=[{','.join(LEAVES)}]",
        "dataset.image_size=16",
        "trainer.epochs=1",
    )
    first = experiment.run(cfg, tmp_path / "run")
    metrics = tmp_path / "run" / "metrics.csv"
    stamp = metrics.stat().st_mtime_ns
    assert experiment.run(cfg, tmp_path / "run") == first  # unchanged: skipped
    assert metrics.stat().st_mtime_ns == stamp

    Image.fromarray(np.full((16, 16, 3), 200, np.uint8), "RGB").save(
        folder / "test" / "oak" / "new.png"
    )
    with pytest.raises(StudyError) as err:
        experiment.run(cfg, tmp_path / "run")
    assert "finished on other images" in one_line(err) and "force=true" in str(err.value)
    assert metrics.stat().st_mtime_ns == stamp  # nothing written

    cfg.force = True
    second = experiment.run(cfg, tmp_path / "run")
    assert second["test_size"] == first["test_size"] + 1
    assert second["data_fingerprint"] != first["data_fingerprint"]
    assert len(list(tmp_path.glob(".run.replaced-*"))) == 1  # the old run, moved aside
