"""Start-up cost of each data source, per image, against MNIST's as the baseline.

    CNN_STUDY_DATA_DIR=../shared/datasets python benchmarks/data_loading.py [--images 10000]

Times load_dataset (files found and checked, images read, normalised, on the CPU) for the real
MNIST (checksums already remembered, as on every run after the first), and for a generated
folder of PNGs of MNIST's shape (greyscale, 28 x 28): its first load (decoding every image) and
its second (from the cache). Prints microseconds per image and the ratios to MNIST's: the
cached folder should start about as fast per image as MNIST does.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.generated

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from cnn_study.data import load_dataset  # noqa: E402
from cnn_study.hardware import device_name  # noqa: E402
from tests.generated import write_image_folder  # noqa: E402

CPU = torch.device("cpu")
CLASSES = [f"c{i}" for i in range(10)]


def dataset_yaml(option: str, **changes) -> dict:
    # Under "dataset", as Hydra places it: its interpolations name dataset.<key>.
    config = OmegaConf.create(
        {"dataset": OmegaConf.load(ROOT / "conf" / "dataset" / f"{option}.yaml")}
    )
    config.dataset.merge_with(changes)
    return OmegaConf.to_container(config, resolve=True)["dataset"]


def timed(dataset: dict, data_dir: Path, cache: Path) -> tuple[float, int]:
    start = time.perf_counter()
    data = load_dataset(dataset, data_dir, cache, CPU)
    return time.perf_counter() - start, len(data.train) + len(data.test)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10000, help="PNGs in the folder")
    args = parser.parse_args()
    data_dir = Path(os.environ.get("CNN_STUDY_DATA_DIR", ROOT / "data"))
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        mnist = dataset_yaml("mnist", download=False)
        timed(mnist, data_dir, cache)  # the first use hashes the files; runs after it do not
        mnist_s, mnist_n = timed(mnist, data_dir, cache)

        per_class = args.images // len(CLASSES)
        folder = write_image_folder(
            Path(tmp) / "images",
            CLASSES,
            train=per_class * 5 // 6,
            test=per_class // 6,
            size=28,
            mode="L",
        )
        images = dataset_yaml(
            "image_folder",
            name="pngs",
            folder=str(folder),
            classes=CLASSES,
            image_size=28,
            in_channels=1,
        )
        first_s, n = timed(images, data_dir, cache)
        second_s, _ = timed(images, data_dir, cache)

    per_image = {
        "mnist": 1e6 * mnist_s / mnist_n,
        "folder_first": 1e6 * first_s / n,
        "folder_cached": 1e6 * second_s / n,
    }
    result = {
        "cpu": device_name(CPU),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "mnist_images": mnist_n,
        "folder_images": n,
        "seconds": {"mnist": mnist_s, "folder_first": first_s, "folder_cached": second_s},
        "microseconds_per_image": per_image,
        "ratio_to_mnist_per_image": {
            k: v / per_image["mnist"] for k, v in per_image.items() if k != "mnist"
        },
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
