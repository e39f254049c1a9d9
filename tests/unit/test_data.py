"""Loading through torchvision, balanced subsets, and a clear message for every bad file."""

import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from cnn_study import data
from cnn_study.data import files
from cnn_study.errors import StudyError
from tests.conftest import make_dataset, write_idx

CPU = torch.device("cpu")


def dataset_cfg(make_cfg, *overrides):
    from omegaconf import OmegaConf

    cfg = make_cfg(*overrides)
    return OmegaConf.to_container(cfg.dataset, resolve=True), cfg


def test_tiny_files_load_as_normalised_tensors(make_cfg, tiny_data, tmp_path):
    dcfg, _ = dataset_cfg(make_cfg)
    ds = data.load_dataset(dcfg, tiny_data, tmp_path, CPU)
    assert ds.train.images.shape == (200, 1, 28, 28) and ds.test.images.shape == (100, 1, 28, 28)
    assert ds.train.images.dtype == torch.float32 and ds.train.labels.dtype == torch.int64
    # normalised with the config's mean and std: pixel 0 maps to -mean/std
    assert ds.train.images.min().item() == pytest.approx(-0.1307 / 0.3081, abs=1e-4)
    assert ds.classes == [str(i) for i in range(10)]


def test_channels_last_holds_the_same_values(make_cfg, tiny_data, tmp_path):
    dcfg, _ = dataset_cfg(make_cfg)
    plain = data.load_dataset(dcfg, tiny_data, tmp_path, CPU)
    fast = data.load_dataset(dcfg, tiny_data, tmp_path, CPU, channels_last=True)
    assert torch.equal(plain.train.images, fast.train.images)


@pytest.mark.parametrize("limit", [10, 37, 100])
def test_limits_take_balanced_subsets(make_cfg, tiny_data, tmp_path, limit):
    dcfg, _ = dataset_cfg(make_cfg, f"dataset.train_limit={limit}", "dataset.test_limit=20")
    ds = data.load_dataset(dcfg, tiny_data, tmp_path, CPU)
    counts = torch.bincount(ds.train.labels, minlength=10)
    assert counts.sum() == limit and counts.max() - counts.min() <= 1
    assert torch.bincount(ds.test.labels, minlength=10).tolist() == [2] * 10


def test_subset_keeps_the_first_examples_of_each_class():
    labels = torch.tensor([0, 1, 0, 1, 0, 1])
    assert data.balanced_indices(labels, 4, 2).tolist() == [0, 1, 2, 3]


def test_missing_data_names_the_folder_and_the_fixes(make_cfg, tmp_path):
    dcfg, _ = dataset_cfg(make_cfg)
    with pytest.raises(StudyError) as err:
        data.load_dataset(dcfg, tmp_path / "nowhere", tmp_path, CPU)
    message = str(err.value)
    assert str(tmp_path / "nowhere" / "MNIST" / "raw") in message
    assert "CNN_STUDY_DATA_DIR" in message and "dataset.download=true" in message


def test_failed_download_is_one_clear_error(make_cfg, tmp_path, monkeypatch):
    dcfg, _ = dataset_cfg(make_cfg, "dataset.download=true")

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr("torchvision.datasets.MNIST.download", offline)
    with pytest.raises(StudyError, match="download failed .*network is unreachable"):
        data.load_dataset(dcfg, tmp_path / "empty", tmp_path, CPU)


@pytest.fixture
def copy_of_tiny(tiny_data, tmp_path) -> Path:
    root = tmp_path / "copy"
    shutil.copytree(tiny_data, root)
    return root


def raw_file(root: Path, name: str) -> Path:
    return root / "MNIST" / "raw" / name


def corrupt_truncate(path):
    path.write_bytes(path.read_bytes()[:-100])


def corrupt_magic(path):
    path.write_bytes(b"\x00\x00\x08\x02" + path.read_bytes()[4:])


def corrupt_empty(path):
    path.write_bytes(b"\x00\x00")


@pytest.mark.parametrize(
    ("name", "corrupt", "expected"),
    [
        ("train-images-idx3-ubyte", corrupt_truncate, "truncated or corrupt"),
        ("t10k-labels-idx1-ubyte", corrupt_magic, "wrong magic number"),
        ("train-labels-idx1-ubyte", corrupt_empty, "truncated"),
    ],
)
def test_broken_files_are_named(make_cfg, copy_of_tiny, tmp_path, name, corrupt, expected):
    corrupt(raw_file(copy_of_tiny, name))
    dcfg, _ = dataset_cfg(make_cfg)
    with pytest.raises(StudyError) as err:
        data.load_dataset(dcfg, copy_of_tiny, tmp_path, CPU)
    assert str(raw_file(copy_of_tiny, name)) in str(err.value) and expected in str(err.value)


def test_image_and_label_counts_must_agree(make_cfg, copy_of_tiny, tmp_path):
    write_idx(raw_file(copy_of_tiny, "t10k-labels-idx1-ubyte"), torch.arange(90) % 10)
    dcfg, _ = dataset_cfg(make_cfg)
    with pytest.raises(StudyError, match="100 images but .* 90 labels"):
        data.load_dataset(dcfg, copy_of_tiny, tmp_path, CPU)


def test_labels_outside_the_classes_are_refused(make_cfg, copy_of_tiny, tmp_path):
    write_idx(raw_file(copy_of_tiny, "train-labels-idx1-ubyte"), torch.arange(200) % 12)
    dcfg, _ = dataset_cfg(make_cfg)
    with pytest.raises(StudyError, match=r"MNIST/raw \(train split\): labels range 0..11"):
        data.load_dataset(dcfg, copy_of_tiny, tmp_path, CPU)


IDX_NAMES = [n for pair in files.IDX_PAIRS for n in pair]


def sha_overrides(root: Path) -> list[str]:
    listed = ",".join(
        f"{{name:{n},sha256:{hashlib.sha256(raw_file(root, n).read_bytes()).hexdigest()}}}"
        for n in IDX_NAMES
    )
    return ["dataset.verify=true", f"dataset.files=[{listed}]"]


def test_checksum_mismatch_is_named_and_good_files_are_remembered(
    make_cfg, copy_of_tiny, tmp_path, monkeypatch
):
    dcfg, _ = dataset_cfg(make_cfg, *sha_overrides(copy_of_tiny))
    data.load_dataset(dcfg, copy_of_tiny, tmp_path / "cache", CPU)
    assert (tmp_path / "cache" / "verified.json").is_file()

    # The second use of the same folder trusts the cache: no file is hashed again.
    monkeypatch.setattr(files, "file_digest", lambda path, _: pytest.fail(f"re-hashed {path}"))
    data.load_dataset(dcfg, copy_of_tiny, tmp_path / "cache", CPU)
    monkeypatch.undo()

    dcfg["files"][2] = {"name": "t10k-images-idx3-ubyte", "sha256": "0" * 64}
    with pytest.raises(StudyError, match="t10k-images-idx3-ubyte: SHA-256 .* does not match"):
        data.load_dataset(dcfg, copy_of_tiny, tmp_path / "cache", CPU)


def test_a_changed_file_is_hashed_again(make_cfg, copy_of_tiny, tmp_path):
    dcfg, _ = dataset_cfg(make_cfg, *sha_overrides(copy_of_tiny))
    data.load_dataset(dcfg, copy_of_tiny, tmp_path / "cache", CPU)
    # Same size, other bytes (and so another mtime): the cache must not vouch for it.
    path = raw_file(copy_of_tiny, "train-images-idx3-ubyte")
    body = bytearray(path.read_bytes())
    body[-1] ^= 0xFF
    path.write_bytes(bytes(body))
    with pytest.raises(StudyError, match="train-images-idx3-ubyte: SHA-256"):
        data.load_dataset(dcfg, copy_of_tiny, tmp_path / "cache", CPU)


def test_make_dataset_helper_writes_torchvision_layout(tmp_path):
    raw = make_dataset(tmp_path, "MNIST", train=20, test=10)
    assert sorted(p.name for p in raw.iterdir()) == sorted(IDX_NAMES)
