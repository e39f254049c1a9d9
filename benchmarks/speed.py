"""Training speed: the chapter's plain loop against cnn_study's trainer, side by side.

    python benchmarks/speed.py [--data-dir ../shared/datasets] [--batches 300] [--json FILE]

(a) the plain way: torchvision dataset with ToTensor/Normalize, a DataLoader of batch 64, the
    loop of pytorch/examples' mnist; (b) cnn_study's trainer: the split held as one
    normalised tensor on the device, batches by indexing a seeded permutation. Same model,
    recipe (SGD 0.01/0.5, batch 64) and seed. Prints images per second and the ratio b/a,
    the test accuracy of each after one epoch, and the wall time of a small sweep with the
    sequential launcher against the parallel preset. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from cnn_study.data import Split, load_dataset
from cnn_study.hardware import configure_torch, resolve_device
from cnn_study.model import ChapterCNN
from cnn_study.train import evaluate, train_epoch

ROOT = Path(__file__).resolve().parents[1]
# conf/dataset/mnist.yaml as it is, read from a folder of the files that is not verified here.
MNIST = {
    **OmegaConf.to_container(OmegaConf.load(ROOT / "conf" / "dataset" / "mnist.yaml")),
    "download": False,
    "verify": False,
}
BATCH, LR, MOMENTUM, SEED = 64, 0.01, 0.5, 0


def optimizer_for(model: torch.nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)


# --- (a) the plain loop --------------------------------------------------------------------
def plain_loader(data_dir: Path, train: bool) -> DataLoader:
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
    )
    dataset = datasets.MNIST(str(data_dir), train=train, download=False, transform=transform)
    return DataLoader(
        dataset,
        batch_size=BATCH if train else 1000,
        shuffle=train,
        generator=torch.Generator().manual_seed(SEED),
    )


def plain_train(model, optimizer, loader, device, max_batches: int | None) -> int:
    model.train()
    seen = 0
    for i, (data, target) in enumerate(loader):
        if max_batches is not None and i == max_batches:
            break
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), target)
        loss.backward()
        optimizer.step()
        seen += len(target)
    return seen


def plain_test(model, loader, device) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for data, target in loader:
            output = model(data.to(device))
            correct += (output.argmax(1) == target.to(device)).sum().item()
    return correct / len(loader.dataset)


# --- timing ----------------------------------------------------------------------------------
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(step, device, warmup_batches: int = 20) -> float:
    step(warmup_batches)
    sync(device)
    start = time.perf_counter()
    seen = step(None)
    sync(device)
    return seen / (time.perf_counter() - start)


def measure_throughput(
    data_dir: Path, device: torch.device, batches: int, channels_last: bool
) -> dict:
    torch.manual_seed(SEED)
    model = ChapterCNN().to(device)
    optimizer = optimizer_for(model)
    loader = plain_loader(data_dir, train=True)
    plain = images_per_second(
        lambda n: plain_train(model, optimizer, loader, device, n if n else batches), device
    )

    data = load_dataset(MNIST, data_dir, tempfile.mkdtemp(), device, channels_last=channels_last)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    torch.manual_seed(SEED)
    model = ChapterCNN().to(device, memory_format=memory_format)
    optimizer = optimizer_for(model)
    generator = torch.Generator().manual_seed(SEED)

    def fast(n):
        count = (n or batches) * BATCH
        subset = Split(data.train.images[:count], data.train.labels[:count])
        train_epoch(model, optimizer, subset, BATCH, generator)
        return count

    return {"plain_images_per_s": plain, "cnn_study_images_per_s": images_per_second(fast, device)}


def one_epoch_accuracy(data_dir: Path, device: torch.device) -> dict:
    """Test accuracy after one full epoch, each way, same seed; and the seconds it took."""
    torch.manual_seed(SEED)
    model = ChapterCNN().to(device)
    optimizer = optimizer_for(model)
    start = time.perf_counter()
    plain_train(model, optimizer, plain_loader(data_dir, True), device, None)
    plain_seconds = time.perf_counter() - start
    plain_acc = plain_test(model, plain_loader(data_dir, False), device)

    data = load_dataset(MNIST, data_dir, tempfile.mkdtemp(), device, channels_last=True)
    torch.manual_seed(SEED)
    model = ChapterCNN().to(device, memory_format=torch.channels_last)
    optimizer = optimizer_for(model)
    start = time.perf_counter()
    train_epoch(model, optimizer, data.train, BATCH, torch.Generator().manual_seed(SEED))
    fast_seconds = time.perf_counter() - start
    fast_acc = evaluate(model, data.test, 1000, 10).accuracy
    return {
        "plain_epoch_s": plain_seconds,
        "plain_test_acc": plain_acc,
        "cnn_study_epoch_s": fast_seconds,
        "cnn_study_test_acc": fast_acc,
    }


def sweep_seconds(data_dir: Path, launcher: str, out: Path) -> float:
    """Wall time of 2 datasets x 2 seeds x 2 epochs through the real command line."""
    command = [
        sys.executable,
        "-m",
        "cnn_study",
        "-m",
        f"hydra/launcher={launcher}",
        "dataset=mnist,fashion",
        "seed=0,1",
        "trainer.epochs=2",
        "trainer.progress=false",
        f"paths.output_dir={out}",
        f"paths.data_dir={data_dir}",
        "dataset.verify=false",
    ]
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--batches", type=int, default=300, help="batches timed per trainer")
    parser.add_argument("--device", default="auto")
    parser.add_argument(
        "--skip-epoch", action="store_true", help="skip the one-epoch accuracy check"
    )
    parser.add_argument("--skip-sweep", action="store_true", help="skip the launcher comparison")
    parser.add_argument("--json", type=Path, help="default: benchmarks/results/speed_<device>.json")
    args = parser.parse_args()

    device = resolve_device(args.device)
    args.json = args.json or ROOT / "benchmarks" / "results" / f"speed_{device.type}.json"
    configure_torch(torch.get_num_threads(), deterministic=True)
    report: dict = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "batches": args.batches,
    }
    print(f"device {device}, {report['threads']} threads, torch {torch.__version__}")

    for channels_last in (False, True):
        name = "channels_last" if channels_last else "contiguous"
        speed = measure_throughput(args.data_dir, device, args.batches, channels_last)
        speed["ratio"] = speed["cnn_study_images_per_s"] / speed["plain_images_per_s"]
        report[f"throughput_{name}"] = speed
        print(
            f"training throughput ({name} trainer): plain loop {speed['plain_images_per_s']:,.0f} "
            f"img/s, cnn_study {speed['cnn_study_images_per_s']:,.0f} img/s, "
            f"ratio {speed['ratio']:.2f}x"
        )

    if not args.skip_epoch:
        epoch = one_epoch_accuracy(args.data_dir, device)
        report["one_epoch"] = epoch
        print(
            f"one epoch of MNIST, seed {SEED}: plain loop {epoch['plain_epoch_s']:.1f} s, "
            f"test acc {epoch['plain_test_acc']:.4f}; "
            f"cnn_study {epoch['cnn_study_epoch_s']:.1f} s, test acc "
            f"{epoch['cnn_study_test_acc']:.4f}; difference "
            f"{100 * (epoch['cnn_study_test_acc'] - epoch['plain_test_acc']):+.2f} points"
        )

    if not args.skip_sweep:
        with tempfile.TemporaryDirectory() as tmp:
            basic = sweep_seconds(args.data_dir, "basic", Path(tmp) / "basic")
            parallel = sweep_seconds(args.data_dir, "parallel", Path(tmp) / "parallel")
        per_epoch = parallel / 8
        report["sweep_2x2x2"] = {
            "basic_s": basic,
            "parallel_s": parallel,
            "ratio": basic / parallel,
            "parallel_s_per_epoch": per_epoch,
            "projected_default_study_min": 240 * per_epoch / 60,
        }
        print(
            f"sweep 2 datasets x 2 seeds x 2 epochs: basic (sequential) {basic:.0f} s, "
            f"parallel preset {parallel:.0f} s, ratio {basic / parallel:.2f}x"
        )
        print(
            f"projected default study (2 x 3 seeds x 40 epochs = 240 epochs) with the parallel "
            f"preset: {240 * per_epoch / 60:.1f} min "
            f"({per_epoch:.1f} s per epoch, startup included)"
        )

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
