"""Read a dataset through its torchvision class: MNIST, FashionMNIST, KMNIST, CIFAR-10, or any
class that takes train=True/False and holds its images in .data and its labels in .targets.

torchvision knows each format (IDX files, pickled batches); this module only finds the files,
fetches them when allowed, checks them, and hands back whole uint8 tensors.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
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
    missing_files,
    required_names,
    verify_checksums,
)
from cnn_study.data.raw import RawData, RawSplit
from cnn_study.data.sources import Source, register_source
from cnn_study.errors import StudyError

log = logging.getLogger(__name__)


def _download(dataset_cfg: Mapping[str, Any], data_dir: str | Path, folder: Path, how: str):
    """torchvision fetches the files into data_dir (it skips what it already has)."""
    log.info("fetching %s into %s where missing", dataset_cfg["name"], data_dir)
    cls = get_class(dataset_cfg["source"])
    try:
        for train in (True, False):
            cls(root=str(data_dir), train=train, download=True)
    except Exception as exc:
        raise StudyError(
            f"{dataset_cfg['name']} data not found in {folder} and the download failed "
            f"({type(exc).__name__}: {(str(exc) or 'no detail').splitlines()[0]}); {how}"
        ) from None


def locate(dataset_cfg: Mapping[str, Any], data_dir: str | Path) -> Path:
    """The dataset's folder with every required file in it, downloading into data_dir when
    allowed and something is missing (or, where no file is listed, letting torchvision
    decide)."""
    folder = dataset_folder(dataset_cfg, data_dir)
    names = required_names(dataset_cfg)
    missing = missing_files(folder, names)
    how = (
        f"set CNN_STUDY_DATA_DIR=/path/to/datasets or paths.data_dir=/path/to/datasets "
        f"(a folder holding {dataset_cfg['folder']}/)"
    )
    if names and not missing:
        return folder
    if not dataset_cfg["download"]:
        if not names:
            return folder  # nothing listed to look for: the reader says what it lacks
        raise StudyError(
            f"{dataset_cfg['name']} data not found: looked in {folder} (missing "
            f"{', '.join(missing)}); {how}, or allow download with dataset.download=true"
        )
    _download(dataset_cfg, data_dir, folder, how)
    still = missing_files(folder, names)
    if still:
        raise StudyError(
            f"{dataset_cfg['name']}: downloaded, but {folder} still lacks {', '.join(still)}: "
            "dataset.folder or dataset.files does not match where torchvision puts this "
            "dataset; fix the YAML"
        )
    return folder


def _as_nchw(data: Any, channels: int, where: str) -> torch.Tensor:
    """torchvision's .data as (N, C, H, W) uint8: (N, H, W) is greyscale; a 4-d stack is
    channels-first or channels-last (CIFAR's), told apart by dataset.in_channels."""
    images = torch.as_tensor(np.asarray(data))
    if images.dtype != torch.uint8:
        raise StudyError(f"{where}: images are {images.dtype}, not 8-bit: not supported")
    if images.ndim == 3:
        return images.unsqueeze(1)
    if images.ndim == 4 and images.shape[1] == channels:
        return images
    if images.ndim == 4 and images.shape[-1] == channels:
        return images.permute(0, 3, 1, 2).contiguous()
    raise StudyError(
        f"{where}: images of shape {tuple(images.shape)} have no axis of "
        f"dataset.in_channels={channels} channels",
        "set dataset.in_channels to the images' channel count",
    )


def _reader(dataset_cfg: Mapping[str, Any]) -> type:
    """The dataset class that reads the files. With dataset.verify=false the files are used
    as they are: the CIFAR family checks each file's MD5 (its train_list, test_list and meta)
    on every read, and would refuse the very files the user chose to trust. Without an MD5,
    torchvision checks only that each file is there."""
    cls = get_class(dataset_cfg["source"])
    if dataset_cfg["verify"]:
        return cls
    unchecked: dict[str, Any] = {}
    for name in ("train_list", "test_list"):
        listed = getattr(cls, name, None)
        if isinstance(listed, list):
            unchecked[name] = [[entry[0], None] for entry in listed]
    meta = getattr(cls, "meta", None)
    if isinstance(meta, dict) and "md5" in meta:
        unchecked["meta"] = {**meta, "md5": None}
    return type(cls.__name__, (cls,), unchecked) if unchecked else cls


def _read_split(dataset_cfg: Mapping[str, Any], data_dir: Path, folder: Path, train: bool):
    cls = _reader(dataset_cfg)
    try:
        ds = cls(root=str(data_dir), train=train, download=False)
    except Exception as exc:
        detail = (str(exc) or type(exc).__name__).splitlines()[0]
        fetch = "fetch the files again" + (
            ""
            if dataset_cfg["download"]
            else ", or let torchvision do it with dataset.download=true"
        )
        raise StudyError(f"{cls.__name__} could not read {folder} ({detail})", fetch) from None
    images = _as_nchw(ds.data, dataset_cfg["in_channels"], str(folder))
    labels = torch.as_tensor(np.asarray(ds.targets)).long()
    return RawSplit(images, labels, where=f"{folder} ({'train' if train else 'test'} split)")


def read(dataset_cfg: Mapping[str, Any], data_dir: str | Path, cache_dir: str | Path) -> RawData:
    """Both splits, whole, after the files were found and checked."""
    folder = locate(dataset_cfg, data_dir)
    check_idx_files(folder)
    files = list(dataset_cfg.get("files") or [])
    fingerprint = None
    if dataset_cfg["verify"]:
        cache = ChecksumCache(Path(cache_dir) / "verified.json")
        if verify_checksums(folder, files, cache):
            fingerprint = checksums_fingerprint(files)
        else:  # what was read is only known by its structure: identify it by its contents
            log.warning(
                "%s: optional files with checksums are absent from %s; the files read are "
                "checked by their structure only",
                dataset_cfg["name"],
                folder,
            )
    train = _read_split(dataset_cfg, Path(data_dir), folder, train=True)
    test = _read_split(dataset_cfg, Path(data_dir), folder, train=False)
    if fingerprint is None:  # unverified files: identify them by what was read
        digest = hashlib.sha256()
        for split in (train, test):
            digest.update(split.images.numpy().tobytes())
            digest.update(split.labels.numpy().tobytes())
        fingerprint = digest.hexdigest()
    return RawData(train=train, test=test, fingerprint=fingerprint)


@register_source("torchvision")
class TorchvisionSource(Source):
    """A dataset class named by its import path (dataset.source=torchvision.datasets.MNIST)."""

    def check(self, dataset: Mapping[str, Any]) -> None:
        try:
            get_class(dataset["source"])
        except Exception as exc:
            detail = (str(exc) or type(exc).__name__).splitlines()[0]
            raise StudyError(
                f"dataset.source={dataset['source']}: no such class ({detail})",
                "name a dataset class by its import path, e.g. torchvision.datasets.MNIST",
            ) from None

    def read(
        self,
        dataset: Mapping[str, Any],
        data_dir: str | Path,
        cache_dir: str | Path,
        check_memory: Callable[[int, int], None],
    ) -> RawData:
        raw = read(dataset, data_dir, cache_dir)  # the class reads it whole: sizes come after
        check_memory(len(raw.train.labels), len(raw.test.labels))
        return raw
