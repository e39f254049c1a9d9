"""Paths as a report's reader can use them: never the analysing machine's absolute paths."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pandas as pd


def portable_path(value: str, root: str) -> str:
    """A recorded path as a reader can use it: relative to the project folder the run ran
    in (root), or below ~; absolute only where neither applies."""
    if not isinstance(value, str) or not os.path.isabs(value) or not os.path.isabs(root):
        return value
    home = os.path.expanduser("~")
    if value.startswith(home + os.sep) and not value.startswith(root + os.sep):
        return "~" + value[len(home) :]
    relative = os.path.relpath(value, root)
    return relative if relative.split(os.sep).count("..") <= 2 else value


def portable_run(run: str) -> str:
    """A run folder as a reader can find it: relative to the working folder where it lies
    below it, else as given (never made absolute)."""
    path = Path(run)
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return run
    return run


# Config keys that hold a path: the paths.* group, and an image folder's own folder.
def is_path_key(key: str) -> bool:
    return key.startswith("paths.") or key == "dataset.folder"


def portable_overrides(overrides: str, root: str) -> str:
    """A run's command-line overrides with its paths made portable like the rest."""
    if not isinstance(overrides, str):
        return overrides
    items = []
    for item in shlex.split(overrides):
        key, _, value = item.partition("=")
        if is_path_key(key):
            item = f"{key}={portable_path(value, root)}"
        items.append(shlex.quote(item))
    return " ".join(items)


def portable_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """runs.csv without the analysing machine's absolute paths."""
    if "paths.root_dir" not in runs:
        return runs
    if "overrides" in runs:
        runs["overrides"] = [
            portable_overrides(o, r)
            for o, r in zip(runs["overrides"], runs["paths.root_dir"], strict=True)
        ]
    roots = runs["paths.root_dir"]
    for column in [c for c in runs.columns if is_path_key(c) and c != "paths.root_dir"]:
        runs[column] = [portable_path(v, r) for v, r in zip(runs[column], roots, strict=True)]
    return runs.assign(**{"paths.root_dir": "."})
