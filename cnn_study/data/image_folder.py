"""Read a folder of one's own images: <folder>/train/<class>/*.png and <folder>/test/<class>/*.png.

The images are decoded once and cached as tensors under the cache folder (never in the image
folder), keyed by the files' contents and the settings that shape them: a second run starts
from the cache as fast as MNIST starts, and an edited, added or removed image makes a new
entry. Which cache entry a folder holds is remembered by the files' sizes and modification
times, so a second run does not even re-read the images to hash them.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from cnn_study.data.files import dataset_folder
from cnn_study.data.raw import RawData, RawSplit
from cnn_study.data.sources import Source, register_source
from cnn_study.errors import StudyError
from cnn_study.fileio import JsonCache, atomic_file, file_lock

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
MODES = {1: "L", 3: "RGB"}  # dataset.in_channels -> the PIL mode its images are read in
_LAYOUT = "train/<class>/*.png and test/<class>/*.png"


@dataclass(frozen=True)
class ImageFile:
    path: str  # a str, not a Path: building 60,000 Paths costs more than listing the files
    name: str
    label: int  # the class's index in dataset.classes
    stamp: str  # name, size and modification time: changes whenever the file is touched


@dataclass(frozen=True)
class Listing:
    """The image files of a folder, by split, in class then name order."""

    root: Path
    files: dict[str, list[ImageFile]]  # split -> its images

    def __len__(self) -> int:
        return sum(len(f) for f in self.files.values())

    def stamp(self) -> str:
        """Changes whenever a file is added, removed, renamed, moved to another class,
        resized or touched."""
        digest = hashlib.sha256()
        for split in SPLITS:
            for image in self.files[split]:
                digest.update(f"{split}\0{image.label}\0{image.stamp}\n".encode())
        return digest.hexdigest()

    def contents(self) -> str:
        """Changes whenever an image's bytes, name or class change."""
        digest = hashlib.sha256()
        for split in SPLITS:
            for image in self.files[split]:
                with open(image.path, "rb") as f:
                    body = hashlib.sha256(f.read()).hexdigest()
                digest.update(f"{split}\0{image.label}\0{image.name}\0{body}\n".encode())
        return digest.hexdigest()


def _images_in(folder: Path, label: int) -> list[ImageFile]:
    """A class folder's images, by name (os.scandir: one stat per file, which the stamp
    reuses; a folder of 60,000 images is listed in a fraction of a second)."""
    if not folder.is_dir():
        return []
    found = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.lower().endswith(EXTENSIONS):
                continue
            if entry.is_file():
                stat = entry.stat()
                stamp = f"{entry.name}\0{stat.st_size}\0{stat.st_mtime_ns}"
                found.append(ImageFile(entry.path, entry.name, label, stamp))
    return sorted(found, key=lambda image: image.name)


def list_images(dataset_cfg: Mapping[str, Any], data_dir: str | Path) -> Listing:
    """Every image of both splits, checked against dataset.classes."""
    root = dataset_folder(dataset_cfg, data_dir)
    name, classes = dataset_cfg["name"], [str(c) for c in dataset_cfg["classes"]]
    if not root.is_dir():
        raise StudyError(
            f"{name}: image folder {root} not found",
            f"set dataset.folder=/path/to/images, a folder holding {_LAYOUT}",
        )
    files: dict[str, list[ImageFile]] = {}
    for split in SPLITS:
        folder = root / split
        found = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
        files[split] = [
            image for label, cls in enumerate(classes) for image in _images_in(folder / cls, label)
        ]
        strangers = [f for f in found if f not in classes and not f.startswith(".")]
        if strangers:
            raise StudyError(
                f"{name}: {folder / strangers[0]} is not one of dataset.classes "
                f"({', '.join(classes)})",
                "add it to dataset.classes, or move the folder out of the dataset",
            )
    if not any(files.values()):
        raise StudyError(
            f"{name}: no images in {root} (looked for {_LAYOUT}, with "
            f"{', '.join(e.lstrip('.') for e in EXTENSIONS[:4])}... files)",
            "put the images there, or point dataset.folder at them",
        )
    for split in SPLITS:
        present = {image.label for image in files[split]}
        for label, cls in enumerate(classes):
            if label not in present:
                raise StudyError(
                    f"{name}: no {split} images of class {cls!r} (looked in {root / split / cls})",
                    "every class in dataset.classes needs images in both train/ and test/; "
                    "add some, or take the class out of dataset.classes",
                )
    return Listing(root, files)


def _decode(path: str, dataset_cfg: Mapping[str, Any]) -> np.ndarray:
    """One image as a (C, H, W) uint8 array of the dataset's mode and size."""
    mode, size = MODES[dataset_cfg["in_channels"]], dataset_cfg["image_size"]
    try:
        with Image.open(path) as opened:
            image = opened
            if image.mode != mode:
                if not dataset_cfg["convert"]:
                    raise StudyError(
                        f"{path} is a {image.mode} image, but dataset.in_channels="
                        f"{dataset_cfg['in_channels']} reads {mode} images",
                        f"set dataset.convert=true to convert every image to {mode}, or "
                        "convert the files",
                    )
                image = image.convert(mode)
            if image.size != (size, size):
                if not dataset_cfg["resize"]:
                    raise StudyError(
                        f"{path} is {image.size[0]}x{image.size[1]} pixels, not the "
                        f"{size}x{size} of dataset.image_size",
                        f"set dataset.resize=true to resize every image to {size}x{size}, or "
                        "make dataset.image_size the images' size",
                    )
                image = image.resize((size, size), Image.Resampling.BILINEAR)
            pixels = np.array(image, dtype=np.uint8)  # a copy: the file closes after this
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise StudyError(
            f"{path} cannot be read as an image ({type(exc).__name__}: {exc})",
            "replace or remove the file",
        ) from None
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def _decode_split(files: list[ImageFile], dataset_cfg: Mapping[str, Any]) -> tuple:
    channels, size = dataset_cfg["in_channels"], dataset_cfg["image_size"]
    images = torch.empty((len(files), channels, size, size), dtype=torch.uint8)
    for i, image in enumerate(files):
        images[i] = torch.from_numpy(_decode(image.path, dataset_cfg))
    return images, torch.tensor([image.label for image in files], dtype=torch.int64)


class DecodedCache:
    """Decoded folders under cache_dir/image_folders: <key>.pt, and index.json, which maps a
    folder to the contents fingerprint its files had at their last stamp."""

    def __init__(self, cache_dir: str | Path):
        self.folder = Path(cache_dir) / "image_folders"
        self.index_file = self.folder / "index.json"
        self.index = JsonCache(self.index_file)

    def fingerprint(self, listing: Listing) -> str:
        """The folder's contents fingerprint: remembered while its stamp holds, else hashed."""
        key, stamp = str(listing.root.resolve()), listing.stamp()
        known = self.index.get(key)
        if known and known.get("stamp") == stamp:
            return known["fingerprint"]
        fingerprint = listing.contents()
        self.index.put(key, {"stamp": stamp, "fingerprint": fingerprint})
        return fingerprint

    def load(self, key: str) -> dict[str, torch.Tensor] | None:
        path = self.folder / f"{key}.pt"
        if not path.is_file():
            return None
        try:
            return torch.load(path, weights_only=True)
        except Exception as exc:  # a damaged entry is only decoded again
            log.warning("ignoring the damaged cache entry %s (%s)", path, exc)
            return None

    def save(self, key: str, tensors: dict[str, torch.Tensor]) -> None:
        path = self.folder / f"{key}.pt"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_file(path) as tmp:
                torch.save(tensors, tmp)  # straight to the file: no second copy in memory
        except (OSError, RuntimeError) as exc:  # torch.save's I/O errors are RuntimeErrors
            # A cache that cannot be written only costs decoding again next time.
            log.warning("could not write the image cache %s: %s", path, exc)

    @contextlib.contextmanager
    def decoding(self, key: str) -> Iterator[None]:
        """Held while one process decodes a folder: the parallel runs of a sweep wait for it
        and then read its cache, rather than all decoding the same images at once."""
        with file_lock(self.folder / f"{key}.lock", optional=True):  # no cache: decode alone
            yield


def _settings_key(fingerprint: str, dataset_cfg: Mapping[str, Any]) -> str:
    """The cache entry of these contents decoded with these settings."""
    shaping = {
        k: dataset_cfg[k] for k in ("in_channels", "image_size", "resize", "convert", "classes")
    }
    shaping["classes"] = [str(c) for c in shaping["classes"]]
    text = fingerprint + json.dumps(shaping, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def read(
    dataset_cfg: Mapping[str, Any],
    data_dir: str | Path,
    cache_dir: str | Path,
    check_memory: Callable[[int, int], None],
) -> RawData:
    """Both splits, from the cache when these files were decoded with these settings before
    (settings checked by ImageFolderSource.check)."""
    listing = list_images(dataset_cfg, data_dir)
    check_memory(len(listing.files["train"]), len(listing.files["test"]))
    cache = DecodedCache(cache_dir)
    fingerprint = cache.fingerprint(listing)
    key = _settings_key(fingerprint, dataset_cfg)
    with cache.decoding(key):
        tensors = cache.load(key)
        if tensors is None:
            log.info(
                "decoding %d images of %s (once: cached in %s)",
                len(listing),
                listing.root,
                cache.folder,
            )
            tensors = {}
            for split in SPLITS:
                images, labels = _decode_split(listing.files[split], dataset_cfg)
                tensors[f"{split}_images"], tensors[f"{split}_labels"] = images, labels
            cache.save(key, tensors)
    splits = {
        split: RawSplit(
            tensors[f"{split}_images"], tensors[f"{split}_labels"], str(listing.root / split)
        )
        for split in SPLITS
    }
    # The tensors' identity: these contents, shaped by these settings.
    return RawData(train=splits["train"], test=splits["test"], fingerprint=key)


def current_fingerprint(
    dataset_cfg: Mapping[str, Any], data_dir: str | Path, cache_dir: str | Path
) -> str | None:
    """The fingerprint read() would record for the folder as it is now, without decoding it
    (from the stamps where they still hold); None where the folder cannot be listed."""
    try:
        listing = list_images(dataset_cfg, data_dir)
    except StudyError:
        return None
    return _settings_key(DecodedCache(cache_dir).fingerprint(listing), dataset_cfg)


@register_source("image_folder")
class ImageFolderSource(Source):
    """A folder of one's own images (dataset.source=image_folder)."""

    shrink_fix = "smaller images (dataset.image_size with dataset.resize=true)"

    def check(self, dataset: Mapping[str, Any]) -> None:
        for key in ("resize", "convert"):
            if not isinstance(dataset[key], bool):
                raise StudyError(f"dataset.{key} must be true or false, got {dataset[key]!r}")
        if dataset["in_channels"] not in MODES:
            raise StudyError(
                f"dataset.in_channels={dataset['in_channels']}: an image folder is read as "
                "greyscale (1) or RGB (3) images",
                "set dataset.in_channels=1 or 3",
            )

    def read(
        self,
        dataset: Mapping[str, Any],
        data_dir: str | Path,
        cache_dir: str | Path,
        check_memory: Callable[[int, int], None],
    ) -> RawData:
        return read(dataset, data_dir, cache_dir, check_memory)

    def current_fingerprint(
        self, dataset: Mapping[str, Any], data_dir: str | Path, cache_dir: str | Path
    ) -> str | None:
        # The folder's files are the dataset: they may change under the same config.
        return current_fingerprint(dataset, data_dir, cache_dir)
