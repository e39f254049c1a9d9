"""What pruning saves: the same search with and without a pruner, side by side.

    CNN_STUDY_DATA_DIR=../shared/datasets python benchmarks/pruning.py [--trials 16] [--epochs 8]

Runs hparams_search=chapter on FashionMNIST twice in a temporary folder, on a 10,000-image
training subset (each trial a few seconds per epoch), with the same seeded sampler: once with
hydra/sweeper/pruner=none (every trial trains in full), once with the search's own pruner
(patient_median) scaled to the shorter trials. Prints the epochs each search trained, its wall
time, the ratio of the two, and each one's best validation accuracy; writes them to
benchmarks/results/pruning.json. The two searches see different results after the first
pruned trial, so their later trials differ: the comparison is of budgets spent and of where
each ended, not of trial-by-trial values.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cnn_study.hardware import device_name  # noqa: E402


def search(out: Path, trials: int, epochs: int, pruner: list[str]) -> dict:
    data = os.environ.get("CNN_STUDY_DATA_DIR", str(ROOT.parent / "shared" / "datasets"))
    command = [
        sys.executable,
        "-m",
        "cnn_study",
        "hparams_search=chapter",
        "dataset=fashion",
        "hydra/launcher=parallel",
        f"paths.data_dir={data}",
        f"paths.output_dir={out}",
        f"paths.cache_dir={out / 'cache'}",
        "dataset.train_limit=10000",
        "dataset.val_size=2000",
        f"trainer.epochs={epochs}",
        "trainer.progress=false",
        f"hydra.sweeper.n_trials={trials}",
        *pruner,
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"the search failed:\n{done.stderr[-3000:]}")
    folder = out / "tune-chapter-fashion"
    with (folder / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    trained = sum(
        len(list(csv.DictReader((folder / r["run_dir"] / "metrics.csv").open())))
        for r in rows
        if r["run_dir"]
    )
    complete = [float(r["value"]) for r in rows if r["state"] == "complete"]
    return {
        "seconds": seconds,
        "epochs_trained": trained,
        "trials": len(rows),
        "pruned": sum(r["state"] == "pruned" for r in rows),
        "best_val_acc": max(complete) if complete else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "pruning.json"
    )
    args = parser.parse_args()
    warmup = max(1, args.epochs // 4)  # the search's 5 of 20, scaled
    with tempfile.TemporaryDirectory() as tmp:
        full = search(Path(tmp) / "full", args.trials, args.epochs, ["hydra/sweeper/pruner=none"])
        pruned = search(
            Path(tmp) / "pruned",
            args.trials,
            args.epochs,
            [
                "hydra/sweeper/pruner=patient_median",
                f"hydra.sweeper.pruner.n_warmup_steps={warmup}",
            ],
        )
    result = {
        "trials": args.trials,
        "epochs_per_trial": args.epochs,
        "without_pruning": full,
        "with_pruning": pruned,
        "epochs_ratio": pruned["epochs_trained"] / full["epochs_trained"],
        "seconds_ratio": pruned["seconds"] / full["seconds"],
        "cpu": device_name(torch.device("cpu")),
    }
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
