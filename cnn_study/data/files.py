"""A dataset's files on disk: where they are, whether they are all there, and whether they are
the files its config lists (checksums, and the IDX format's own sizes).

A dataset's config lists its files (dataset.files), each with a checksum where one is known:
torchvision's own published MD5 where torchvision has one (KMNIST's archives, CIFAR-10's
batches), a SHA-256 where we list it (MNIST, FashionMNIST). Files are checked here before any
reader opens them, so that a corrupt or truncated file stops the run with a line naming the
file, not a traceback from deep inside a reader.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cnn_study.errors import StudyError
from cnn_study.fileio import JsonCache

log = logging.getLogger(__name__)

ALGORITHMS = {"sha256": "SHA-256", "md5": "MD5"}  # dataset.files keys -> their names
_IDX_IMAGES = 0x00000803  # unsigned bytes, 3 dimensions
_IDX_LABELS = 0x00000801  # unsigned bytes, 1 dimension
# The MNIST family's pairs of IDX files (torchvision reads them uncompressed).
IDX_PAIRS = (
    ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
)


def dataset_folder(dataset_cfg: Mapping[str, Any], data_dir: str | Path) -> Path:
    """dataset.folder, below data_dir unless it is absolute."""
    return Path(data_dir) / Path(str(dataset_cfg["folder"])).expanduser()


def required_names(dataset_cfg: Mapping[str, Any]) -> list[str]:
    """The listed files a dataset cannot do without (optional ones are checked if present)."""
    return [str(f["name"]) for f in dataset_cfg.get("files") or [] if not f.get("optional")]


def missing_files(folder: Path, names: Sequence[str]) -> list[str]:
    return [name for name in names if not (folder / name).is_file()]


def checksum(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """(algorithm, hex digest) of a files entry, or None where none is listed."""
    for algorithm in ALGORITHMS:
        if entry.get(algorithm):
            return algorithm, str(entry[algorithm]).lower()
    return None


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ChecksumCache:
    """Remembers files whose checksum matched, keyed by path, size and modification time.

    It lives in the user's cache folder, never in the data folder (which may be read-only).
    """

    def __init__(self, path: Path):
        self.path = path
        self._entries = JsonCache(path)

    @staticmethod
    def _key(file: Path) -> tuple[str, list[int]]:
        stat = file.stat()
        return str(file.resolve()), [stat.st_size, stat.st_mtime_ns]

    def known_good(self, file: Path, algorithm: str, digest: str) -> bool:
        name, stamp = self._key(file)
        entry = self._entries.get(name) or {}
        # Entries written before MD5 was accepted have a "sha256" field and no "algorithm".
        kept = entry.get("algorithm", "sha256")
        return entry.get("stamp") == stamp and kept == algorithm and entry.get(kept) == digest

    def remember(self, file: Path, algorithm: str, digest: str) -> None:
        name, stamp = self._key(file)
        self._entries.put(name, {"stamp": stamp, "algorithm": algorithm, algorithm: digest})


def verify_checksums(
    folder: Path, files: Sequence[Mapping[str, Any]], cache: ChecksumCache
) -> bool:
    """Every listed file with a checksum has it; files already vouched for are not re-read.
    True when every file with a checksum was there to check (optional ones may be absent)."""
    complete = True
    for entry in files:
        expected = checksum(entry)
        file = folder / str(entry["name"])
        if expected is None:
            continue
        if entry.get("optional") and not file.is_file():
            complete = False
            continue
        algorithm, digest = expected
        if cache.known_good(file, algorithm, digest):
            continue
        found = file_digest(file, algorithm)
        if found != digest:
            raise StudyError(
                f"{file}: {ALGORITHMS[algorithm]} {found[:16]}... does not match the expected "
                f"{digest[:16]}... (dataset.files)",
                "the file is corrupt or another version; fetch it again "
                "(or set dataset.verify=false to use it anyway)",
            )
        cache.remember(file, algorithm, digest)
    return complete


def checksums_fingerprint(files: Sequence[Mapping[str, Any]]) -> str | None:
    """What identifies verified files' contents: their listed checksums, or None if none."""
    listed = sorted(
        f"{entry['name']}={':'.join(found)}"
        for entry in files
        if (found := checksum(entry)) is not None
    )
    return hashlib.sha256("\n".join(listed).encode()).hexdigest() if listed else None


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


def check_idx_files(folder: Path) -> None:
    """For the MNIST family: magic numbers, sizes, and image/label counts that agree.

    Folders without IDX files (CIFAR-10's pickled batches) are left to their reader.
    """
    for images_name, labels_name in IDX_PAIRS:
        if not (folder / images_name).is_file() or not (folder / labels_name).is_file():
            continue
        images = _idx_header(folder / images_name, _IDX_IMAGES)
        labels = _idx_header(folder / labels_name, _IDX_LABELS)
        if images[0] != labels[0]:
            raise StudyError(
                f"{folder / images_name} holds {images[0]} images but {folder / labels_name} "
                f"holds {labels[0]} labels: the two files do not belong together, fetch both again"
            )
