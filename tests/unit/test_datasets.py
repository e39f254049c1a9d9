"""Every dataset a YAML file can describe, on generated files in each real format: KMNIST's
IDX files and archives, CIFAR-10's pickled batches, a folder of PNGs. Each loads, is verified,
is normalised per channel, and trains a step with every model; each bad input stops with one
line naming the problem and the fix."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

from cnn_study.data import image_folder, load_dataset
from cnn_study.errors import StudyError
from cnn_study.runs import config_differences, flat_config
from cnn_study.settings import validate
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


def test_torchvisions_own_checksums_fail_on_other_files_in_one_line(formats, tmp_path):
    cfg = config(formats, tmp_path, "cifar10")  # files unverified by us; torchvision checks
    with pytest.raises(StudyError) as err:
        load_dataset(dataset_dict(cfg), formats["root"], tmp_path / "cache", CPU)
    assert "CIFAR10 could not read" in str(err.value) and "\n" not in str(err.value)


def test_a_dataset_larger_than_its_memory_stops_before_decoding(
    generated, formats, tmp_path, monkeypatch
):
    _, dcfg = generated_configs(generated)["leaves"]
    monkeypatch.setattr(image_folder, "_decode", lambda *a: pytest.fail("decoded"))
    with pytest.raises(StudyError) as err:
        load_dataset({**dcfg, "max_memory_gb": 1e-6}, formats["root"], tmp_path / "cache", CPU)
    message = str(err.value)
    assert "54 images of 3x16x16 need" in message and "dataset.max_memory_gb=1e-06" in message
    assert "dataset.train_limit" in message and "\n" not in message


def test_the_default_memory_limit_is_what_the_machine_has_free(
    generated, formats, tmp_path, monkeypatch
):
    _, dcfg = generated_configs(generated)["leaves"]
    from cnn_study.data import load

    monkeypatch.setattr(load, "available_memory", lambda device: 54 * 3 * 16 * 16 * 4)
    with pytest.raises(StudyError, match="80% of the memory free on cpu, shared by 2"):
        load_dataset(dcfg, formats["root"], tmp_path / "cache", CPU, parallel_jobs=2)
    monkeypatch.setattr(load, "available_memory", lambda device: 2 * 54 * 3 * 16 * 16 * 4)
    assert len(load_dataset(dcfg, formats["root"], tmp_path / "cache", CPU).train) == 36


# --- image folders ----------------------------------------------------------------------


def folder_of(tmp_path, **kwargs) -> Path:
    return write_image_folder(tmp_path / "images", LEAVES, train=3, test=2, **kwargs)


def load_folder(folder: Path, tmp_path, *overrides: str, **changes):
    cfg = compose_config(
        *tiny_overrides(tmp_path, tmp_path),
        "dataset=image_folder",
        "dataset.name=leaves",
        f"dataset.folder={folder}",
        f"dataset.classes=[{','.join(LEAVES)}]",
        "dataset.image_size=16",
        *overrides,
    )
    validate(cfg)
    return load_dataset(dataset_dict(cfg, **changes), tmp_path, tmp_path / "cache", CPU)


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


def test_runs_made_before_datasets_were_described_by_data_are_the_same_runs(make_cfg):
    """A published run's config (conf/dataset/mnist.yaml before dataset.source, label, folder
    and files) reads as its new twin: it is skipped or resumed, never refused or regrouped."""
    new = OmegaConf.to_container(make_cfg("dataset=mnist"), resolve=True)
    old = OmegaConf.to_container(make_cfg("dataset=mnist"), resolve=True)
    dataset = old["dataset"]
    dataset["torchvision_class"] = dataset.pop("source")
    dataset["sha256"] = {f["name"]: f["sha256"] for f in dataset.pop("files")}
    for key in ("label", "folder", "max_memory_gb"):
        del dataset[key]
    assert config_differences(old, new) == []
    assert flat_config(old)["dataset.source"] == "torchvision.datasets.MNIST"
    other = OmegaConf.to_container(make_cfg("dataset=kmnist"), resolve=True)
    assert "dataset.source" in config_differences(old, other)


def test_an_image_folder_must_be_named():
    """Its name keeps its runs apart from another folder's (the folder itself is where the
    files lie, like paths.data_dir, not what identifies a run)."""
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
