"""A report rebuilt from its own archive says what the analysis of its run folders said:
fake run folders are analysed into A, A's archive alone is rebuilt into B, and every table
and the report are compared."""

import gzip
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib import image

from cnn_study.analysis.__main__ import main
from cnn_study.analysis.archive import ARCHIVE_FILE, read_archive
from cnn_study.analysis.pipeline import analyse
from cnn_study.runs import RunFolder
from tests.conftest import ROOT
from tests.fakeruns import FIGURES, write_run
from tests.reports import TABLES, without_time
from tests.unit.analysis.test_tuned import FINALS, RECIPES, _write_search


def curve(final: float, epochs: int = 4) -> list[float]:
    return [final - 0.01 * (epochs - 1 - i) for i in range(epochs)]


def assert_same_report(a, b, tables=TABLES):
    for name in tables:
        assert (a / name).read_text() == (b / name).read_text(), name
    assert without_time((a / "report.md").read_text()) == without_time(
        (b / "report.md").read_text()
    )
    # the rebuilt folder holds the same archive, byte for byte: it can be rebuilt in turn
    assert (a / ARCHIVE_FILE).read_bytes() == (b / ARCHIVE_FILE).read_bytes()


def archived(folder) -> dict:
    return json.loads(gzip.decompress((folder / ARCHIVE_FILE).read_bytes()))


@pytest.fixture(scope="module")
def messy_runs(tmp_path_factory):
    """Two datasets x two optimizers, with every kind of folder the report lists apart:
    an unfinished run, a failed one, a copy, an unreadable metrics.csv and config."""
    root = tmp_path_factory.mktemp("messy") / "outputs"
    for seed in range(3):
        for optimizer in ("sgd", "adam"):
            write_run(root, "mnist", seed, curve(0.99 - 0.002 * seed), optimizer=optimizer)
            write_run(root, "fashion", seed, curve(0.88 + 0.003 * seed), optimizer=optimizer)
    write_run(root / "crashed", "mnist", 7, curve(0.99)[:2], finished=False, planned_epochs=4)
    failed = write_run(root / "failed", "fashion", 8, [0.8], finished=False, planned_epochs=4)
    failed.failure_file.write_text('{"error": "disk full", "time": "now"}')
    write_run(root / "broken", "mnist", 9, curve(0.99)).metrics_file.write_text("not,metrics")
    write_run(root / "garbled", "mnist", 10, curve(0.99)).config_file.write_text(": [unclosed")
    shutil.copytree(root / "mnist" / "seed=0", root / "copy" / "seed=0")
    return root


@pytest.mark.parametrize("reference", [None, "fashion"])
def test_a_report_rebuilt_from_its_archive_is_the_report_of_its_runs(
    messy_runs, tmp_path, reference
):
    a, b = tmp_path / "a", tmp_path / "b"
    command = "python -m cnn_study.analysis outputs --out a"
    first = analyse([messy_runs], a, command, reference=reference, draw=False)
    rebuilt = analyse([a], b, "python -m cnn_study.analysis a --out b", draw=False)
    assert_same_report(a, b)
    assert rebuilt.out == b and rebuilt.kind == first.kind == "grid"
    report = (b / "report.md").read_text()
    # what only the run folders knew, and the CSVs do not say, is in the rebuilt report
    assert "disk full" in report and "copy/seed=0" in report and "not,metrics" not in report
    assert command in report and "--out b" not in report  # the command that made it
    # the per-class table is the run folders' confusion counts, not the CSVs'
    assert len((b / "per_class.csv").read_text().splitlines()) == 1 + 4 * 10


def test_another_reference_never_rewrites_the_published_folder(messy_runs, tmp_path, monkeypatch):
    published = tmp_path / "analysis" / "grid"
    analyse([messy_runs], published, "python -m cnn_study.analysis outputs", draw=False)
    before = {p.name: p.read_bytes() for p in published.iterdir()}
    monkeypatch.chdir(tmp_path)
    other = analyse([published], reference="fashion", draw=False)
    assert other.out == Path("reports") / "chapter5"  # its study's own report, as for runs
    assert {p.name: p.read_bytes() for p in published.iterdir()} == before


def test_a_tuned_study_is_rebuilt_with_its_searches(tmp_path):
    for (recipe, dataset), finals in FINALS.items():
        for seed, final in enumerate(finals):
            overrides = {"recipe": recipe, "study": "tuned", "dataset.val_size": 10000}
            write_run(
                tmp_path / "tuned" / recipe,
                dataset,
                seed,
                curve(final),
                overrides={**overrides, **RECIPES[recipe]},
            )
    searches = [
        _write_search(tmp_path, "mnist", [0.981, 0.990, 0.985]),
        _write_search(tmp_path, "fashion", [0.890, 0.903, 0.100]),
    ]
    # the fashion search's third trial diverged: a loss that is not finite
    trials = pd.read_csv(searches[1] / "trials.csv")
    third = RunFolder(searches[1] / trials.loc[2, "run_dir"])
    third.write_metrics([{**row, "train_loss": math.nan} for row in third.read_metrics()])
    paths = [tmp_path / "tuned", *searches]
    assert analyse(paths, tmp_path / "a", "cmd", draw=False).kind == "tuned"
    for folder in paths:  # a fresh clone has the archive, not the run folders
        shutil.rmtree(folder)
    assert analyse([tmp_path / "a"], tmp_path / "b", draw=False).kind == "tuned"
    assert_same_report(tmp_path / "a", tmp_path / "b")
    rebuilt = {
        s.folder.name: list(s.trials["diverged"]) for s in read_archive(tmp_path / "b").searches
    }
    # the interrupted trial (the last row) asked for the third one's parameters again
    assert rebuilt == {
        "tune-chapter-mnist": [False, False, False, False],
        "tune-chapter-fashion": [False, False, True, True],
    }
    saved = archived(tmp_path / "b")
    assert (
        len(saved["searches"]) == 2
        and sum(r["choices"].get("hydra/sweeper") == "optuna" for r in saved["runs"]) == 6
    )


def test_the_archive_holds_no_path_of_the_analysing_machine(messy_runs, tmp_path):
    """The fake runs ran in /study with their cache in /cache; runs.csv says neither, and
    nor does the archive."""
    analyse([messy_runs], tmp_path / "a", draw=False)
    text = gzip.decompress((tmp_path / "a" / ARCHIVE_FILE).read_bytes()).decode()
    assert '"/study' not in text and '"/cache' not in text
    runs = archived(tmp_path / "a")["runs"]
    assert {r["config"]["paths"]["root_dir"] for r in runs} == {"."}
    # results.json's own copy of the config is left out; its confusion counts are kept
    complete = [r for r in runs if r["results"] is not None]
    assert complete and all("config" not in r["results"] for r in complete)
    assert all(len(r["results"]["confusion_matrix"]) == 10 for r in complete)


def test_rebuilt_end_to_end_with_figures_and_in_place_by_default(tmp_path, capsys):
    runs = tmp_path / "outputs"
    for seed, (mnist, fashion) in enumerate([(0.990, 0.885), (0.992, 0.889), (0.989, 0.887)]):
        write_run(runs, "mnist", seed, curve(mnist))
        write_run(runs, "fashion", seed, curve(fashion))
    a, b = tmp_path / "a", tmp_path / "b"
    assert main([str(runs), "--out", str(a)]) == 0
    assert main([str(a), "--out", str(b)]) == 0
    assert_same_report(a, b)
    for name in FIGURES:  # drawn from the same numbers
        assert np.array_equal(image.imread(a / f"{name}.png"), image.imread(b / f"{name}.png"))
    # with no --out, a published folder is rebuilt where it lies, its tables unchanged
    before = {p.name: p.read_bytes() for p in b.iterdir() if p.suffix in (".csv", ".gz")}
    assert main([str(b), "--no-figures"]) == 0
    assert f"to {b}/" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in b.iterdir() if p.suffix in (".csv", ".gz")} == before


def test_a_published_folder_without_archive_says_so_and_writes_nothing(tmp_path, capsys):
    chapter5 = tmp_path / "chapter5"
    shutil.copytree(ROOT / "analysis" / "chapter5", chapter5)
    (chapter5 / ARCHIVE_FILE).unlink(missing_ok=True)  # as every report before archives
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in chapter5.rglob("*")}
    assert main([str(chapter5)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ARCHIVE_FILE in err and "rerun the study" in err
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in chapter5.rglob("*")} == before


def test_an_archive_is_rebuilt_alone_and_a_broken_one_is_named(messy_runs, tmp_path, capsys):
    analyse([messy_runs], tmp_path / "a", draw=False)
    assert main([str(tmp_path / "a"), str(messy_runs), "--out", str(tmp_path / "b")]) == 2
    assert "rebuild it alone" in capsys.readouterr().err
    (tmp_path / "a" / ARCHIVE_FILE).write_bytes(b"not gzip")
    assert main([str(tmp_path / "a"), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path / 'a' / ARCHIVE_FILE} cannot be read" in err
    assert not (tmp_path / "b").exists()


def test_the_archive_is_all_a_rebuild_reads(messy_runs, tmp_path):
    """Once analysed, the run folders can go: the report is rebuilt without them."""
    runs = tmp_path / "outputs"
    shutil.copytree(messy_runs, runs)
    analyse([runs], tmp_path / "a", draw=False)
    shutil.rmtree(runs)
    analyse([tmp_path / "a"], tmp_path / "b", draw=False)
    assert_same_report(tmp_path / "a", tmp_path / "b")
