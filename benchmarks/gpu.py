"""The study at GPU speed: every measurement of issue 12 in one script, for one lent GPU.

    python benchmarks/gpu.py [--data-dir ../shared/datasets] [--json FILE]
    python benchmarks/gpu.py --device cpu --quick      # the same path, tried on a CPU

Prints, in one process on one device, images per second of
  (a) the chapter's plain loop (torchvision dataset, DataLoader, pytorch/examples' loop),
  (b) cnn_study's eager trainer,
  (c) cnn_study's trainer with CUDA graphs (CUDA only),
  (d) N runs at once on the device, N = 1, 2, 4, 8, 16 (separate processes, the throughput
      of all of them together),
then whether graphed and eager training give identical metrics (two epochs, same seed), and
the wall time of the default study (2 datasets x 5 seeds x 40 epochs) through the project's
own command with the gpu_shared launcher preset. Ratios are against (a), measured here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from speed import (  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)
    BATCH,
    MNIST,
    ROOT,
    SEED,
    images_per_second,
    optimizer_for,
    plain_loader,
    plain_train,
)

from cnn_study.data import Split, load_dataset  # noqa: E402
from cnn_study.hardware import device_name, resolve_device  # noqa: E402
from cnn_study.model import ChapterCNN  # noqa: E402
from cnn_study.train import train_epoch  # noqa: E402


def trainer_images_per_second(data, device, batches: int, graphed: bool) -> float:
    torch.manual_seed(SEED)
    model = ChapterCNN().to(device)
    optimizer = optimizer_for(model)
    generator = torch.Generator().manual_seed(SEED)
    subset = Split(data.train.images[: batches * BATCH], data.train.labels[: batches * BATCH])
    if graphed:
        from cnn_study.graphs import GraphedTraining

        steps = GraphedTraining(model, optimizer, subset, BATCH)
        epoch = steps.train_epoch
    else:

        def epoch(g):
            return train_epoch(model, optimizer, subset, BATCH, g)

    return images_per_second(lambda n: (epoch(generator), len(subset))[1], device, 0)


def runs_at_once(n: int, data_dir: Path, device: str, batches: int, graphed: bool) -> float:
    """n processes training at once on the device; images per second of all together."""
    worker = [
        sys.executable,
        __file__,
        "--worker",
        "--data-dir",
        str(data_dir),
        "--device",
        device,
        "--batches",
        str(batches),
        *(["--graphed"] if graphed else []),
    ]
    procs = [subprocess.Popen(worker, stdout=subprocess.PIPE, text=True) for _ in range(n)]
    rates = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    # each worker times its own steady state; together they ran at the sum of their rates
    return sum(r["images_per_s"] for r in rates)


def graphed_matches_eager(data_dir: Path, out: Path) -> dict:
    common = [
        f"paths.data_dir={data_dir}",
        f"paths.output_dir={out}",
        "trainer.epochs=2",
        "trainer.progress=false",
        "trainer.channels_last=false",
    ]
    metrics = {}
    for graphs in ("false", "true"):
        folder = out / graphs
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cnn_study",
                *common,
                f"hydra.run.dir={folder}",
                f"trainer.cuda_graphs={graphs}",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        rows = (folder / "metrics.csv").read_text().splitlines()
        metrics[graphs] = [",".join(r.split(",")[:-1]) for r in rows]  # all but seconds
    return {
        "identical": metrics["false"] == metrics["true"],
        "eager": metrics["false"],
        "graphed": metrics["true"],
    }


def study_seconds(data_dir: Path, out: Path, n_jobs: int, epochs: int, seeds: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cnn_study",
            "-m",
            "hydra/launcher=gpu_shared",
            f"hydra.launcher.n_jobs={n_jobs}",
            "dataset=mnist,fashion",
            f"seed={seeds}",
            f"trainer.epochs={epochs}",
            "trainer.cuda_graphs=true",
            "trainer.channels_last=false",
            "trainer.progress=false",
            f"paths.data_dir={data_dir}",
            f"paths.output_dir={out}",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batches", type=int, default=900)
    parser.add_argument("--quick", action="store_true", help="small numbers, to try the script")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--graphed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = resolve_device(args.device)
    cuda = device.type == "cuda"
    data = load_dataset(MNIST, args.data_dir, tempfile.mkdtemp(), device)

    if args.worker:
        rate = trainer_images_per_second(data, device, args.batches, args.graphed)
        print(json.dumps({"images_per_s": rate}))
        return

    batches = 60 if args.quick else args.batches
    torch.manual_seed(SEED)
    model = ChapterCNN().to(device)
    optimizer = optimizer_for(model)
    loader = plain_loader(args.data_dir, train=True)
    plain = images_per_second(
        lambda n: plain_train(model, optimizer, loader, device, n or batches), device
    )
    result = {
        "device": device_name(device),
        "torch": torch.__version__,
        "batches": batches,
        "plain_images_per_s": plain,
    }
    result["eager_images_per_s"] = trainer_images_per_second(data, device, batches, False)
    if cuda:
        result["graphed_images_per_s"] = trainer_images_per_second(data, device, batches, True)
    for key in ("eager", "graphed"):
        if f"{key}_images_per_s" in result:
            result[f"{key}_vs_plain"] = result[f"{key}_images_per_s"] / plain
    print(json.dumps(result, indent=1), flush=True)

    work = Path(tempfile.mkdtemp())
    result["runs_at_once_images_per_s"] = {
        n: runs_at_once(n, args.data_dir, str(device), batches, cuda)
        for n in ((1, 2) if args.quick else (1, 2, 4, 8, 16))
    }
    print(json.dumps(result["runs_at_once_images_per_s"]), flush=True)
    if cuda:
        result["graphed_vs_eager_metrics"] = graphed_matches_eager(args.data_dir, work / "same")
        print("graphed == eager:", result["graphed_vs_eager_metrics"]["identical"], flush=True)
    best = max(result["runs_at_once_images_per_s"], key=result["runs_at_once_images_per_s"].get)
    epochs, seeds = (1, "0") if args.quick else (40, "0,1,2,3,4")
    result["study"] = {
        "epochs": epochs,
        "seeds": seeds,
        "n_jobs": min(best, 10),
        "seconds": study_seconds(args.data_dir, work / "study", min(best, 10), epochs, seeds),
    }
    print(json.dumps(result["study"]), flush=True)
    name = "gpu_" + ("quick_" if args.quick else "") + device.type
    out = args.json or ROOT / "benchmarks" / "results" / f"{name}.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
