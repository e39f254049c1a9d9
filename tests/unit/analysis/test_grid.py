"""The analysis of a factorial grid, checked against scipy and values fixed by construction."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cnn_study.analysis import kinds, report
from cnn_study.analysis.__main__ import main
from cnn_study.analysis.collect import collect
from cnn_study.analysis.inference import contrast, holm
from cnn_study.analysis.kinds.skeleton import SECTIONS
from cnn_study.analysis.study import summarise_study
from tests.fakeruns import write_run
from tests.unit.analysis.sections import sections

MODELS = ["cnn", "cnn_bn", "mlp"]
OPTIMIZERS = ["sgd", "adam"]
# Final accuracy of each cell's mean; seeds spread around it by SPREAD (one pattern per cell).
MEANS = {
    ("mnist", "cnn", "sgd"): 0.990,
    ("fashion", "cnn", "sgd"): 0.885,
    ("mnist", "cnn_bn", "sgd"): 0.992,
    ("fashion", "cnn_bn", "sgd"): 0.915,
    ("mnist", "mlp", "sgd"): 0.980,
    ("fashion", "mlp", "sgd"): 0.875,
    # adam + cnn: both datasets 1 point above sgd + cnn, so its gap equals the chapter's
    ("mnist", "cnn", "adam"): 1.000,
    ("fashion", "cnn", "adam"): 0.895,
    ("mnist", "cnn_bn", "adam"): 0.993,
    ("fashion", "cnn_bn", "adam"): 0.925,
    ("mnist", "mlp", "adam"): 0.981,
    ("fashion", "mlp", "adam"): 0.880,
}
SPREADS = [
    [-0.002, 0.000, 0.002],
    [-0.001, 0.003, -0.002],
    [0.004, -0.001, -0.003],
]


def finals(dataset, model, optimizer):
    """The three seeds' final accuracies of one cell."""
    index = (MODELS.index(model) + OPTIMIZERS.index(optimizer) + (dataset == "fashion")) % 3
    # the adam + cnn cell copies the chapter's cell's spread, so only its mean moves
    if (model, optimizer) == ("cnn", "adam"):
        index = (0 + (dataset == "fashion")) % 3
    return [MEANS[dataset, model, optimizer] + d for d in SPREADS[index]]


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    root = tmp_path_factory.mktemp("grid")
    for dataset, model, optimizer in MEANS:
        for seed, final in enumerate(finals(dataset, model, optimizer)):
            write_run(
                root / "outputs",
                dataset,
                seed,
                [final - 0.03, final - 0.01, final],
                model=model,
                optimizer=optimizer,
            )
    # numbers and sentences only: grid_figures below draws the figures, in memory
    assert main([str(root / "outputs"), "--out", str(root / "analysis"), "--no-figures"]) == 0
    return root / "analysis"


def test_one_row_per_cell_with_student_t_intervals(grid):
    summary = pd.read_csv(grid / "summary.csv")
    assert len(summary) == 12
    assert set(zip(summary["dataset"], summary["model"], summary["optimizer"], strict=True)) == set(
        MEANS
    )
    for row in summary.itertuples(index=False):
        x = np.array(finals(row.dataset, row.model, row.optimizer))
        interval = stats.ttest_1samp(x, 0).confidence_interval(0.95)
        assert row.seeds == 3
        assert row.final_acc_mean == pytest.approx(x.mean(), abs=1e-12)
        assert row.final_acc_std == pytest.approx(x.std(ddof=1), abs=1e-12)
        assert row.final_acc_ci_low == pytest.approx(interval.low, abs=1e-12)
        assert row.final_acc_ci_high == pytest.approx(interval.high, abs=1e-12)


def test_gaps_per_cell_are_welch_as_scipy_computes_it(grid):
    gaps = pd.read_csv(grid / "gaps.csv")
    assert len(gaps) == 6
    for row in gaps.itertuples(index=False):
        a = np.array(finals("mnist", row.model, row.optimizer))
        b = np.array(finals("fashion", row.model, row.optimizer))
        test = stats.ttest_ind(a, b, equal_var=False)
        interval = test.confidence_interval(0.95)
        assert row.gap == pytest.approx(a.mean() - b.mean(), abs=1e-12)
        assert row.gap_ci_low == pytest.approx(interval.low, abs=1e-9)
        assert row.gap_ci_high == pytest.approx(interval.high, abs=1e-9)
        assert row.p_value == pytest.approx(test.pvalue, rel=1e-9)


def test_gap_differences_against_the_chapters_cell(grid):
    gaps = pd.read_csv(grid / "gaps.csv", keep_default_na=False, na_values=[""])
    gaps = gaps.set_index(["model", "optimizer"])
    assert gaps.loc[("cnn", "sgd"), "reference"] == "chapter's cell"
    assert (gaps.drop(index=[("cnn", "sgd")])["reference"].isna()).all()
    # fixed by construction: adam + cnn moves both datasets by one point, so the same gap
    assert gaps.loc[("cnn", "adam"), "gap_minus_chapter"] == pytest.approx(0, abs=1e-12)
    # cnn_bn + sgd: MNIST +0.2, FashionMNIST +3.0 points -> the gap shrinks by 2.8 points
    assert gaps.loc[("cnn_bn", "sgd"), "gap_minus_chapter"] == pytest.approx(-0.028, abs=1e-12)
    # Welch-Satterthwaite for the contrast (a1 - b1) - (a0 - b0), computed here from its
    # definition: scipy has no test of four means (test_stats.py ties the same contrast to
    # scipy's two-sample Welch test where two of the four samples do not vary)
    for (model, optimizer), row in gaps.drop(index=[("cnn", "sgd")]).iterrows():
        groups = [
            np.array(finals("mnist", model, optimizer)),
            np.array(finals("fashion", model, optimizer)),
            np.array(finals("mnist", "cnn", "sgd")),
            np.array(finals("fashion", "cnn", "sgd")),
        ]
        v = [g.var(ddof=1) / len(g) for g in groups]
        se = np.sqrt(sum(v))
        df = sum(v) ** 2 / sum(x**2 / 2 for x in v)  # n - 1 = 2 in every cell
        diff = (groups[0].mean() - groups[1].mean()) - (groups[2].mean() - groups[3].mean())
        half = stats.t.ppf(0.975, df) * se
        assert row["diff_ci_low"] == pytest.approx(diff - half, abs=1e-9)
        assert row["diff_ci_high"] == pytest.approx(diff + half, abs=1e-9)
        assert row["diff_p"] == pytest.approx(2 * stats.t.sf(abs(diff / se), df), rel=1e-9)
    assert (gaps["diff_p_holm"].dropna() >= gaps["diff_p"].dropna()).all()


def test_holm_matches_a_published_worked_example():
    # Wikipedia's worked example of the Holm-Bonferroni method: p = 0.01, 0.04, 0.03, 0.005
    # at alpha = 0.05 rejects H1 and H4 only. Adjusted, as R's p.adjust(p, "holm") gives
    # them: 0.03, 0.06, 0.06, 0.02.
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert list(adjusted <= 0.05) == [True, False, False, True]
    # ties: 3 x 0.3 = 0.9 for the first, and no larger p-value may fall below it; capped
    # at 1: 2 x 0.6 = 1.2
    assert holm([0.6, 0.3, 0.3]) == pytest.approx([0.9, 0.9, 0.9])
    assert holm([0.8, 0.6]) == pytest.approx([1.0, 1.0])
    assert np.isnan(holm([0.2, np.nan])[1]) and holm([0.2, np.nan])[0] == pytest.approx(0.2)


def test_contrast_of_two_samples_is_welchs_interval():
    a, b = np.array([1.0, 2.0, 4.0]), np.array([0.5, 0.7, 0.2, 0.1])
    c = contrast([a, b], [1, -1])
    test = stats.ttest_ind(a, b, equal_var=False)
    interval = test.confidence_interval(0.95)
    assert (c["ci_low"], c["ci_high"]) == pytest.approx((interval.low, interval.high))
    assert c["df"] == pytest.approx(test.df) and c["p"] == pytest.approx(test.pvalue)


@pytest.fixture(scope="module")
def grid_figures(grid):
    """The grid's figures drawn in memory from its runs (not read back from PNGs)."""
    outputs = grid.parent / "outputs"
    study = summarise_study(collect([outputs]), [outputs], command=None)
    kind = kinds.choose(study)
    assert kind.name == "grid"
    drawn = kind.figures(study)
    blocks = kinds.write(study, kind.report(study, kind.tables(study)))
    shown = [b.path.stem for b in blocks if isinstance(b, report.Figure)]
    assert sorted(shown) == sorted(drawn)  # the report shows every figure drawn, once
    return drawn


def test_every_grid_figure_draws_each_cell_and_dataset(grid_figures):
    assert set(grid_figures) == {
        "interaction",
        "learning_curves",
        "final_accuracy",
        "per_class_accuracy",
        "confusion_matrices",
        "loss_curves",
    }
    cells, groups = 6, 12
    curves = grid_figures["learning_curves"]
    assert len(curves.axes) == cells and all(len(ax.get_lines()) >= 2 for ax in curves.axes)
    matrices = [ax for ax in grid_figures["confusion_matrices"].axes if ax.images]
    assert len(matrices) == groups  # 12 panels: 3 rows of 4, none empty
    assert all(ax.get_visible() for ax in grid_figures["confusion_matrices"].axes)
    assert len(grid_figures["loss_curves"].axes) == groups
    dots = grid_figures["final_accuracy"].axes
    assert [ax.get_title() for ax in dots] == ["MNIST", "FashionMNIST"]
    assert len({round(ax.get_xlim()[1] - ax.get_xlim()[0], 9) for ax in dots}) == 1
    heat = [ax for ax in grid_figures["per_class_accuracy"].axes if ax.images]
    assert [ax.images[0].get_array().shape for ax in heat] == [(cells, 10)] * 2
    top, bottom = grid_figures["interaction"].axes[:2], grid_figures["interaction"].axes[2:]
    assert [ax.get_title() for ax in top] == ["optimizer=sgd", "optimizer=adam"]
    assert all(len(ax.get_xticklabels()) == len(MODELS) for ax in bottom)


def test_the_report_answers_in_sentences_made_from_the_numbers(grid):
    report = (grid / "report.md").read_text()
    assert "does a stronger model close the gap?" in report
    # the chapter's cell: 99.0 - 88.5 = 10.5 points; the smallest gap is cnn_bn + adam's 6.8
    assert "the gap MNIST - FashionMNIST is **10.50 points**" in report
    assert "The smallest gap is **6.80 points** with cnn_bn + adam" in report
    assert "**No cell closes the gap**" in report
    assert "Holm" in report and "not the chapter's 40" in report
    assert "python -m cnn_study -m dataset=mnist,fashion" in report
    assert sections(report) == list(SECTIONS)  # the one writer's order, as every kind's


def test_a_grid_without_the_chapters_cell_has_no_reference(tmp_path):
    # adam only: cnn + adam shares the chapter's model, not its optimizer
    for dataset, base in (("mnist", 0.99), ("fashion", 0.89)):
        for model in ("cnn", "cnn_bn"):
            for seed, d in enumerate([0.001, -0.002]):
                write_run(
                    tmp_path / "runs", dataset, seed, [base + d], model=model, optimizer="adam"
                )
    assert main([str(tmp_path / "runs"), "--out", str(tmp_path / "an"), "--no-figures"]) == 0
    gaps = pd.read_csv(tmp_path / "an" / "gaps.csv", keep_default_na=False, na_values=[""])
    assert len(gaps) == 2 and gaps["reference"].isna().all()
    assert gaps["gap_minus_chapter"].isna().all()
