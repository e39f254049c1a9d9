"""A published report's archive: what the analysis read of each run folder, beside its tables.

analysis/<study>/archive.json.gz holds, for every run folder found, its RunRecord (saved
config, overrides, Hydra's choices, metrics.csv's rows, results.json with the confusion
counts, its status), the sweeper's files of every search, and the analysed paths and command.
Never a checkpoint: a 36-run grid's archive is tens of kB. The tables and report are built
from these records by the same code as from run folders (collect.from_records), so
`python -m cnn_study.analysis analysis/<study>` rebuilds the report from what is committed.

Two things differ from the files on disk, so that nothing of the analysing machine is
published that runs.csv does not publish: paths in configs and overrides are made portable as
runs.csv makes them (every table and report reads them through the same function, which
leaves a portable path as it is), and results.json's copy of the config is left out (the
saved config is there).
"""

from __future__ import annotations

import copy
import gzip
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cnn_study.analysis.collect import RunRecord
from cnn_study.analysis.portable import is_path_key, portable_path
from cnn_study.analysis.searches import Search, search_from_files
from cnn_study.errors import StudyError

ARCHIVE_FILE = "archive.json.gz"
FORMAT = "cnn-study analysis archive 1"
# What marks a folder as a written report, archive or not.
REPORT_FILES = ("report.md", "runs.csv")


@dataclass
class Archive:
    """Everything a report is made from."""

    records: list[RunRecord]
    skipped: list[str] = field(default_factory=list)  # files that could not be read
    searches: list[Search] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # the analysed folders, as given
    command: str | None = None  # the analysis command that wrote the report
    reference: str | None = None  # --reference, where it was given


def write_archive(out: Path, archive: Archive) -> Path:
    """out/archive.json.gz; the same archive gives the same bytes (no time in the gzip
    header), so rebuilding a committed report leaves its archive unchanged."""
    document = {
        "format": FORMAT,
        "command": archive.command,
        "reference": archive.reference,
        "paths": archive.paths,
        "skipped": archive.skipped,
        "runs": [_run_entry(record) for record in archive.records],
        "searches": [
            {
                "folder": str(search.folder),
                "files": search.files,
                # read off the trials' metrics.csv, which a rebuild does not have
                "diverged": [bool(flag) for flag in search.trials["diverged"]],
            }
            for search in archive.searches
        ],
    }
    text = json.dumps(document, separators=(",", ":"))
    path = out / ARCHIVE_FILE
    path.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
    return path


def read_archive(folder: Path) -> Archive:
    """The archive of a published report's folder; StudyError where it cannot be read."""
    path = folder / ARCHIVE_FILE
    try:
        document = json.loads(gzip.decompress(path.read_bytes()))
        if document.get("format") != FORMAT:
            raise ValueError(f"its format is {document.get('format')!r}, not {FORMAT!r}")
        return Archive(
            records=[_record(entry) for entry in document["runs"]],
            skipped=list(document["skipped"]),
            searches=[
                search_from_files(Path(s["folder"]), s["files"], s["diverged"])
                for s in document["searches"]
            ],
            paths=list(document["paths"]),
            command=document["command"],
            reference=document["reference"],
        )
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise StudyError(
            f"{path} cannot be read ({exc})",
            "restore it from git, or rerun the study with the command its report.md names",
        ) from None


def published_folder(paths: list[str | Path]) -> Path | None:
    """The published report's folder among paths, where one is given to be rebuilt; None
    where paths are folders of runs. StudyError where a report folder has no archive (it
    cannot be rebuilt) or is given together with other paths."""
    for path in map(Path, paths):
        if (path / ARCHIVE_FILE).is_file():
            if len(paths) > 1:
                raise StudyError(
                    f"{path} is a published report, given with other folders",
                    "rebuild it alone: python -m cnn_study.analysis " + str(path),
                )
            return path
        if any((path / name).is_file() for name in REPORT_FILES):
            raise StudyError(
                f"{path} holds a report but not its archive ({ARCHIVE_FILE}), so it cannot be "
                "rebuilt from what it holds",
                "rerun the study with the command its report.md gives under Commands, then "
                "analyse those runs (that writes the archive)",
            )
    return None


def _run_entry(record: RunRecord) -> dict[str, Any]:
    entry = asdict(record)
    root = str((record.config.get("paths") or {}).get("root_dir", ""))
    entry["config"] = _portable_config(record.config, root)
    entry["overrides"] = [_portable_override(o, root) for o in record.overrides]
    if record.metrics is not None:  # columns once, not per row
        columns = list(record.metrics[0]) if record.metrics else []
        entry["metrics"] = {
            "columns": columns,
            "rows": [[row[c] for c in columns] for row in record.metrics],
        }
    if record.results is not None:
        entry["results"] = {k: v for k, v in record.results.items() if k != "config"}
    return entry


def _record(entry: dict[str, Any]) -> RunRecord:
    metrics = entry["metrics"]
    if metrics is not None:
        metrics = [dict(zip(metrics["columns"], row, strict=True)) for row in metrics["rows"]]
    return RunRecord(**{**entry, "metrics": metrics})


def _portable_config(config: dict[str, Any], root: str) -> dict[str, Any]:
    config = copy.deepcopy(config)
    for section, node in config.items():
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if is_path_key(f"{section}.{key}"):
                node[key] = "." if key == "root_dir" else portable_path(value, root)
    return config


def _portable_override(item: str, root: str) -> str:
    key, sep, value = item.partition("=")
    return f"{key}{sep}{portable_path(value, root)}" if is_path_key(key) else item
