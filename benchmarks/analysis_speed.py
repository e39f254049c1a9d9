"""Analysis speed: 200 generated runs of 40 epochs, against 20 runs as the baseline.

    python benchmarks/analysis_speed.py [--runs 200] [--epochs 40]

Writes synthetic run folders (the real format, tests/fakeruns.py) into a temporary folder,
then times the whole analysis (read, group, summarise, figures, report) on a tenth of them
and on all of them, in this process. Prints seconds and the ratio.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakeruns

from cnn_study.analysis.pipeline import analyse  # noqa: E402
from tests.fakeruns import write_run  # noqa: E402


def make_runs(root: Path, runs: int, epochs: int) -> None:
    for i in range(runs):
        dataset, seed = ("mnist", "fashion")[i % 2], i // 2
        top = 0.99 if dataset == "mnist" else 0.885
        final = top + 0.001 * ((seed * 7919) % 11 - 5) / 5
        curve = [final - 0.05 * (epochs - 1 - e) / epochs for e in range(epochs)]
        write_run(root, dataset, seed, curve)


def timed(paths: Path, out: Path) -> float:
    start = time.perf_counter()
    analyse([paths], out)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results" / "analysis_speed.json"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        small, large = Path(tmp) / "small", Path(tmp) / "large"
        make_runs(small, args.runs // 10, args.epochs)
        make_runs(large, args.runs, args.epochs)
        timed(small, Path(tmp) / "warm")  # imports, fonts and caches warmed once
        base = timed(small, Path(tmp) / "out_small")
        full = timed(large, Path(tmp) / "out_large")
    result = {
        "runs_small": args.runs // 10,
        "seconds_small": base,
        "runs": args.runs,
        "epochs": args.epochs,
        "seconds": full,
        "ratio": full / base,
    }
    print(f"analysis of {args.runs // 10} runs x {args.epochs} epochs: {base:.2f} s")
    print(
        f"analysis of {args.runs} runs x {args.epochs} epochs: {full:.2f} s "
        f"({full / base:.2f}x the time for {args.runs / (args.runs // 10):.0f}x the runs)"
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
