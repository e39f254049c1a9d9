"""The statistics (analysis.tables, analysis.inference) checked against numbers worked out by
hand or by scipy itself.

Per-class accuracy and the confusion matrix come from hand-made runs whose classes differ,
and whose errors are not symmetric: a table transposed (columns read as true classes), or a
class's numbers given to another, would not pass.
"""

import numpy as np
import pytest
from scipy import stats

from cnn_study.analysis.collect import collect
from cnn_study.analysis.inference import CONFIDENCE, contrast, ratio, welch
from cnn_study.analysis.kinds.chapter import per_class_table
from cnn_study.analysis.study import summarise_study
from tests.fakeruns import write_run

SHIRT, TSHIRT, PULLOVER, COAT = 6, 0, 2, 4  # FashionMNIST's class indices


def confusion(errors: dict[tuple[int, int], int]) -> list[list[int]]:
    """100 test images per class, all right but errors[(true, predicted)] of them."""
    matrix = np.diag([100] * 10)
    for (true, predicted), count in errors.items():
        matrix[true, true] -= count
        matrix[true, predicted] += count
    return matrix.tolist()


# Two seeds per dataset, rows = true class, columns = predicted.
ERRORS = {
    ("mnist", 0): {(3, 5): 15, (3, 8): 5, (9, 4): 10},  # 3: 80%, 9: 90%
    ("mnist", 1): {(3, 5): 30, (5, 3): 5},  # 3: 70%, 5: 95%
    ("fashion", 0): {(SHIRT, TSHIRT): 20, (SHIRT, PULLOVER): 10, (SHIRT, COAT): 10},
    ("fashion", 1): {(SHIRT, TSHIRT): 30, (SHIRT, PULLOVER): 20, (TSHIRT, SHIRT): 10},
}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("classes")
    for (dataset, seed), errors in ERRORS.items():
        final = 1 - sum(errors.values()) / 1000
        matrix = confusion(errors)
        write_run(root, dataset, seed, [final], test_size=1000, confusion=matrix)
    return summarise_study(collect([root]), [root], command=None)


def test_per_class_accuracy_is_each_true_classs_mean_over_seeds(study):
    table = study.per_class.set_index(["group", "class"])
    assert len(table) == 20 and (table["seeds"] == 2).all()
    # (mean, min, max) over the two seeds, worked out by hand from ERRORS
    by_hand = {
        ("MNIST", "3"): (0.75, 0.70, 0.80),
        ("MNIST", "5"): (0.975, 0.95, 1.0),
        ("MNIST", "9"): (0.95, 0.90, 1.0),
        ("MNIST", "4"): (1.0, 1.0, 1.0),  # predicted wrongly for 9s, never wrong itself
        ("FashionMNIST", "Shirt"): (0.55, 0.50, 0.60),
        ("FashionMNIST", "T-shirt/top"): (0.95, 0.90, 1.0),
        ("FashionMNIST", "Pullover"): (1.0, 1.0, 1.0),
    }
    for key, expected in by_hand.items():
        got = tuple(table.loc[key, ["acc_mean", "acc_min", "acc_max"]])
        assert got == pytest.approx(expected), key
    untouched = table.drop(index=list(by_hand))
    assert (untouched[["acc_mean", "acc_min", "acc_max"]] == 1.0).all().all()


def test_the_report_table_puts_each_class_on_its_own_row(study):
    table = per_class_table(study.per_class, study.order)
    mnist = dict(zip(table["MNIST class"], table["MNIST accuracy"], strict=True))
    fashion = dict(zip(table["FashionMNIST class"], table["FashionMNIST accuracy"], strict=True))
    assert mnist["3"] == "75.0% (70.0% to 80.0%)" and mnist["9"] == "95.0% (90.0% to 100.0%)"
    assert fashion["Shirt"] == "55.0% (50.0% to 60.0%)"
    assert list(table["FashionMNIST class"])[SHIRT] == "Shirt"


def test_confusion_is_summed_over_seeds_with_rows_the_true_class(study):
    classes, mnist = study.confusion["MNIST"]
    assert classes == [str(c) for c in range(10)]
    assert mnist.sum() == 2000 and (mnist.sum(axis=1) == 200).all()  # 200 images per class
    assert mnist[3, 3] == 150 and mnist[3, 5] == 45 and mnist[3, 8] == 5
    assert mnist[5, 3] == 5 and mnist[5, 5] == 195  # the other way round: 5 of 5s, not 45
    assert mnist[9, 4] == 10 and mnist[4, 9] == 0 and mnist[4, 4] == 200

    classes, fashion = study.confusion["FashionMNIST"]
    assert classes[SHIRT] == "Shirt" and classes[TSHIRT] == "T-shirt/top"
    assert fashion[SHIRT].tolist() == [50, 0, 30, 0, 10, 0, 110, 0, 0, 0]
    assert fashion[:, SHIRT].tolist() == [10, 0, 0, 0, 0, 0, 110, 0, 0, 0]
    # per-class accuracy is the diagonal over the row (true class), never over the column
    assert fashion[SHIRT, SHIRT] / fashion[SHIRT].sum() == pytest.approx(0.55)


# --- Welch's interval and degrees of freedom, as scipy gives them -----------------------------

A = np.array([0.990, 0.992, 0.989, 0.991])
B = np.array([0.885, 0.889, 0.887])


def test_welch_is_scipys_welch_test():
    got = welch(A, B)
    test = stats.ttest_ind(A, B, equal_var=False)
    interval = test.confidence_interval(0.95)
    assert got["gap"] == pytest.approx(A.mean() - B.mean(), abs=1e-12)
    assert got["welch_df"] == pytest.approx(test.df)
    assert (got["gap_ci_low"], got["gap_ci_high"]) == pytest.approx((interval.low, interval.high))
    assert got["welch_t"] == pytest.approx(test.statistic)
    assert got["p_value"] == pytest.approx(test.pvalue)


def test_a_contrast_of_four_means_with_two_fixed_is_welchs_two_sample_test():
    """scipy has no Welch-Satterthwaite test of four means; where two of the four samples do
    not vary, the contrast is its two-sample test, shifted by their difference."""
    c, d = np.full(3, 0.970), np.full(3, 0.850)
    got = contrast([A, B, c, d], [1, -1, -1, 1])
    test = stats.ttest_ind(A, B, equal_var=False)
    interval = test.confidence_interval(0.95)
    shift = d.mean() - c.mean()
    assert got["estimate"] == pytest.approx(A.mean() - B.mean() + shift)
    assert got["df"] == pytest.approx(test.df)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx(
        (interval.low + shift, interval.high + shift)
    )


def test_fiellers_interval_holds_exactly_the_ratios_a_t_test_does_not_reject():
    """At each end of the interval, numerator - r * denominator is exactly on the edge of
    significance (|t| = the critical value); inside, below it; a denominator that is not
    clearly away from zero gives no interval."""
    rng = np.random.default_rng(0)
    own = [rng.normal(0.10, 0.004, 3), rng.normal(0.02, 0.003, 3)]  # own gap ~ 0.08
    chapter = [rng.normal(0.99, 0.002, 3), rng.normal(0.87, 0.003, 3)]  # chapter gap ~ 0.12
    found = ratio((own, [1, -1]), (chapter, [1, -1]))
    a = own[0].mean() - own[1].mean()
    b = chapter[0].mean() - chapter[1].mean()
    assert found["estimate"] == pytest.approx(a / b)
    va = sum(x.var(ddof=1) / len(x) for x in own)
    vb = sum(x.var(ddof=1) / len(x) for x in chapter)
    # Welch-Satterthwaite degrees of freedom of a - r * b at the estimate, computed here
    r = a / b
    parts = [x.var(ddof=1) / len(x) for x in own] + [
        r * r * x.var(ddof=1) / len(x) for x in chapter
    ]
    df = sum(parts) ** 2 / sum(v * v / 2 for v in parts)  # 3 seeds: n - 1 = 2
    assert found["df"] == pytest.approx(df)
    critical = stats.t.ppf(0.5 + CONFIDENCE / 2, df)
    for r in (found["ci_low"], found["ci_high"]):
        assert abs(a - r * b) / np.sqrt(va + r * r * vb) == pytest.approx(critical)
    middle = found["estimate"]
    assert abs(a - middle * b) / np.sqrt(va + middle**2 * vb) < critical
    assert found["ci_low"] < middle < found["ci_high"]
    flat = [rng.normal(0.5, 0.05, 3), rng.normal(0.5, 0.05, 3)]  # a gap of about nothing
    unbounded = ratio((own, [1, -1]), (flat, [1, -1]))
    assert np.isnan(unbounded["ci_low"]) and np.isnan(unbounded["ci_high"])
