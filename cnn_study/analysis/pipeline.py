"""Runs in, evidence out: collect -> group -> summarise -> write tables, figures, report.

This module only orchestrates and guards the output folder. What a report says is its
kind's (cnn_study.analysis.kinds), chosen here once from the grouped runs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cnn_study.analysis import figures, kinds, report
from cnn_study.analysis.archive import Archive, published_folder, read_archive, write_archive
from cnn_study.analysis.collect import Collection, from_records, read_runs
from cnn_study.analysis.portable import portable_runs
from cnn_study.analysis.searches import find_searches
from cnn_study.analysis.study import Study, summarise_study
from cnn_study.analysis.style import figure_style
from cnn_study.errors import StudyError
from cnn_study.runs import COMPLETE

log = logging.getLogger(__name__)


@dataclass
class Analysis:
    collection: Collection
    keys: list[str]
    summary: pd.DataFrame
    gaps: pd.DataFrame
    per_class: pd.DataFrame
    written: list[Path]
    out: Path
    kind: str  # the kind of study its report was written for (chapter, grid...)


def _check_out(out: Path, folders: list[Path]) -> None:
    for folder in folders:
        if out.resolve().is_relative_to(folder.resolve()):
            raise StudyError(
                f"--out {out} is inside the run folder {folder}: the analysis never "
                "writes into run folders; choose another --out"
            )


def analyse(
    paths: list[Path],
    out: Path | None = None,
    command: str | None = None,
    overwrite: bool = False,
    reference: str | None = None,
    draw: bool = True,
) -> Analysis:
    """Analyse every run below paths and write tables, figures, the report and its archive
    to out (default: reports/<study>/); reference: the dataset every gap is measured from,
    by name or label (default: MNIST where present, else the first in name order).

    paths may instead be one published report's folder: its report is rebuilt from its
    archive alone (archive.py), into that folder unless out is given, with the reference and
    command it was made with unless another reference is given.

    draw=False: the tables and a report without its figures. Drawing and saving them is
    most of an analysis's time (a grid's twelve-panel figures take seconds, its numbers a
    fraction of one), and a check of the numbers, or a first look at a sweep still
    running, needs none of them.
    """
    # Reads only; nothing is written before the checks below. A search's trials are its
    # evidence, not runs of the study it served: they are kept apart.
    published = published_folder(paths)
    read, folders = _read(paths, published, command, reference)
    if out is None and published is not None and reference is None:
        out = published  # the same report made again, where it lies
    # else another reference makes another report: reports/<study>/, as for runs (below)
    paths, command, reference = [Path(p) for p in read.paths], read.command, read.reference
    collection, trials = from_records(read.records, read.skipped, folders).split_trials()
    searches = read.searches
    if collection.runs.empty:
        raise StudyError(
            f"no run folders found below {', '.join(map(str, paths))} (a run folder holds "
            ".hydra/config.yaml): point the analysis at the outputs of `python -m cnn_study`"
        )
    others = collection.runs[collection.runs["status"] != COMPLETE]
    for row in others.itertuples(index=False):
        log.warning(
            "left out of the statistics: %s (%s, %s epochs done)",
            row.run,
            row.status,
            row.epochs_completed,
        )
    if collection.complete.empty:
        raise StudyError(
            f"found {len(collection.runs)} run folders below {', '.join(map(str, paths))} but "
            "none has finished: finish them (rerun the same command) and analyse again"
        )

    out = out or default_out(collection.complete)
    _check_out(out, collection.folders)
    _check_other_report(out, collection.complete, overwrite)
    study = summarise_study(collection, paths, command, searches, trials, reference)
    kind = kinds.choose(study)  # the one place the study's kind is decided

    out.mkdir(parents=True, exist_ok=True)
    written = _write_tables(study, out)
    written.append(write_archive(out, read))
    if draw:
        with figure_style():  # read while drawing and while saving, so around both
            for name, fig in kind.figures(study).items():
                written.extend(figures.save(fig, out, name))

    tables = kind.tables(study)
    written.append(_write(out / "summary.md", report.to_markdown(_summary_blocks(tables))))
    blocks = kinds.write(study, kind.report(study, tables))
    if not draw:
        blocks = [block for block in blocks if not isinstance(block, report.Figure)]
    markdown = report.to_markdown(blocks)
    written.append(_write(out / "report.md", markdown))
    written.append(_write(out / "report.html", report.to_html(markdown, out, kind.title)))
    return Analysis(
        collection,
        study.keys,
        study.summary,
        study.gaps,
        study.per_class,
        written,
        out,
        kind.name,
    )


def _read(
    paths: list[Path], published: Path | None, command: str | None, reference: str | None
) -> tuple[Archive, list[Path]]:
    """(what the report is made from, the run folders it was read from): the run folders
    below paths, or a published report's archive (no run folders), which keeps the
    reference and command it was made with unless another reference is given."""
    if published is None:
        records, skipped, folders = read_runs(paths)
        searches = find_searches(paths)
        return Archive(
            records, skipped, searches, [str(Path(p)) for p in paths], command, reference
        ), folders
    read = read_archive(published)
    if reference is not None:  # not the published report: say how this one was made
        read.reference, read.command = reference, command
    return read, []


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _write_tables(study: Study, out: Path) -> list[Path]:
    """The tidy CSVs, the same for every kind: runs, epochs, summary, gaps, per class."""
    all_runs = study.collection.runs.merge(study.runs[["run", "group"]], on="run", how="left")
    all_runs = portable_runs(all_runs.drop(columns="identity"))
    epochs = study.collection.epochs.merge(all_runs[["run", "group", "status"]], on="run")
    frames = {"runs.csv": all_runs, "epochs.csv": epochs, "summary.csv": study.summary}
    if not study.gaps.empty:
        frames["gaps.csv"] = study.gaps
    frames["per_class.csv"] = study.per_class
    for name, frame in frames.items():
        frame.to_csv(out / name, index=False)
    return [out / name for name in frames]


def _summary_blocks(tables: kinds.Tables) -> list[report.Block]:
    return [block for table in tables.values() for block in table.blocks()]


# A user's own reports, one folder per study. The published ones live in analysis/<study>/
# and are written there only by their published commands (--out analysis/<study>): a user who
# runs the chapter study on a fresh clone and analyses it must get a report of their own
# runs, not a refusal to replace the published one (or, with --overwrite, its loss).
REPORTS = Path("reports")


def default_out(runs: pd.DataFrame) -> Path:
    """reports/<study>/: each study's report in its own folder."""
    studies = sorted({str(s) for s in runs.get("study", pd.Series(["study"])).dropna()})
    return REPORTS / "+".join(studies or ["study"])


def _check_other_report(out: Path, runs: pd.DataFrame, overwrite: bool) -> None:
    """Never replace, by accident, a report made from other runs (a published one).

    A run is its folder and the time it finished: a rerun of the same study elsewhere has
    the same folder names but other finish times. Refreshing a report whose runs are all
    still there, unchanged (runs added, or none), is fine.
    """
    if overwrite or not (out / "runs.csv").is_file():
        return
    try:
        old = pd.read_csv(out / "runs.csv", usecols=["run", "status", "finished"])
        old = old[old["status"] == COMPLETE]
        before = set(zip(old["run"], old["finished"].astype(str), strict=True))
    except (OSError, ValueError, KeyError):
        before = {("unreadable", "")}
    now = set(zip(runs["run"], runs["finished"].astype(str), strict=True))
    if not before <= now:
        names = sorted(run for run, _ in before)
        raise StudyError(
            f"{out} holds a report of {len(before)} other runs (made from "
            f"{', '.join(names[:2])}{', ...' if len(names) > 2 else ''}), not these "
            f"{len(now)}: give your report its own folder with --out DIR, or replace that "
            "one with --overwrite"
        )
