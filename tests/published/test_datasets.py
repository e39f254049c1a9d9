"""The published datasets study (analysis/datasets/) and the README's numbers about it say
what its runs say: MNIST, FashionMNIST, and FashionMNIST read from a folder of PNGs."""

import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.conftest import ROOT
from tests.holm import holm_by_procedure

PUBLISHED = ROOT / "analysis" / "datasets"
pytestmark = pytest.mark.skipif(
    not (PUBLISHED / "runs.csv").is_file(), reason="no published datasets study in analysis/"
)


@pytest.fixture(scope="module")
def finals() -> dict[str, np.ndarray]:
    runs = pd.read_csv(PUBLISHED / "runs.csv")
    assert (runs["status"] == "complete").all()
    return {n: b["final_test_acc"].to_numpy() for n, b in runs.groupby("dataset.name")}


def test_the_study_is_the_chapters_recipe_on_three_datasets_by_two_routes():
    runs = pd.read_csv(PUBLISHED / "runs.csv")
    assert sorted(runs["dataset.name"].unique()) == ["fashion", "fashion_png", "mnist"]
    assert (runs.groupby("dataset.name")["seed"].nunique() == 3).all()
    assert (runs["trainer.epochs"] == 10).all() and (runs["parameters"] == 21840).all()
    assert (runs["optimizer.lr"] == 0.01).all() and (runs["optimizer.momentum"] == 0.5).all()
    sources = runs.drop_duplicates("dataset.name").set_index("dataset.name")["dataset.source"]
    assert sources["fashion_png"] == "image_folder"
    assert sources["fashion"] == "torchvision.datasets.FashionMNIST"
    assert not any(str(v).startswith("/") for v in runs["dataset.folder"])  # portable


def _welch(a, b):
    test = stats.ttest_ind(a, b, equal_var=False)
    interval = test.confidence_interval(0.95)
    return a.mean() - b.mean(), interval.low, interval.high, test.pvalue


def _pct(x: float) -> str:
    return f"{100 * x:.2f}"


def test_the_readmes_table_is_what_the_runs_say(finals):
    readme = (ROOT / "docs" / "datasets.md").read_text()
    mnist = finals["mnist"]
    p_values = {name: _welch(mnist, finals[name])[3] for name in ("fashion", "fashion_png")}
    holm = dict(zip(p_values, holm_by_procedure(list(p_values.values())), strict=True))
    mean, half = mnist.mean(), stats.t.ppf(0.975, 2) * mnist.std(ddof=1) / math.sqrt(3)
    row = f"| MNIST | {_pct(mean)}% ({_pct(mean - half)}-{_pct(mean + half)}) |"
    assert row in readme, row
    labels = {"fashion": "FashionMNIST", "fashion_png": "FashionMNIST as PNGs"}
    for name, label in labels.items():
        acc = finals[name]
        half = stats.t.ppf(0.975, len(acc) - 1) * acc.std(ddof=1) / math.sqrt(len(acc))
        gap, low, high, _ = _welch(mnist, acc)
        row = (
            f"| {label} | {_pct(acc.mean())}% ({_pct(acc.mean() - half)}-"
            f"{_pct(acc.mean() + half)}) | {_pct(gap)} ({_pct(low)}-{_pct(high)}, "
            f"p = {holm[name]:.1e}) |"
        )
        assert row in readme, row


def test_the_two_routes_cannot_be_told_apart_as_the_readme_says(finals):
    gap, low, high, p = _welch(finals["fashion"], finals["fashion_png"])
    readme = re.sub(r"\s+", " ", (ROOT / "docs" / "datasets.md").read_text())
    said = (
        f"the PNG route is {_pct(gap)} points lower (95% CI {_pct(low)} to {_pct(high)}, "
        f"p = {p:.2f})"
    )
    assert said in readme, said
    summary = re.sub(r"\s+", " ", (ROOT / "README.md").read_text())
    said = f"({_pct(gap)} points apart, 95% CI {_pct(low)} to {_pct(high)})"
    assert said in summary, said
    assert low < 0 < high  # the claim itself: no difference the seeds can see
