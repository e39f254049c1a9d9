"""python -m cnn_study.analysis PATH [PATH ...] [--out DIR] [--reference DATASET] [--no-figures]

PATH: folders of run folders, or one published report's folder (analysis/<study>), whose
report is rebuilt from the archive beside its tables."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from pathlib import Path

from cnn_study.analysis.pipeline import analyse
from cnn_study.errors import StudyError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cnn_study.analysis",
        description="Turn cnn_study run folders into tables, figures and a report.",
    )
    parser.add_argument(
        "paths",
        nargs="+",
        type=Path,
        help="folders holding run folders, at any depth; or one published report's folder "
        "(analysis/<study>), to rebuild its report from its archive",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where to write (default: reports/<study>/, one folder per study; the published "
        "reports in analysis/ are written only with --out; a rebuilt report: its own folder)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a report in --out that was made from other runs",
    )
    parser.add_argument(
        "--reference",
        default=None,
        metavar="DATASET",
        help="the dataset every gap is measured from, by name or label, e.g. mnist or "
        "CIFAR-10 (default: mnist where present, else the first dataset in name order)",
    )
    parser.add_argument(
        "--no-figures",
        dest="draw",
        action="store_false",
        help="write the tables and a report without figures (drawing them takes most of "
        "the time): a quick look at a sweep still running",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    logging.getLogger("cnn_study").setLevel(logging.INFO)

    missing = [p for p in args.paths if not p.exists()]
    if missing:
        print(
            f"error: {', '.join(map(str, missing))} does not exist: "
            "give a folder of runs, e.g. outputs/",
            file=sys.stderr,
        )
        return 2
    command = "python -m cnn_study.analysis " + " ".join(
        map(shlex.quote, sys.argv[1:] if argv is None else argv)
    )
    start = time.perf_counter()
    try:
        result = analyse(
            args.paths,
            args.out,
            command,
            overwrite=args.overwrite,
            reference=args.reference,
            draw=args.draw,
        )
    except StudyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    complete = len(result.collection.complete)
    print(
        f"analysed {complete} complete runs of {len(result.collection.runs)} in "
        f"{time.perf_counter() - start:.1f} s; wrote {len(result.written)} files to {result.out}/"
    )
    print(
        result.summary[
            [
                "group",
                "seeds",
                "final_acc_mean",
                "final_acc_std",
                "final_acc_ci_low",
                "final_acc_ci_high",
            ]
        ].to_string(index=False)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
