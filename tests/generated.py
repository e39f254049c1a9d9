"""Tiny datasets written in each real format, since these machines cannot download the real
ones: KMNIST's IDX files and their gzip archives, CIFAR-10's pickled batches, and a folder of
PNG images. Each image is noise with a bright bar whose place depends on its class, so that
a model learns it in an epoch or two.
"""

from __future__ import annotations

import gzip
import hashlib
import pickle
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from tests.conftest import make_dataset

CIFAR_CLASSES = ["airplane", "automobile", "bird", "cat", "deer"]
CIFAR_CLASSES += ["dog", "frog", "horse", "ship", "truck"]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def barred(labels: np.ndarray, channels: int, size: int, seed: int) -> np.ndarray:
    """(N, C, H, W) uint8: noise, and a bar at a row set by the class (a colour, too, where
    there are three channels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, (len(labels), channels, size, size), dtype=np.uint8)
    for i, label in enumerate(labels):
        row = 1 + (size - 4) * int(label) // 10
        images[i, int(label) % channels, row : row + 3, 2 : size - 2] = 250
    return images


def write_kmnist(root: Path, train: int = 200, test: int = 100) -> list[dict[str, str]]:
    """KMNIST/raw as torchvision leaves it after a download: the IDX files and their .gz
    archives. Returns dataset.files for them (MD5 of the archives, as torchvision lists)."""
    raw = make_dataset(root, "KMNIST", train=train, test=test, seed=20)
    files = []
    for path in sorted(raw.iterdir()):
        archive = path.with_name(path.name + ".gz")
        archive.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
        files += [{"name": path.name}, {"name": archive.name, "md5": md5(archive)}]
    return files


def _pickle(path: Path, entry: dict) -> None:
    path.write_bytes(pickle.dumps(entry, protocol=2))


def write_cifar10(root: Path, train: int = 250, test: int = 100) -> dict[str, str]:
    """cifar-10-batches-py as CIFAR-10's tarball holds it: five training batches, a test
    batch, and batches.meta, each a pickled dict with rows of 3072 bytes (channel-major).
    Returns each file's MD5."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    labels = np.arange(train) % 10
    images = barred(labels, 3, 32, seed=30)
    for b, part in enumerate(np.array_split(np.arange(train), 5), start=1):
        _pickle(
            folder / f"data_batch_{b}",
            {
                "batch_label": f"training batch {b} of 5",
                "labels": labels[part].tolist(),
                "data": images[part].reshape(len(part), 3 * 32 * 32),
                "filenames": [f"{i}.png" for i in part],
            },
        )
    test_labels = np.arange(test) % 10
    _pickle(
        folder / "test_batch",
        {
            "batch_label": "testing batch 1 of 1",
            "labels": test_labels.tolist(),
            "data": barred(test_labels, 3, 32, seed=31).reshape(test, 3 * 32 * 32),
            "filenames": [f"{i}.png" for i in range(test)],
        },
    )
    _pickle(
        folder / "batches.meta",
        {"label_names": CIFAR_CLASSES, "num_cases_per_batch": train // 5, "num_vis": 3072},
    )
    return {p.name: md5(p) for p in sorted(folder.iterdir())}


def write_image_folder(
    root: Path,
    classes: list[str],
    train: int = 12,
    test: int = 6,
    size: int = 16,
    mode: str = "RGB",
    seed: int = 40,
) -> Path:
    """<root>/train/<class>/<i>.png and <root>/test/<class>/<i>.png, train and test images
    per class."""
    channels = len(mode)
    for split, n, offset in (("train", train, 0), ("test", test, 1)):
        labels = np.repeat(np.arange(len(classes)), n)
        images = barred(labels, channels, size, seed + offset)
        for i, (label, image) in enumerate(zip(labels, images, strict=True)):
            folder = root / split / classes[label]
            folder.mkdir(parents=True, exist_ok=True)
            pixels = image[0] if channels == 1 else image.transpose(1, 2, 0)
            Image.fromarray(pixels, mode).save(folder / f"{i:04d}.png")
    return root


def expected_stats(images: np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean and population std of (N, C, H, W) uint8 images in [0, 1], by numpy
    (an independent check of the loader's own computation)."""
    scaled = images.astype(np.float64) / 255
    return scaled.mean(axis=(0, 2, 3)).tolist(), scaled.std(axis=(0, 2, 3)).tolist()


def png_pixels(root: Path, split: str, classes: list[str]) -> np.ndarray:
    """The folder's images as (N, C, H, W), in the loader's order (class, then file name)."""
    stack = []
    for cls in classes:
        for path in sorted((root / split / cls).glob("*.png")):
            pixels = np.asarray(Image.open(path))
            stack.append(pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1))
    return np.stack(stack)


def as_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(images))
