"""Shared fixtures: tiny IDX datasets made here, and configs composed from the real conf/.

Also what every test gets: tests under e2e/ and realdata/ are marked slow (what
`pytest tests -m "not slow"` leaves out), and under CI=true a skip fails (tests/ci.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from tests.ci import pytest_configure, pytest_runtest_makereport  # noqa: F401  (hooks)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED_DATA = ROOT.parent / "shared" / "datasets"
FOLDERS = {"mnist": "MNIST", "fashion": "FashionMNIST"}
# Folders whose every test is slow: processes started as a user would, or the real data.
SLOW_FOLDERS = [Path(__file__).parent / name for name in ("e2e", "realdata")]

# Every test names its data folder; the variable that README's set-up exports for a user's
# runs must not change what a test sees (in process or in the commands it starts).
os.environ.pop("CNN_STUDY_DATA_DIR", None)

pytest_plugins = ["pytester"]  # tests/unit/test_ci.py runs pytest on tests written there


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(folder in item.path.parents for folder in SLOW_FOLDERS):
            item.add_marker(pytest.mark.slow)


def write_idx(path: Path, tensor: torch.Tensor) -> None:
    """An IDX file of unsigned bytes, as LeCun's MNIST files are laid out."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = bytes([0, 0, 0x08, tensor.ndim]) + b"".join(d.to_bytes(4, "big") for d in tensor.shape)
    path.write_bytes(header + tensor.to(torch.uint8).numpy().tobytes())


def make_images(labels: torch.Tensor, seed: int) -> torch.Tensor:
    """Noise with a bright bar whose place depends on the class: learnable in one epoch."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 60, (len(labels), 28, 28), generator=g)
    for i, label in enumerate(labels.tolist()):
        row = 2 + 2 * label
        images[i, row : row + 3, 4:24] = 250
    return images


def make_dataset(root: Path, folder: str, train: int = 200, test: int = 100, seed: int = 0) -> Path:
    """A tiny dataset in torchvision's layout: <root>/<folder>/raw/*-ubyte."""
    raw = root / folder / "raw"
    for prefix, n, offset in (("train", train, 0), ("t10k", test, 1)):
        labels = torch.arange(n) % 10
        write_idx(raw / f"{prefix}-images-idx3-ubyte", make_images(labels, seed + offset))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
    return raw


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """A data folder holding tiny MNIST and FashionMNIST look-alikes."""
    root = tmp_path_factory.mktemp("data")
    for i, folder in enumerate(FOLDERS.values()):
        make_dataset(root, folder, seed=10 * i)
    return root


def tiny_overrides(data_dir: Path, tmp: Path) -> list[str]:
    """Overrides that shrink a run to seconds on the CPU and keep every file under tmp."""
    return [
        f"paths.data_dir={data_dir}",
        f"paths.output_dir={tmp / 'outputs'}",
        f"paths.cache_dir={tmp / 'cache'}",
        f"paths.root_dir={ROOT}",
        "dataset.verify=false",
        "dataset.download=false",
        "trainer.epochs=2",
        "trainer.batch_size=32",
        "trainer.device=cpu",
        "trainer.num_threads=1",
        "trainer.progress=false",
    ]


def compose_config(*overrides: str) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose("config", overrides=list(overrides))


@pytest.fixture
def make_cfg(tiny_data, tmp_path):
    """make_cfg("dataset=fashion", ...) -> a composed tiny config writing under tmp_path."""

    def make(*overrides: str) -> DictConfig:
        return compose_config(*tiny_overrides(tiny_data, tmp_path), *overrides)

    return make


def run_cli(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = 300):
    """python -m <args> in a subprocess, as a user would type it."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
