"""Read a dataset through its torchvision class: MNIST, FashionMNIST, KMNIST, CIFAR-10, or any
class that takes train=True/False and holds its images in .data and its labels in .targets.

torchvision knows each format (IDX files, pickled batches); this module only finds the files,
fetches them when allowed, checks them, and hands back whole uint8 tensors.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra.utils import get_class

from cnn_study.data.files import (
    ChecksumCache,
    check_idx_files,
    checksums_fingerprint,
    dataset_folder,
    listed_names,
    missing_files,
    verify_checksums,
)
from cnn_study.data.raw import RawData, RawSplit
from cnn_study.errors import StudyError

log = logging.getLogger(__name__)


def locate(dataset_cfg: Mapping[str, Any], data_dir: str | Path) -> Path:
    """The dataset's folder with every listed file in it, downloading into data_dir when
    allowed and something is missing."""
    folder = dataset_folder(dataset_cfg, data_dir)
    missing = missing_files(folder, listed_names(dataset_cfg))
    if not missing:
        return folder
    name = dataset_cfg["name"]
    how = (
        f"set CNN_STUDY_DATA_DIR=/path/to/datasets or paths.data_dir=/path/to/datasets "
        f"(a folder holding {dataset_cfg['folder']}/)"
    )
    if not dataset_cfg["download"]:
        raise StudyError(
            f"{name} data not found: looked in {folder} (missing {', '.join(missing)}); "
            f"{how}, or allow download with dataset.download=true"
        )
    log.info("%s not found in %s: downloading it into %s", name, folder, data_dir)
    cls = get_class(dataset_cfg["source"])
    try:
        for train in (True, False):
            cls(root=str(data_dir), train=train, download=True)
    except Exception as exc:
        raise StudyError(
            f"{name} data not found in {folder} and the download failed "
            f"({type(exc).__name__}: {(str(exc) or 'no detail').splitlines()[0]}); {how}"
        ) from None
    still = missing_files(folder, listed_names(dataset_cfg))
    if still:
        raise StudyError(
            f"{name}: downloaded, but {folder} still lacks {', '.join(still)}: dataset.folder "
            "or dataset.files does not match where torchvision puts this dataset; fix the YAML"
        )
    return folder


def _as_nchw(data: Any, where: str) -> torch.Tensor:
    """torchvision's .data as (N, C, H, W) uint8: (N, H, W) is greyscale, (N, H, W, C) is
    CIFAR's channels-last layout."""
    images = torch.as_tensor(np.asarray(data))
    if images.dtype != torch.uint8:
        raise StudyError(f"{where}: images are {images.dtype}, not 8-bit: not supported")
    if images.ndim == 3:
        return images.unsqueeze(1)
    if images.ndim == 4 and images.shape[-1] in (1, 3, 4) and images.shape[1] not in (1, 3, 4):
        return images.permute(0, 3, 1, 2).contiguous()
    if images.ndim == 4:
        return images
    raise StudyError(f"{where}: images of shape {tuple(images.shape)} are not a stack of images")


def _read_split(dataset_cfg: Mapping[str, Any], data_dir: Path, folder: Path, train: bool):
    cls = get_class(dataset_cfg["source"])
    try:
        ds = cls(root=str(data_dir), train=train, download=False)
    except Exception as exc:
        detail = (str(exc) or type(exc).__name__).splitlines()[0]
        raise StudyError(
            f"{cls.__name__} could not read {folder} ({detail})",
            "fetch the files again, or let torchvision do it with dataset.download=true",
        ) from None
    images = _as_nchw(ds.data, str(folder))
    labels = torch.as_tensor(np.asarray(ds.targets)).long()
    return RawSplit(images, labels, where=f"{folder} ({'train' if train else 'test'} split)")


def read(dataset_cfg: Mapping[str, Any], data_dir: str | Path, cache_dir: str | Path) -> RawData:
    """Both splits, whole, after the files were found and checked."""
    folder = locate(dataset_cfg, data_dir)
    check_idx_files(folder)
    files = list(dataset_cfg.get("files") or [])
    fingerprint = None
    if dataset_cfg["verify"]:
        verify_checksums(folder, files, ChecksumCache(Path(cache_dir) / "verified.json"))
        fingerprint = checksums_fingerprint(files)
    train = _read_split(dataset_cfg, Path(data_dir), folder, train=True)
    test = _read_split(dataset_cfg, Path(data_dir), folder, train=False)
    if fingerprint is None:  # unverified files: identify them by what was read
        digest = hashlib.sha256()
        for split in (train, test):
            digest.update(split.images.numpy().tobytes())
            digest.update(split.labels.numpy().tobytes())
        fingerprint = digest.hexdigest()
    return RawData(train=train, test=test, fingerprint=fingerprint)
