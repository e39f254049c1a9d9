"""Datasets compared with a reference: gaps checked against scipy's Welch test and Holm's
step-down procedure, the reference chosen by name or label, each dataset's own classes, and the
chapter's own two datasets still reported as the chapter."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cnn_study.analysis import figures, kinds, report
from cnn_study.analysis.__main__ import main
from cnn_study.analysis.collect import collect
from cnn_study.analysis.kinds import chapter as chapter_kind
from cnn_study.analysis.kinds import datasets as datasets_kind
from cnn_study.analysis.kinds import skeleton
from cnn_study.analysis.kinds.skeleton import SECTIONS
from cnn_study.analysis.pipeline import analyse
from cnn_study.analysis.study import summarise_study
from cnn_study.errors import StudyError
from tests.fakeruns import FIGURES, write_run
from tests.holm import holm_by_procedure
from tests.unit.analysis.sections import sections

CIFAR_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
KMNIST_CLASSES = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
LEAF_CLASSES = ["oak", "maple", "birch", "beech", "ash"]
# What the other datasets' configs will say about themselves (conf/dataset has only the
# chapter's two in this branch): the keys a run records.
KEYS = {
    "mnist": {"label": "MNIST"},
    "fashion": {"label": "FashionMNIST"},
    "kmnist": {
        "label": "KMNIST",
        "torchvision_class": "torchvision.datasets.KMNIST",
        "classes": KMNIST_CLASSES,
    },
    "cifar10": {
        "label": "CIFAR-10",
        "torchvision_class": "torchvision.datasets.CIFAR10",
        "classes": CIFAR_CLASSES,
        "in_channels": 3,
        "image_size": 32,
    },
    "leaves": {"label": "My leaves", "classes": LEAF_CLASSES, "num_classes": 5},
}
# Final test accuracy of each seed; unequal spreads, so that Welch differs from Student.
FINALS = {
    "mnist": [0.990, 0.992, 0.987],
    "fashion": [0.885, 0.891, 0.884],
    "kmnist": [0.951, 0.944, 0.949],
    "cifar10": [0.598, 0.611, 0.589],
    "leaves": [0.991, 0.985, 0.993],  # within MNIST's spread: not told apart from it
}


def curve(final: float, epochs: int = 4) -> list[float]:
    return [final - 0.03 * (epochs - 1 - i) / (epochs - 1) for i in range(epochs)]


def class_confusion(accuracies: list[float], per_class: int = 1000) -> list[list[int]]:
    """Each class right accuracies[i] of the time; its errors go to the next class."""
    n = len(accuracies)
    matrix = np.zeros((n, n), dtype=int)
    for i, acc in enumerate(accuracies):
        matrix[i, i] = round(acc * per_class)
        matrix[i, (i + 1) % n] = per_class - matrix[i, i]
    return matrix.tolist()


def class_accuracies(dataset: str, seed: int) -> list[float]:
    """Per-class accuracies that differ from class to class, the same order every seed:
    class i of a dataset of n classes is right 1 - (i + 1) / (4 n) of the time, so its
    last classes are its hardest."""
    n = len(KEYS[dataset].get("classes", range(10)))
    return [1 - (i + 1) / (4 * n) - 0.001 * seed for i in range(n)]


def write_study(root, names: list[str], labelled: bool = True) -> None:
    for name in names:
        for seed, final in enumerate(FINALS[name]):
            write_run(
                root,
                name,
                seed,
                curve(final),
                confusion=class_confusion(class_accuracies(name, seed)),
                dataset_keys=KEYS[name] if labelled or name not in ("mnist", "fashion") else {},
            )


def summarised(root, reference=None):
    return summarise_study(collect([root]), [root], command=None, reference=reference)


def report_of(study) -> tuple[str, str]:
    """The study's kind and its report.md, without drawing figures (seconds per study): only
    the four-dataset study below goes through the whole pipeline."""
    kind = kinds.choose(study)
    return kind.name, report.to_markdown(kinds.write(study, kind.report(study, kind.tables(study))))


def welch_by_scipy(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Difference of means, and Welch's 95% interval of it, as scipy gives them."""
    interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    return np.mean(a) - np.mean(b), interval.low, interval.high


def check_gaps_against_scipy(gaps: pd.DataFrame, reference: str) -> None:
    assert (gaps["a"] == reference).all()
    for row in gaps.itertuples(index=False):
        a, b = FINALS[row.a], FINALS[row.b]
        test = stats.ttest_ind(a, b, equal_var=False)
        diff, low, high = welch_by_scipy(a, b)
        assert row.gap == pytest.approx(diff, abs=1e-12)
        assert row.gap_ci_low == pytest.approx(low, abs=1e-9)
        assert row.gap_ci_high == pytest.approx(high, abs=1e-9)
        assert row.welch_t == pytest.approx(test.statistic)
        assert row.p_value == pytest.approx(test.pvalue)
        assert (row.seeds_a, row.seeds_b) == (len(a), len(b))
    expected = holm_by_procedure(
        [
            stats.ttest_ind(FINALS[a], FINALS[b], equal_var=False).pvalue
            for a, b in zip(gaps["a"], gaps["b"], strict=True)
        ]
    )
    assert gaps["p_holm"].tolist() == pytest.approx(expected)


# --- four datasets, end to end -----------------------------------------------------------


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    root = tmp_path_factory.mktemp("four")
    write_study(root / "outputs", ["mnist", "fashion", "kmnist", "cifar10"])
    result = analyse([root / "outputs"], root / "analysis", draw=False)  # drawn in memory below
    return result, root / "analysis"


def test_the_accuracy_table_gives_each_datasets_input_shape(four):
    """The model is built per dataset: the reader sees what each one took in."""
    summary = (four[1] / "summary.md").read_text()
    rows = {line.split(" | ")[0].strip("| "): line for line in summary.splitlines()}
    assert "| 3x32x32 |" in rows["CIFAR-10"] and "| 1x28x28 |" in rows["KMNIST"]


def test_four_datasets_are_the_datasets_kind_with_a_gap_each_to_mnist(four):
    result, out = four
    assert result.kind == "datasets"
    gaps = pd.read_csv(out / "gaps.csv")
    # the reference first, then the others in name order: one gap each, no pair of others
    assert gaps["b"].tolist() == ["cifar10", "fashion", "kmnist"]
    assert gaps["comparison"].tolist() == [
        "MNIST - CIFAR-10",
        "MNIST - FashionMNIST",
        "MNIST - KMNIST",
    ]
    check_gaps_against_scipy(gaps, "mnist")
    summary = pd.read_csv(out / "summary.csv")
    assert summary["group"].tolist() == ["MNIST", "CIFAR-10", "FashionMNIST", "KMNIST"]


def test_four_datasets_report_answers_from_the_numbers(four):
    _, out = four
    report = (out / "report.md").read_text()
    assert "# cnn-study report: how hard is each dataset, compared with MNIST?" in report
    gaps = pd.read_csv(out / "gaps.csv").set_index("b")
    for name, label in (("cifar10", "CIFAR-10"), ("fashion", "FashionMNIST")):
        points = f"{100 * gaps.loc[name, 'gap']:.2f} points lower"
        assert f"**{label} is harder than MNIST**" in report and points in report
    assert "the default: the chapter's dataset" in report
    # the chapter's 99% claim belongs to the chapter's report only
    assert "99%" not in report.split("## Commands")[1].split("## What was run")[0]
    # each dataset's hardest classes by its own names: the last three of each
    assert "**CIFAR-10**: the three hardest classes are truck" in report
    assert "ship" in report and "**KMNIST**: the three hardest classes are wo" in report
    summary_md = (out / "summary.md").read_text()
    assert "Each dataset's gap to MNIST" in summary_md and "| p (Holm) |" in summary_md
    assert sections(report) == list(SECTIONS)  # the one writer's order, as every kind's


def test_four_datasets_figures_compare_on_one_scale_without_the_chapters_target(four):
    _, out = four
    root = out.parent / "outputs"
    drawn = datasets_kind.draw(summarised(root))
    assert list(drawn) == FIGURES
    order = ["MNIST", "CIFAR-10", "FashionMNIST", "KMNIST"]
    lines = [line for fig in drawn.values() for ax in fig.axes for line in ax.get_lines()]
    at_target = [
        line
        for line in lines
        for data in (line.get_xdata(), line.get_ydata())
        if len(data) == 2 and np.allclose(np.asarray(data, float), 99.0)
    ]
    assert not at_target  # no 99% line anywhere: the study makes no claim about it
    final = drawn["final_accuracy"].axes
    assert [ax.get_title() for ax in final] == order
    assert len({round(ax.get_ylim()[1] - ax.get_ylim()[0], 9) for ax in final}) == 1
    per_class = drawn["per_class_accuracy"]
    assert [t.get_text() for legend in per_class.legends for t in legend.get_texts()] == order
    assert len({ax.get_xlim() for ax in per_class.axes}) == 1
    matrices = [ax for ax in drawn["confusion_matrices"].axes if ax.images]
    assert [ax.images[0].get_array().shape for ax in matrices] == [(10, 10)] * 4
    assert all(ax.get_visible() for ax in drawn["confusion_matrices"].axes)
    # losses far apart: each panel its own scale, each labelled, and the title says so
    assert all(ax.get_ylabel() for ax in drawn["loss_curves"].axes)
    assert "each panel on its own scale" in drawn["loss_curves"].get_suptitle()
    _, report = report_of(summarised(root))
    (caption,) = [line for line in report.splitlines() if line.startswith("*Training loss")]
    assert "each panel on its own scale" in caption


def test_per_class_table_keeps_each_datasets_own_class_names(four):
    _, out = four
    per_class = pd.read_csv(out / "per_class.csv", keep_default_na=False)
    names = per_class.groupby("dataset")["class"].apply(list).to_dict()
    assert names["cifar10"] == CIFAR_CLASSES and names["kmnist"] == KMNIST_CLASSES
    assert names["mnist"] == [str(d) for d in range(10)]
    cifar = per_class[per_class["dataset"] == "cifar10"].set_index("class")
    seeds = [class_accuracies("cifar10", s) for s in range(3)]
    assert cifar.loc["truck", "acc_mean"] == pytest.approx(np.mean([a[9] for a in seeds]))
    summary_md = (out / "summary.md").read_text()
    assert "| airplane |" in summary_md and "| T-shirt/top |" in summary_md


# --- three datasets, one a user's own with five classes ----------------------------------


def test_three_datasets_with_a_users_own_classes(tmp_path):
    write_study(tmp_path / "outputs", ["mnist", "fashion", "leaves"])
    study = summarised(tmp_path / "outputs")
    gaps = study.gaps
    assert gaps["comparison"].tolist() == ["MNIST - FashionMNIST", "MNIST - My leaves"]
    check_gaps_against_scipy(gaps, "mnist")
    per_class = study.per_class
    assert per_class.loc[per_class["dataset"] == "leaves", "class"].tolist() == LEAF_CLASSES
    _, report = report_of(study)
    leaves = gaps[gaps["b"] == "leaves"].iloc[0]
    assert leaves["p_holm"] >= 0.05  # as FINALS were chosen: within MNIST's spread
    assert "**My leaves cannot be told apart from MNIST**" in report
    assert "**FashionMNIST is harder than MNIST**" in report
    assert "**My leaves**: the three hardest classes are ash" in report


# --- the reference -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def runs_of_three(tmp_path_factory):
    root = tmp_path_factory.mktemp("ref")
    write_study(root, ["mnist", "fashion", "kmnist"])
    return root


@pytest.mark.parametrize("given", ["kmnist", "KMNIST", "kMnIsT"])
def test_the_reference_is_chosen_by_name_or_label_in_any_case(runs_of_three, given):
    study = summarised(runs_of_three, reference=given)
    assert study.reference == "kmnist" and study.reference_chosen
    # the reference, then the others by dataset.name: fashion before mnist
    assert study.order == ["KMNIST", "FashionMNIST", "MNIST"]
    assert study.gaps["b"].tolist() == ["fashion", "mnist"]
    check_gaps_against_scipy(study.gaps, "kmnist")
    # the same two datasets either way round: the gap changes sign, the test does not
    default = summarised(runs_of_three).gaps.set_index("b")
    mnist_row = study.gaps.set_index("b").loc["mnist"]
    assert mnist_row["gap"] == pytest.approx(-default.loc["kmnist", "gap"])
    assert mnist_row["p_value"] == pytest.approx(default.loc["kmnist", "p_value"])


def test_a_label_with_spaces_names_the_reference(tmp_path):
    write_study(tmp_path, ["fashion", "leaves"])
    study = summarised(tmp_path, reference="my leaves")
    assert study.reference == "leaves"
    assert study.gaps["comparison"].tolist() == ["My leaves - FashionMNIST"]


def test_the_default_reference_is_mnist_where_present(runs_of_three):
    study = summarised(runs_of_three)
    assert study.reference == "mnist" and not study.reference_chosen
    assert study.gaps["b"].tolist() == ["fashion", "kmnist"]


def test_without_mnist_the_default_is_the_first_dataset_in_name_order(tmp_path):
    write_study(tmp_path / "outputs", ["kmnist", "fashion", "cifar10"])
    study = summarised(tmp_path / "outputs")
    kind, report = report_of(study)
    assert kind == "datasets"
    assert study.gaps["a"].unique().tolist() == ["cifar10"]  # cifar10 < fashion < kmnist
    assert study.gaps["b"].tolist() == ["fashion", "kmnist"]
    check_gaps_against_scipy(study.gaps, "cifar10")
    assert "compared with CIFAR-10?" in report
    assert "the default where no run is of MNIST: the first dataset in name order" in report
    assert "**FashionMNIST is easier than CIFAR-10**" in report


def test_an_unknown_reference_is_one_line_and_writes_nothing(runs_of_three, tmp_path, capsys):
    out = tmp_path / "analysis"
    assert main([str(runs_of_three), "--out", str(out), "--reference", "cifar"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err == (
        "error: --reference cifar: no such dataset among the runs (mnist = MNIST, "
        "fashion = FashionMNIST, kmnist = KMNIST): give one of those names\n"
    )
    assert not out.exists()
    with pytest.raises(StudyError, match="--reference cifar"):
        summarised(runs_of_three, reference="cifar")


def test_a_chosen_reference_is_said_in_the_report(runs_of_three):
    study = summarised(runs_of_three, reference="FashionMNIST")
    _, report = report_of(study)
    assert study.gaps["a"].unique().tolist() == ["fashion"]
    assert (
        "Every gap is measured from **FashionMNIST** (`fashion`), as `--reference` asked." in report
    )
    assert "**MNIST is easier than FashionMNIST**" in report


# --- which kind ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("names", "kind"),
    [
        (["mnist", "fashion"], "chapter"),
        (["mnist", "kmnist"], "datasets"),
        (["fashion", "kmnist"], "datasets"),
        (["mnist", "fashion", "kmnist"], "datasets"),
        (["mnist"], "chapter"),
    ],
)
def test_the_datasets_kind_is_every_dataset_study_but_the_chapters_own(tmp_path, names, kind):
    write_study(tmp_path, names)
    assert kinds.choose(summarised(tmp_path)).name == kind
    assert datasets_kind.matches(summarised(tmp_path)) == (kind == "datasets")


def test_old_runs_without_a_label_join_new_runs_of_the_same_dataset(tmp_path):
    write_study(tmp_path / "old", ["mnist", "fashion"], labelled=False)
    write_run(tmp_path / "new", "mnist", 9, curve(0.99), dataset_keys={"label": "MNIST"})
    study = summarised(tmp_path)
    assert study.keys == ["dataset.name"]
    assert study.summary.set_index("group")["seeds"].to_dict() == {"MNIST": 4, "FashionMNIST": 3}


# --- the chapter's own comparison is as it was ---------------------------------------------


@pytest.mark.parametrize("labelled", [False, True])
def test_mnist_and_fashion_give_the_chapters_one_gap_row_as_before(tmp_path, labelled):
    write_study(tmp_path / "outputs", ["mnist", "fashion"], labelled=labelled)
    study = summarised(tmp_path / "outputs")
    kind, report = report_of(study)
    assert kind == "chapter"
    gaps = study.gaps
    # the columns main wrote for the chapter: one gap, no Holm (nothing to adjust over)
    assert gaps.columns.tolist() == [
        "comparison",
        "a",
        "b",
        "a_label",
        "b_label",
        "seeds_a",
        "seeds_b",
        "mean_a",
        "mean_b",
        "gap",
        "gap_ci_low",
        "gap_ci_high",
        "welch_t",
        "welch_df",
        "p_value",
    ]
    assert gaps["comparison"].tolist() == ["MNIST - FashionMNIST"]
    row = gaps.iloc[0]
    test = stats.ttest_ind(FINALS["mnist"], FINALS["fashion"], equal_var=False)
    interval = test.confidence_interval(0.95)
    assert row["gap"] == pytest.approx(np.mean(FINALS["mnist"]) - np.mean(FINALS["fashion"]))
    assert (row["gap_ci_low"], row["gap_ci_high"]) == pytest.approx((interval.low, interval.high))
    assert (row["welch_t"], row["welch_df"], row["p_value"]) == pytest.approx(
        (test.statistic, test.df, test.pvalue)
    )
    assert "does the chapter's CNN reach 99%?" in report and "--reference" not in report


def test_the_chapters_zoom_is_captioned_with_the_range_it_draws(tmp_path, monkeypatch):
    # another target (a chapter claiming 95%): the caption follows the drawn zoom, not a
    # range written out for 99%
    monkeypatch.setattr(figures, "TARGET", 0.95)
    write_study(tmp_path, ["mnist", "fashion"])
    study = summarised(tmp_path)
    zoom = chapter_kind.draw(study)["learning_curves"].axes[1]
    low, high = zoom.get_ylim()
    assert (low, high) == (93, 100)
    _, report = report_of(study)
    assert f"zoomed in on {low:.0f}% to {high:.0f}%." in report


# --- one dataset that is not the chapter's: the chapter's kind, without its claim -----------


def _target_drawn(fig) -> bool:
    lines = [line for ax in fig.axes for line in ax.get_lines()]
    at = [
        line
        for line in lines
        for data in (line.get_xdata(), line.get_ydata())
        if len(data) == 2 and np.allclose(np.asarray(data, float), 100 * figures.TARGET)
    ]
    labels = [t.get_text() for ax in fig.axes for t in ax.texts]
    labels += [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    labels += [
        t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()
    ]
    return bool(at) or figures.target_label(figures.TARGET) in labels


@pytest.mark.parametrize(("dataset", "claimed"), [("cifar10", False), ("mnist", True)])
def test_one_dataset_is_checked_against_the_chapters_claim_only_if_it_is_the_chapters(
    tmp_path, dataset, claimed
):
    write_study(tmp_path, [dataset])
    study = summarised(tmp_path)
    kind, report = report_of(study)
    assert kind == "chapter"
    title = report.splitlines()[0]
    assert ("reach 99%" in title) == claimed
    if not claimed:
        assert title == "# cnn-study report: the chapter's CNN and recipe on CIFAR-10"
    answer = report.split("## The answer")[1].split("## Where the errors are")[0]
    verdicts = ("reaches 99%", "reach 99%", "about 99%", "short of 99%")
    assert any(v in answer for v in verdicts) == claimed
    for said in ("dashed", "mean curve first >= 99%"):
        assert (said in answer) == claimed, said
    drawn = chapter_kind.draw(study)
    for name in ("learning_curves", "final_accuracy", "per_class_accuracy"):
        assert _target_drawn(drawn[name]) == claimed, name


def test_one_gap_is_judged_and_named_by_its_own_p_not_an_adjusted_one(tmp_path):
    write_study(tmp_path, ["mnist", "kmnist"])
    study = summarised(tmp_path)
    kind, report = report_of(study)
    assert kind == "datasets" and len(study.gaps) == 1
    method = report.split("## Method")[1].split("## Machine and time")[0]
    assert "adjusted" not in method and "Holm" not in method
    assert "where its Welch's t-test p is below" in method
    assert "| p (Holm) |" not in report


def test_every_section_heading_is_the_writers(tmp_path, monkeypatch):
    # the appendix's heading too: renamed in SECTIONS, renamed in the report
    renamed = (*skeleton.SECTIONS[:-1], "All the runs")
    monkeypatch.setattr(skeleton, "SECTIONS", renamed)
    write_study(tmp_path, ["mnist", "fashion"])
    _, report = report_of(summarised(tmp_path))
    assert "\n## All the runs\n" in report and "## Every run" not in report


# --- a grid of three datasets --------------------------------------------------------------


@pytest.fixture(scope="module")
def grid_of_three(tmp_path_factory):
    """Three datasets x two models, two seeds each; cnn_bn lifts every dataset by its own
    amount, so that each pair's gap moves differently from the chapter's cell."""
    root = tmp_path_factory.mktemp("grid3")
    lift = {"mnist": 0.002, "fashion": 0.03, "kmnist": 0.015}
    for name in ("mnist", "fashion", "kmnist"):
        for model in ("cnn", "cnn_bn"):
            for seed, final in enumerate(FINALS[name][:2]):
                final += lift[name] if model == "cnn_bn" else 0.0
                write_run(
                    root,
                    name,
                    seed,
                    curve(final),
                    model=model,
                    optimizer="sgd",
                    dataset_keys=KEYS[name],
                )
    return summarised(root)


def test_a_grid_of_three_datasets_compares_each_pair_with_its_chapters_cell(grid_of_three):
    study = grid_of_three
    assert kinds.choose(study).name == "grid"
    gaps = study.gaps
    assert len(gaps) == 4 and set(gaps["a"]) == {"mnist"}
    assert "p_holm" in gaps and "diff_p_holm" in gaps
    runs = study.runs

    def finals(dataset, model):
        cell = runs[(runs["dataset.name"] == dataset) & (runs["model_name"] == model)]
        return cell["final_test_acc"].to_numpy()

    # each pair's gaps and its contrast with its own chapter's cell, never across pairs
    for pair, block in gaps.groupby("b"):
        rows = block.set_index("model")
        assert set(rows.index) == {"cnn", "cnn_bn"}
        assert rows.loc["cnn", "reference"] == "chapter's cell"
        for model in ("cnn", "cnn_bn"):
            expected = welch_by_scipy(finals("mnist", model), finals(pair, model))
            got = rows.loc[model, ["gap", "gap_ci_low", "gap_ci_high"]].tolist()
            assert got == pytest.approx(expected)
        samples = [finals("mnist", "cnn_bn"), finals(pair, "cnn_bn")]
        samples += [finals("mnist", "cnn"), finals(pair, "cnn")]
        estimate = (samples[0].mean() - samples[1].mean()) - (samples[2].mean() - samples[3].mean())
        parts = [x.var(ddof=1) / len(x) for x in samples]
        df = sum(parts) ** 2 / sum(
            v * v / (len(x) - 1) for v, x in zip(parts, samples, strict=True)
        )
        half = stats.t.ppf(0.975, df) * math.sqrt(sum(parts))
        row = rows.loc["cnn_bn"]
        assert row["gap_minus_chapter"] == pytest.approx(estimate, abs=1e-12)
        assert (row["diff_ci_low"], row["diff_ci_high"]) == pytest.approx(
            (estimate - half, estimate + half)
        )
    assert gaps["p_holm"].tolist() == pytest.approx(holm_by_procedure(list(gaps["p_value"])))
    contrasts = gaps["diff_p"].notna()
    assert contrasts.sum() == 2  # one per pair: cnn_bn against the chapter's cnn
    assert gaps.loc[contrasts, "diff_p_holm"].tolist() == pytest.approx(
        holm_by_procedure(list(gaps.loc[contrasts, "diff_p"]))
    )


def test_a_grid_of_three_datasets_draws_its_interaction_figure(grid_of_three, tmp_path):
    study = grid_of_three
    fig = figures.interaction(study.summary, study.gaps, "model", None)
    names = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert "MNIST - FashionMNIST, 95% CI (Welch)" in names
    assert "MNIST - KMNIST, 95% CI (Welch)" in names
    bottom = fig.axes[1]  # the gaps: a line per pair, each with its interval
    assert len([c for c in bottom.containers]) == 2
