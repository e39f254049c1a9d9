"""The analysis: statistics checked against independent computations, figures, bad input."""

import dataclasses
import html
import math
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from matplotlib import image
from scipy import stats

from cnn_study.analysis import kinds, report
from cnn_study.analysis.__main__ import main
from cnn_study.analysis.grouping import group_keys
from cnn_study.analysis.kinds import chapter
from cnn_study.analysis.kinds.skeleton import SECTIONS
from cnn_study.analysis.pipeline import analyse
from cnn_study.runs import COMPLETE, FAILED, INCOMPLETE
from tests.fakeruns import FIGURES, write_run
from tests.unit.analysis.sections import sections

MNIST = [0.990, 0.992, 0.989, 0.991]
FASHION = [0.885, 0.889, 0.887]


def curve(final: float, epochs: int = 5) -> list[float]:
    """Rises to final at the last epoch."""
    return [final - 0.02 * (epochs - 1 - i) / (epochs - 1) for i in range(epochs)]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Four MNIST seeds and three FashionMNIST seeds with known final accuracies, analysed."""
    root = tmp_path_factory.mktemp("study")
    runs = root / "outputs"
    for seed, acc in enumerate(MNIST):
        write_run(runs, "mnist", seed, curve(acc))
    for seed, acc in enumerate(FASHION):
        write_run(runs, "fashion", seed, curve(acc))
    assert main([str(runs), "--out", str(root / "analysis")]) == 0
    return root


def summary_row(study, dataset):
    summary = pd.read_csv(study / "analysis" / "summary.csv")
    return summary[summary["dataset"] == dataset].iloc[0]


@pytest.mark.parametrize(("dataset", "values"), [("mnist", MNIST), ("fashion", FASHION)])
def test_means_and_intervals_are_student_t(study, dataset, values):
    row = summary_row(study, dataset)
    n, mean, std = len(values), np.mean(values), np.std(values, ddof=1)
    interval = stats.ttest_1samp(values, 0).confidence_interval(0.95)  # scipy's t interval
    assert row["seeds"] == n
    assert row["final_acc_mean"] == pytest.approx(mean, abs=1e-12)
    assert row["final_acc_std"] == pytest.approx(std, abs=1e-12)
    assert row["final_acc_ci_low"] == pytest.approx(interval.low, abs=1e-12)
    assert row["final_acc_ci_high"] == pytest.approx(interval.high, abs=1e-12)
    assert row["final_acc_min"] == min(values) and row["final_acc_max"] == max(values)


def test_gap_and_welch_test_match_scipy(study):
    gap = pd.read_csv(study / "analysis" / "gaps.csv").iloc[0]
    a, b = np.array(MNIST), np.array(FASHION)
    test = stats.ttest_ind(a, b, equal_var=False)
    interval = test.confidence_interval(0.95)
    assert gap["comparison"] == "MNIST - FashionMNIST"
    assert gap["gap"] == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    assert gap["welch_t"] == pytest.approx(test.statistic)
    assert gap["p_value"] == pytest.approx(test.pvalue)
    assert gap["welch_df"] == pytest.approx(test.df)
    assert gap["gap_ci_low"] == pytest.approx(interval.low)
    assert gap["gap_ci_high"] == pytest.approx(interval.high)


def test_first_epoch_at_99_percent_is_read_off_the_mean_curve(study):
    # MNIST's mean final accuracy is 0.9905; the curve rises 0.02 over 5 epochs, so its
    # mean passes 0.99 only at the last epoch. FashionMNIST never does.
    assert summary_row(study, "mnist")["first_epoch_mean_reaches_99"] == 5
    assert math.isnan(summary_row(study, "fashion")["first_epoch_mean_reaches_99"])
    assert summary_row(study, "mnist")["seeds_final_reaching_99"] == 3


def test_tables_are_tidy_and_complete(study):
    out = study / "analysis"
    runs = pd.read_csv(out / "runs.csv")
    epochs = pd.read_csv(out / "epochs.csv")
    assert len(runs) == 7 and (runs["status"] == "complete").all()
    assert len(epochs) == 7 * 5 and set(epochs["group"]) == {"MNIST", "FashionMNIST"}
    assert {"dataset.name", "optimizer.lr", "seed", "final_test_acc"} <= set(runs.columns)
    assert (out / "summary.md").read_text().count("| MNIST |") == 1


@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_is_written_and_not_blank(study, name):
    pixels = image.imread(study / "analysis" / f"{name}.png")
    assert pixels.shape[0] > 200 and pixels.shape[1] > 200
    # a blank canvas is one colour; a drawn figure has many
    assert pixels[..., :3].std() > 0.05
    pdf = (study / "analysis" / f"{name}.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 5000


def test_report_states_the_answer_and_embeds_the_figures(study):
    report = (study / "analysis" / "report.md").read_text()
    assert "**MNIST**: final test accuracy 99.05%" in report
    assert (
        "**FashionMNIST**: final test accuracy 88.70%" in report and "does not reach 99%" in report
    )
    assert "python -m cnn_study -m dataset=mnist,fashion seed=0,1,2,3" in report
    assert sections(report) == list(SECTIONS)  # the one writer's order, as every kind's
    html = (study / "analysis" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(FIGURES) and "<table>" in html


def test_the_html_is_the_markdown_rendered_with_every_figure_embedded(study):
    markdown = (study / "analysis" / "report.md").read_text()
    page = (study / "analysis" / "report.html").read_text()
    headings = re.findall(r"^(#+) (.+)$", markdown, re.MULTILINE)
    assert len(headings) >= 10
    for hashes, text in headings:
        level = len(hashes)
        assert f"<h{level}>{html.escape(text, quote=False)}</h{level}>" in page
    assert page.count("<table>") == markdown.count("\n| --- ") > 5
    assert page.count("<figure><img") == len(re.findall(r"^!\[", markdown, re.MULTILINE))
    # config keys are code in both, never Markdown emphasis (model.<em>target</em>)
    assert "| `model._target_` |" in markdown
    assert "<code>model._target_</code>" in page and "<em>target</em>" not in page


def test_without_figures_the_tables_are_the_same_and_the_report_names_no_figure(study, tmp_path):
    quick = tmp_path / "quick"
    assert main([str(study / "outputs"), "--out", str(quick), "--no-figures"]) == 0
    for table in ("runs.csv", "epochs.csv", "summary.csv", "gaps.csv", "per_class.csv"):
        assert (quick / table).read_bytes() == (study / "analysis" / table).read_bytes(), table
    assert not list(quick.glob("*.png")) and not list(quick.glob("*.pdf"))
    assert "![" in (study / "analysis" / "report.md").read_text()
    assert "![" not in (quick / "report.md").read_text()
    assert "<img" not in (quick / "report.html").read_text()


def test_the_html_renderer_shows_text_and_never_runs_it(tmp_path):
    blocks = [
        report.Heading("Keys like `model._target_`"),
        report.Paragraph("- **bold** <script>alert(1)</script>\n- `optimizer._partial_`"),
        report.Table(pd.DataFrame({"key": ["`trainer.epochs`"], "value": ["a|b"]})),
        report.Code("python -m cnn_study seed=0,1"),
    ]
    page = report.to_html(report.to_markdown(blocks), tmp_path, "a <title>")
    assert "<h2>Keys like <code>model._target_</code></h2>" in page
    assert "<li><strong>bold</strong> &lt;script&gt;alert(1)&lt;/script&gt;</li>" in page
    assert "<td><code>trainer.epochs</code></td>" in page and "<td>a|b</td>" in page
    assert "<pre><code>python -m cnn_study seed=0,1\n</code></pre>" in page
    assert "<title>a &lt;title&gt;</title>" in page and "<em>" not in page


def test_grouping_ignores_keys_that_move_with_the_dataset(tmp_path):
    write_run(tmp_path, "mnist", 0, [0.9])
    write_run(tmp_path, "fashion", 0, [0.8])
    write_run(tmp_path / "lr", "fashion", 1, [0.7], overrides={"optimizer.lr": 0.1})
    from cnn_study.analysis.collect import collect

    assert group_keys(collect([tmp_path]).runs) == ["dataset.name", "optimizer.lr"]


def test_incomplete_malformed_and_foreign_folders(tmp_path, caplog):
    runs = tmp_path / "outputs"
    for seed in range(2):
        write_run(runs, "mnist", seed, curve(0.99))
        write_run(runs, "fashion", seed, curve(0.88))
    write_run(runs / "crashed", "mnist", 7, curve(0.99)[:3], finished=False, planned_epochs=5)
    failed = write_run(
        runs / "failed", "fashion", 8, curve(0.88)[:1], finished=False, planned_epochs=5
    )
    failed.failure_file.write_text('{"error": "disk full", "time": "now"}')
    broken = write_run(runs / "broken", "mnist", 9, curve(0.99))
    broken.metrics_file.write_text("not,a,metrics\nfile")
    garbled = write_run(runs / "garbled", "mnist", 10, curve(0.99))
    garbled.config_file.write_text(": : [unclosed")
    (runs / "notes").mkdir()
    (runs / "notes" / "README.txt").write_text("not a run")
    before = {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()}

    with caplog.at_level("WARNING"):
        assert main([str(runs), "--out", str(tmp_path / "out"), "--no-figures"]) == 0
    table = pd.read_csv(tmp_path / "out" / "runs.csv").set_index("seed")
    assert table.loc[7, "status"] == "incomplete" and table.loc[8, "status"] == "failed"
    assert table.loc[9, "status"] == "incomplete"  # unreadable metrics: not counted as complete
    assert 10 not in table.index  # unreadable config: skipped, with a warning naming the file
    assert str(garbled.config_file) in caplog.text and str(broken.metrics_file) in caplog.text
    summary = pd.read_csv(tmp_path / "out" / "summary.csv")
    assert summary["seeds"].tolist() == [2, 2]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "Incomplete and failed runs" in report and "disk full" in report
    # the analysis never writes into run folders
    assert {p: p.read_bytes() for p in runs.rglob("*") if p.is_file()} == before


def test_no_runs_is_one_clear_error_with_status_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main([str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no run folders found below") and err.count("\n") == 1
    assert main([str(tmp_path / "missing")]) == 2


def test_out_inside_a_run_folder_is_refused(tmp_path, capsys):
    folder = write_run(tmp_path, "mnist", 0, [0.9])
    assert main([str(tmp_path), "--out", str(folder.path / "analysis")]) == 2
    assert "never writes into run folders" in capsys.readouterr().err
    assert not (folder.path / "analysis").exists()


def test_a_copied_run_folder_counts_once_and_is_named(tmp_path, caplog):
    runs = tmp_path / "outputs"
    for seed, acc in enumerate([0.990, 0.986]):
        write_run(runs, "mnist", seed, curve(acc))
        write_run(runs, "fashion", seed, curve(acc - 0.1))
    shutil.copytree(runs / "mnist" / "seed=0", tmp_path / "backup" / "seed=0")
    with caplog.at_level("WARNING"):
        assert (
            main(
                [str(runs), str(tmp_path / "backup"), "--out", str(tmp_path / "an"), "--no-figures"]
            )
            == 0
        )
    summary = pd.read_csv(tmp_path / "an" / "summary.csv").set_index("dataset")
    assert summary.loc["mnist", "seeds"] == 2
    assert summary.loc["mnist", "final_acc_std"] == pytest.approx(np.std([0.99, 0.986], ddof=1))
    assert "backup/seed=0" in caplog.text and "mnist/seed=0" in caplog.text
    assert "Duplicate run folders (counted once)" in (tmp_path / "an" / "report.md").read_text()


def test_one_run_and_its_copy_is_one_seed_not_a_zero_width_interval(tmp_path):
    write_run(tmp_path / "a", "mnist", 0, curve(0.99))
    write_run(tmp_path / "a", "fashion", 0, curve(0.89))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert (
        main(
            [
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                "--out",
                str(tmp_path / "an"),
                "--no-figures",
            ]
        )
        == 0
    )
    summary = pd.read_csv(tmp_path / "an" / "summary.csv")
    assert (summary["seeds"] == 1).all() and summary["final_acc_ci_low"].isna().all()


def test_runs_of_two_studies_are_never_pooled(tmp_path):
    for study in ("first", "second"):
        for seed in range(2):
            write_run(tmp_path / study, "mnist", seed, curve(0.99), overrides={"study": study})
    assert main([str(tmp_path), "--out", str(tmp_path / "an"), "--no-figures"]) == 0
    summary = pd.read_csv(tmp_path / "an" / "summary.csv")
    assert len(summary) == 2 and (summary["seeds"] == 2).all()
    assert sorted(summary["group"]) == ["study=first", "study=second"]


def test_records_are_portable_and_commands_rerunnable(tmp_path, monkeypatch):
    runs = tmp_path / "outputs"
    for seed in range(2):
        folder = write_run(
            runs, "mnist", seed, curve(0.99), overrides={"study": "my study"}, test_size=1000
        )
        overrides = folder.path / ".hydra" / "overrides.yaml"
        overrides.write_text(
            overrides.read_text() + "- study=my study\n- paths.output_dir=/elsewhere/outputs\n"
        )
    monkeypatch.chdir(tmp_path)
    assert main(["outputs", "--out", "mine", "--no-figures"]) == 0
    table = pd.read_csv(tmp_path / "mine" / "runs.csv")
    cells = [str(v) for v in table.to_numpy().ravel()]
    assert not [c for c in cells if c.startswith(("/study", str(tmp_path)))]
    assert table["run"].tolist() == ["outputs/mnist/seed=0", "outputs/mnist/seed=1"]
    report = (tmp_path / "mine" / "report.md").read_text()
    assert "CNN_STUDY_DATA_DIR=data " in report and "'study=my study'" in report
    assert "/elsewhere" not in report  # a machine's folders: the command runs from the project
    assert "fractions of the 1,000 test images" in report and "10,000" not in report


def test_an_image_folders_path_is_recorded_portably(tmp_path):
    """An image folder's dataset.folder is a path on the machine that ran it, like paths.*."""
    keys = {"source": "image_folder", "folder": "/study/images/leaves", "label": "Leaves"}
    for seed in range(2):
        write_run(tmp_path / "outputs", "leaves", seed, curve(0.9), dataset_keys=keys)
    assert main([str(tmp_path / "outputs"), "--out", str(tmp_path / "an"), "--no-figures"]) == 0
    table = pd.read_csv(tmp_path / "an" / "runs.csv")
    assert table["dataset.folder"].unique().tolist() == ["images/leaves"]  # below root /study


def test_the_default_output_is_one_folder_per_study_and_never_replaces_another_report(
    tmp_path, monkeypatch, capsys
):
    for seed in range(3):
        write_run(tmp_path / "outputs", "mnist", seed, curve(0.99))
    monkeypatch.chdir(tmp_path)
    published = tmp_path / "analysis" / "chapter5"  # a fresh clone's published report
    published.mkdir(parents=True)
    (published / "runs.csv").write_text("run,status,finished\noutputs/x,complete,2026\n")
    assert main(["outputs", "--no-figures"]) == 0
    assert (published / "runs.csv").read_text().startswith("run,status,finished\noutputs/x")
    mine = tmp_path / "reports" / "chapter5"
    before = {p: p.read_bytes() for p in mine.iterdir()}
    assert {"runs.csv", "summary.csv", "report.md", "report.html"} <= {p.name for p in before}
    (tmp_path / "one_seed").mkdir()
    shutil.copytree(tmp_path / "outputs" / "mnist" / "seed=0", tmp_path / "one_seed" / "seed=0")
    assert main(["one_seed"]) == 2
    err = capsys.readouterr().err
    assert "holds a report of 3 other runs" in err and "--out DIR" in err and "--overwrite" in err
    assert {p: p.read_bytes() for p in mine.iterdir()} == before
    # the same runs again: refreshing the report is fine
    assert main(["outputs", "--no-figures"]) == 0
    # a seed added: the report's runs are all still there
    write_run(tmp_path / "outputs", "mnist", 3, curve(0.99))
    assert main(["outputs", "--no-figures"]) == 0
    # the same study run again elsewhere: the same folder names, other runs
    results = tmp_path / "outputs" / "mnist" / "seed=0" / "results.json"
    results.write_text(results.read_text().replace("2026-01-01T00:00:00", "2027-01-01T00:00:00"))
    before = {p: p.read_bytes() for p in mine.iterdir()}
    assert main(["outputs"]) == 2
    assert "holds a report of 4 other runs" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in mine.iterdir()} == before
    assert main(["one_seed", "--overwrite", "--no-figures"]) == 0


def test_the_run_folder_gives_overrides_choices_and_status(tmp_path):
    done = write_run(tmp_path, "mnist", 0, curve(0.99), model="cnn_bn", optimizer="adam")
    assert done.read_overrides() == ["dataset=mnist", "seed=0", "model=cnn_bn", "optimizer=adam"]
    assert done.read_choices()["model"] == "cnn_bn"
    status = done.status()
    assert status.state == COMPLETE and status.epochs_recorded == 5 and not status.unreadable
    assert status.results["final_test_acc"] == pytest.approx(0.99)
    # results.json says every epoch is done, but metrics.csv lost its last row: not complete
    done.write_metrics(done.read_metrics()[:-1])
    assert done.status().state == INCOMPLETE and done.status().epochs_recorded == 4
    cut = write_run(
        tmp_path / "cut", "fashion", 1, curve(0.88)[:2], finished=False, planned_epochs=5
    )
    assert cut.status().state == INCOMPLETE and cut.status().epochs_recorded == 2
    cut.failure_file.write_text('{"error": "disk full"}')
    assert (cut.status().state, cut.status().error) == (FAILED, "disk full")
    cut.results_file.write_text("{not json")
    assert cut.results_file in cut.status().unreadable
    (cut.path / ".hydra" / "hydra.yaml").unlink()
    (cut.path / ".hydra" / "overrides.yaml").unlink()
    assert cut.read_choices() == {} and cut.read_overrides() == []


@pytest.fixture
def two_kinds(tmp_path):
    """A chapter-like study (the dataset varies) and a grid-like one (the model too)."""
    for seed in range(2):
        for dataset, acc in (("mnist", 0.99), ("fashion", 0.88)):
            write_run(tmp_path / "chapter", dataset, seed, curve(acc))
            for model in ("cnn", "cnn_bn"):
                write_run(
                    tmp_path / "grid", dataset, seed, curve(acc), model=model, optimizer="adam"
                )
    return tmp_path


def test_the_kind_is_chosen_once_from_the_runs_and_every_kind_cleans_paths(two_kinds, monkeypatch):
    monkeypatch.chdir(two_kinds)
    chosen = []
    choose = kinds.choose
    monkeypatch.setattr(kinds, "choose", lambda study: chosen.append(choose(study)) or chosen[-1])
    done = {
        name: analyse([two_kinds / name], two_kinds / "out" / name, draw=False)
        for name in ("chapter", "grid")
    }
    assert [kind.name for kind in chosen] == ["chapter", "grid"]  # once per analysis
    assert {name: a.kind for name, a in done.items()} == {"chapter": "chapter", "grid": "grid"}
    chapter_report = (two_kinds / "out" / "chapter" / "report.md").read_text()
    grid_report = (two_kinds / "out" / "grid" / "report.md").read_text()
    assert (
        "does the chapter's CNN reach 99%?" in chapter_report and "per cell" not in chapter_report
    )
    assert "does a stronger model close the gap?" in grid_report
    assert "Final test accuracy per cell" in (two_kinds / "out" / "grid" / "summary.md").read_text()
    # given as absolute paths, the analysed folders are named as the reader finds them
    assert "below `chapter`." in chapter_report and "below `grid`:" in grid_report
    assert str(two_kinds) not in chapter_report + grid_report


def test_a_new_kind_is_one_entry_in_the_registry(two_kinds, monkeypatch):
    tuned = dataclasses.replace(chapter.KIND, name="tuned", title="tuned report")
    monkeypatch.setattr(kinds, "KINDS", (tuned, *kinds.KINDS))
    result = analyse([two_kinds / "grid"], two_kinds / "out", draw=False)
    assert result.kind == "tuned"
    assert "<title>tuned report</title>" in (two_kinds / "out" / "report.html").read_text()
