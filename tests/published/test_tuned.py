"""The published tuned study in analysis/tuned/: its tables, its page and the README's numbers
say what its runs say (no retraining), at each training budget, and nothing in it was chosen
on the test set."""

import re

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from tests.conftest import ROOT

PUBLISHED = ROOT / "analysis" / "tuned"
PAGE = ROOT / "docs" / "tuned.md"  # the study's page, linked from the README
pytestmark = pytest.mark.skipif(
    not (PUBLISHED / "runs.csv").is_file(), reason="no published tuned study in analysis/tuned/"
)
RECIPES = ("chapter", "tuned-mnist", "tuned-fashion")
DATASETS = ("mnist", "fashion")


@pytest.fixture(scope="module")
def runs():
    return pd.read_csv(PUBLISHED / "runs.csv")


def budgets(runs) -> list[int]:
    return sorted(int(e) for e in runs["trainer.epochs"].unique())


def finals(runs, recipe, dataset, epochs) -> np.ndarray:
    cell = runs[
        (runs["recipe"] == recipe)
        & (runs["dataset.name"] == dataset)
        & (runs["trainer.epochs"] == epochs)
    ]
    return cell["final_test_acc"].to_numpy(float)


def words(path) -> str:
    return " ".join(path.read_text().split())  # lines wrapped anywhere


def test_the_runs_are_the_designed_study_on_one_split(runs):
    assert (runs["status"] == "complete").all() and (runs["study"] == "tuned").all()
    assert not runs["search_trial"].any()  # no search trial counted as a study run
    assert budgets(runs) == [20, 40]
    for recipe in RECIPES:  # 20 epochs: every recipe on both datasets
        for dataset in DATASETS:
            assert len(finals(runs, recipe, dataset, 20)) == 3
    # 40 epochs: the chapter's recipe on both, each dataset's own tuned recipe on it
    at_40 = runs[runs["trainer.epochs"] == 40]
    cells = sorted(at_40.groupby(["recipe", "dataset.name"])["seed"].apply(sorted).items())
    assert cells == [
        (("chapter", "fashion"), [0, 1, 2]),
        (("chapter", "mnist"), [0, 1, 2]),
        (("tuned-fashion", "fashion"), [0, 1, 2]),
        (("tuned-mnist", "mnist"), [0, 1, 2]),
    ]
    assert (runs["val_size"] == 10000).all()
    # one split per dataset, whatever the recipe, seed or budget
    assert runs.groupby("dataset.name")["split_fingerprint"].nunique().eq(1).all()


def test_every_cell_on_the_page_is_what_its_runs_say(runs):
    page = words(PAGE)
    for epochs in budgets(runs):
        for recipe in RECIPES:
            for dataset in DATASETS:
                x = finals(runs, recipe, dataset, epochs)
                if len(x) == 0:
                    continue
                interval = stats.ttest_1samp(x, 0).confidence_interval(0.95)
                quoted = (
                    f"{100 * x.mean():.2f}% ({100 * interval.low:.2f} to {100 * interval.high:.2f})"
                )
                assert quoted in page, (epochs, recipe, dataset, quoted)


def share(runs, epochs) -> dict:
    """The recipe's share of the gap at one budget, computed here from the runs: 1 - own
    gap / chapter gap, with Fieller's interval (solved directly)."""
    ch = [finals(runs, "chapter", d, epochs) for d in DATASETS]
    own = [finals(runs, f"tuned-{d}", d, epochs) for d in DATASETS]
    a = own[0].mean() - own[1].mean()
    b = ch[0].mean() - ch[1].mean()
    va = sum(x.var(ddof=1) / len(x) for x in own)
    vb = sum(x.var(ddof=1) / len(x) for x in ch)
    r = a / b
    parts = [x.var(ddof=1) / len(x) for x in own] + [r * r * x.var(ddof=1) / len(x) for x in ch]
    df = sum(parts) ** 2 / sum(v * v / (3 - 1) for v in parts)
    t = stats.t.ppf(0.975, df)
    # (a - r b)^2 = t^2 (va + r^2 vb), solved for r
    roots = np.roots([b * b - t * t * vb, -2 * a * b, a * a - t * t * va])
    low, high = sorted(1 - roots.real)
    return {"chapter_gap": b, "closed": b - a, "share": 1 - r, "low": low, "high": high}


def test_the_recipes_share_of_the_gap_at_each_budget_is_on_the_page_and_in_the_readme(runs):
    page, readme = words(PAGE), words(ROOT / "README.md")
    for epochs in budgets(runs):
        s = share(runs, epochs)
        said = (
            f"at {epochs} epochs the recipe accounts for {100 * s['closed']:.2f} of the chapter "
            f"recipe's {100 * s['chapter_gap']:.2f}-point gap: {s['share']:.0%} (95% CI "
            f"{s['low']:.0%} to {s['high']:.0%})"
        )
        assert said in page, said
        summary = (
            f"{s['share']:.0%} (95% CI {s['low']:.0%} to {s['high']:.0%}) at **{epochs} epochs**"
        )
        assert summary in readme, summary


def test_the_tuning_gain_on_fashionmnist_at_each_budget_is_on_the_page(runs):
    page = words(PAGE)
    for epochs in budgets(runs):
        gain = (
            finals(runs, "tuned-fashion", "fashion", epochs),
            finals(runs, "chapter", "fashion", epochs),
        )
        interval = stats.ttest_ind(*gain, equal_var=False).confidence_interval(0.95)
        said = (
            f"gains {100 * (gain[0].mean() - gain[1].mean()):.2f} points at {epochs} epochs "
            f"(95% CI {100 * interval.low:.2f} to {100 * interval.high:.2f}"
        )
        assert said in page, said


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


def test_each_searchs_records_are_published_and_its_best_is_its_best_complete_trial(runs):
    for dataset in DATASETS:
        folder = PUBLISHED / "searches" / f"tune-chapter-{dataset}"
        trials = pd.read_csv(folder / "trials.csv")
        best = yaml.safe_load((folder / "optimization_results.yaml").read_text())
        complete = trials[trials["state"] == "complete"]
        assert best["best_value"] == complete["value"].max()
        assert best["trials_done"] == best["n_trials"] == len(trials) == 24
        assert best["pruned"] == (trials["state"] == "pruned").sum() > 0
        # pruned trials stopped early: before the trials' full length
        assert (trials.loc[trials["state"] == "pruned", "pruned_at_epoch"] < 20).all()
        # the final runs' tuned recipe is this search's best trial's
        chosen = runs[runs["recipe"] == f"tuned-{dataset}"].iloc[0]
        assert chosen["optimizer.lr"] == pytest.approx(best["best_params"]["optimizer.lr"])
