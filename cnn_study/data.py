"""Find, verify and load a dataset into normalised tensors on the training device.

A dataset is described by its config (conf/dataset/*.yaml): the torchvision class that reads
it, its classes, its normalisation, and the SHA-256 of each raw file. Files are read through
torchvision's own dataset classes; this module only checks them first, so that a corrupt or
truncated file stops the run with a message naming the file, not a traceback from deep inside
a reader.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from hydra.utils import get_class

from cnn_study.errors import StudyError

log = logging.getLogger(__name__)

# torchvision's layout of the MNIST family: <root>/<ClassName>/raw/<file>, uncompressed IDX.
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_IMAGES = 0x00000803  # unsigned bytes, 3 dimensions
_IDX_LABELS = 0x00000801  # unsigned bytes, 1 dimension


@dataclass(frozen=True)
class Split:
    """One split held whole: normalised images (N, C, H, W) float32 and labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Dataset:
    name: str
    classes: list[str]
    train: Split
    test: Split
    # A hold-out from the training set for model selection and tuning; None without one.
    val: Split | None = None
    # SHA-256 of the held-out indices: runs that report the same one saw the same split.
    split_fingerprint: str | None = None


def raw_folder(data_dir: str | Path, torchvision_class: str) -> Path:
    """Where torchvision's class keeps its files below data_dir."""
    return Path(data_dir) / torchvision_class.rsplit(".", 1)[-1] / "raw"


def _missing_files(raw: Path) -> list[str]:
    return [name for names in SPLIT_FILES.values() for name in names if not (raw / name).is_file()]


def _idx_header(path: Path, magic: int) -> list[int]:
    """Check an IDX file's magic number and size; return its dimensions."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(4)
        if len(head) < 4:
            raise StudyError(f"{path}: truncated ({size} bytes), not an IDX file: fetch it again")
        found = int.from_bytes(head, "big")
        if found != magic:
            raise StudyError(
                f"{path}: wrong magic number 0x{found:08x} (expected 0x{magic:08x}): "
                "this is not the right IDX file, fetch it again"
            )
        ndim = magic & 0xFF
        dims_raw = f.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise StudyError(f"{path}: truncated header ({size} bytes): fetch the file again")
    dims = [int.from_bytes(dims_raw[i : i + 4], "big") for i in range(0, 4 * ndim, 4)]
    expected = 4 + 4 * ndim + math.prod(dims)
    if size != expected:
        raise StudyError(
            f"{path}: {size} bytes but its header {dims} needs {expected}: the file is "
            "truncated or corrupt, fetch it again"
        )
    return dims


def check_structure(raw: Path) -> None:
    """Magic numbers, sizes, and image/label counts that agree, for both splits."""
    for images_name, labels_name in SPLIT_FILES.values():
        images = _idx_header(raw / images_name, _IDX_IMAGES)
        labels = _idx_header(raw / labels_name, _IDX_LABELS)
        if images[0] != labels[0]:
            raise StudyError(
                f"{raw / images_name} holds {images[0]} images but {raw / labels_name} holds "
                f"{labels[0]} labels: the two files do not belong together, fetch both again"
            )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ChecksumCache:
    """Remembers files whose SHA-256 matched, keyed by path, size and modification time.

    It lives in the user's cache folder, never in the data folder (which may be read-only).
    """

    def __init__(self, path: Path):
        self.path = path
        try:
            self._entries: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            self._entries = {}

    @staticmethod
    def _key(file: Path) -> tuple[str, list[int]]:
        stat = file.stat()
        return str(file.resolve()), [stat.st_size, stat.st_mtime_ns]

    def known_good(self, file: Path, sha256: str) -> bool:
        name, stamp = self._key(file)
        return self._entries.get(name) == {"stamp": stamp, "sha256": sha256}

    def remember(self, file: Path, sha256: str) -> None:
        name, stamp = self._key(file)
        self._entries[name] = {"stamp": stamp, "sha256": sha256}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self._entries, indent=1))
            os.replace(tmp, self.path)
        except OSError as exc:  # a read-only home only costs re-hashing next time
            log.debug("could not write checksum cache %s: %s", self.path, exc)


def verify_checksums(raw: Path, sha256: Mapping[str, str], cache: ChecksumCache) -> None:
    for name, expected in sha256.items():
        file = raw / name
        if cache.known_good(file, expected):
            continue
        found = _sha256(file)
        if found != expected:
            raise StudyError(
                f"{file}: SHA-256 {found[:16]}... does not match the expected "
                f"{expected[:16]}...: the file is corrupt or another version; fetch it again "
                "(or set dataset.verify=false to use it anyway)"
            )
        cache.remember(file, expected)


def balanced_indices(labels: torch.Tensor, limit: int | None, num_classes: int) -> torch.Tensor:
    """Indices of the first examples of each class, as even across classes as limit allows.

    The subset depends only on the data, not on the run's seed, so every seed of a study
    trains on the same examples. Indices keep the dataset's order.
    """
    if limit is None or limit >= len(labels):
        return torch.arange(len(labels))
    per_class = [
        limit // num_classes + (1 if c < limit % num_classes else 0) for c in range(num_classes)
    ]
    chosen = [torch.nonzero(labels == c).flatten()[:n] for c, n in enumerate(per_class)]
    return torch.sort(torch.cat(chosen)).values


def validation_indices(
    labels: torch.Tensor, val_size: int, num_classes: int, split_seed: int
) -> torch.Tensor:
    """A class-balanced random hold-out of val_size indices, sorted.

    It depends only on the labels and split_seed, never on a run's seed, so every run, seed
    and tuning trial of a study holds out the same images. Classes get val_size // classes
    images each, the first val_size % classes classes one more.
    """
    generator = torch.Generator().manual_seed(split_seed)
    chosen = []
    for c in range(num_classes):
        members = torch.nonzero(labels == c).flatten()
        wanted = val_size // num_classes + (1 if c < val_size % num_classes else 0)
        if wanted >= len(members):
            raise StudyError(
                f"dataset.val_size={val_size} holds out {wanted} images of class {c}, which "
                f"has only {len(members)} training images: choose a smaller dataset.val_size"
            )
        chosen.append(members[torch.randperm(len(members), generator=generator)[:wanted]])
    return torch.sort(torch.cat(chosen)).values


def split_fingerprint(indices: torch.Tensor) -> str:
    return hashlib.sha256(indices.to(torch.int64).numpy().tobytes()).hexdigest()


def locate(dataset_cfg: Mapping[str, Any], data_dir: str | Path) -> Path:
    """The raw folder of a dataset, downloading into data_dir when allowed and missing."""
    raw = raw_folder(data_dir, dataset_cfg["torchvision_class"])
    missing = _missing_files(raw)
    if not missing:
        return raw
    how = (
        f"set CNN_STUDY_DATA_DIR=/path/to/datasets or paths.data_dir=/path/to/datasets "
        f"(a folder holding {raw.parent.name}/raw/)"
    )
    if not dataset_cfg["download"]:
        raise StudyError(
            f"{dataset_cfg['name']} data not found: looked in {raw} "
            f"(missing {', '.join(missing)}); {how}, or allow download with dataset.download=true"
        )
    log.info("%s not found in %s: downloading it there", dataset_cfg["name"], raw)
    cls = get_class(dataset_cfg["torchvision_class"])
    try:
        for train in (True, False):
            cls(root=str(data_dir), train=train, download=True)
    except Exception as exc:
        raise StudyError(
            f"{dataset_cfg['name']} data not found in {raw} and the download failed "
            f"({type(exc).__name__}: {(str(exc) or 'no detail').splitlines()[0]}); {how}"
        ) from None
    return raw


def _read_split(
    dataset_cfg: Mapping[str, Any], data_dir: Path, train: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """One split's images and labels, whole, as torchvision reads them."""
    cls = get_class(dataset_cfg["torchvision_class"])
    try:
        ds = cls(root=str(data_dir), train=train, download=False)
    except Exception as exc:
        raise StudyError(
            f"{cls.__name__} could not read {raw_folder(data_dir, cls.__name__)}: {exc}"
        ) from None
    images, labels = ds.data, ds.targets.long()
    num_classes = dataset_cfg["num_classes"]
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        split = "train" if train else "test"
        file = raw_folder(data_dir, cls.__name__) / SPLIT_FILES[split][1]
        raise StudyError(
            f"{file}: labels range {labels.min().item()}..{labels.max().item()}, outside "
            f"0..{num_classes - 1}: the file is corrupt, fetch it again"
        )
    return images, labels


def load_dataset(
    dataset_cfg: Mapping[str, Any],
    data_dir: str | Path,
    cache_dir: str | Path,
    device: torch.device,
    channels_last: bool = False,
) -> Dataset:
    """Verify and load both splits, normalised once, as tensors on the device."""
    raw = locate(dataset_cfg, data_dir)
    check_structure(raw)
    if dataset_cfg["verify"]:
        verify_checksums(
            raw, dataset_cfg["sha256"], ChecksumCache(Path(cache_dir) / "verified.json")
        )

    mean, std = float(dataset_cfg["mean"]), float(dataset_cfg["std"])
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    num_classes = dataset_cfg["num_classes"]

    def to_split(images: torch.Tensor, labels: torch.Tensor) -> Split:
        if images.ndim == 3:  # (N, H, W) greyscale -> (N, 1, H, W)
            images = images.unsqueeze(1)
        images = images.to(device).float().div_(255).sub_(mean).div_(std)
        return Split(images.contiguous(memory_format=memory_format), labels.to(device))

    def limited(images, labels, limit: int | None) -> Split:
        keep = balanced_indices(labels, limit, num_classes)
        return to_split(images[keep], labels[keep])

    train_images, train_labels = _read_split(dataset_cfg, Path(data_dir), train=True)
    test_images, test_labels = _read_split(dataset_cfg, Path(data_dir), train=False)
    val, fingerprint = None, None
    val_size = dataset_cfg.get("val_size") or 0
    if val_size:
        # Held out of the whole training split first, so that train_limit never moves it.
        held = validation_indices(train_labels, val_size, num_classes, dataset_cfg["split_seed"])
        rest = torch.ones(len(train_labels), dtype=torch.bool)
        rest[held] = False
        val, fingerprint = to_split(train_images[held], train_labels[held]), split_fingerprint(held)
        train_images, train_labels = train_images[rest], train_labels[rest]

    return Dataset(
        name=dataset_cfg["name"],
        classes=list(dataset_cfg["classes"]),
        train=limited(train_images, train_labels, dataset_cfg["train_limit"]),
        test=limited(test_images, test_labels, dataset_cfg["test_limit"]),
        val=val,
        split_fingerprint=fingerprint,
    )
