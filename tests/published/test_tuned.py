"""The published tuned study in analysis/tuned/: its tables and the README's numbers say what
its runs say (no retraining), and nothing in it was chosen on the test set."""

import re

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tests.conftest import ROOT

PUBLISHED = ROOT / "analysis" / "tuned"
PAGE = ROOT / "docs" / "tuned.md"  # the study's page, linked from the README
pytestmark = pytest.mark.skipif(
    not (PUBLISHED / "runs.csv").is_file(), reason="no published tuned study in analysis/tuned/"
)
RECIPES = ("chapter", "tuned-mnist", "tuned-fashion")


@pytest.fixture(scope="module")
def runs():
    return pd.read_csv(PUBLISHED / "runs.csv")


def finals(runs, recipe, dataset) -> np.ndarray:
    cell = runs[(runs["recipe"] == recipe) & (runs["dataset.name"] == dataset)]
    return cell["final_test_acc"].to_numpy(float)


def test_every_recipe_ran_on_both_datasets_with_three_seeds_on_one_split(runs):
    assert (runs["status"] == "complete").all() and (runs["study"] == "tuned").all()
    assert not runs["search_trial"].any()  # no search trial counted as a study run
    for recipe in RECIPES:
        for dataset in ("mnist", "fashion"):
            assert sorted(
                runs.loc[(runs["recipe"] == recipe) & (runs["dataset.name"] == dataset), "seed"]
            ) == [0, 1, 2]
    assert (runs["val_size"] == 10000).all() and (runs["trainer.epochs"] == 20).all()
    # one split per dataset, whatever the recipe or seed
    assert runs.groupby("dataset.name")["split_fingerprint"].nunique().eq(1).all()


def test_cells_gaps_and_the_readme_are_what_the_runs_say(runs):
    summary = pd.read_csv(PUBLISHED / "summary.csv")
    readme = " ".join(PAGE.read_text().split())
    for row in summary.itertuples(index=False):
        x = finals(runs, row.recipe, row.dataset)
        interval = stats.ttest_1samp(x, 0).confidence_interval(0.95)
        assert row.final_acc_mean == pytest.approx(x.mean())
        assert (row.final_acc_ci_low, row.final_acc_ci_high) == pytest.approx(
            (interval.low, interval.high)
        )
        quoted = f"{100 * x.mean():.2f}% ({100 * interval.low:.2f} to {100 * interval.high:.2f})"
        assert quoted in readme, quoted
    gaps = pd.read_csv(PUBLISHED / "gaps.csv", keep_default_na=False, na_values=[""])
    for row in gaps.itertuples(index=False):
        a, b = finals(runs, row.recipe, "mnist"), finals(runs, row.recipe, "fashion")
        interval = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
        assert (row.gap, row.gap_ci_low, row.gap_ci_high) == pytest.approx(
            (a.mean() - b.mean(), interval.low, interval.high)
        )


def test_the_readmes_answer_is_what_the_runs_say(runs):
    readme = " ".join(PAGE.read_text().split())  # lines wrapped anywhere
    gain = finals(runs, "tuned-fashion", "fashion"), finals(runs, "chapter", "fashion")
    test = stats.ttest_ind(*gain, equal_var=False)
    interval = test.confidence_interval(0.95)
    assert (
        f"gains {100 * (gain[0].mean() - gain[1].mean()):.2f} points there (95% CI "
        f"{100 * interval.low:.2f} to {100 * interval.high:.2f}" in readme
    )
    m = {(r, d): finals(runs, r, d).mean() for r in RECIPES for d in ("mnist", "fashion")}
    chapter_gap = m["chapter", "mnist"] - m["chapter", "fashion"]
    closed = chapter_gap - (m["tuned-mnist", "mnist"] - m["tuned-fashion", "fashion"])
    assert f"the recipe accounts for {100 * closed:.2f} points" in readme
    assert f"{closed / chapter_gap:.0%} of the gap" in readme
    assert f"{100 * chapter_gap:.2f}-point gap" in readme
    # The README's summary says the same, and at which training budget it holds.
    summary = " ".join((ROOT / "README.md").read_text().split())
    epochs = int(runs["trainer.epochs"].unique().item())
    said = (
        f"**At {epochs} epochs**, the recipe accounts for {100 * closed:.2f} of the chapter "
        f"recipe's {100 * chapter_gap:.2f}-point gap ({closed / chapter_gap:.0%})"
    )
    assert said in summary, said


def test_the_recipe_table_is_the_runs_recipes_chosen_on_validation(runs):
    report = (PUBLISHED / "report.md").read_text()
    for dataset, name in (("mnist", "MNIST"), ("fashion", "FashionMNIST")):
        run = runs[runs["recipe"] == f"tuned-{dataset}"].iloc[0]
        row = re.search(
            rf"\| tuned-{dataset} \| {name} validation accuracy \| (\w+) \| ([\d.e-]+) \|",
            report,
        )
        assert row is not None, f"tuned-{dataset} not chosen on {name}'s validation split"
        assert row.group(1) == run["optimizer_name"]
        assert float(row.group(2)) == pytest.approx(run["optimizer.lr"], rel=1e-3)
