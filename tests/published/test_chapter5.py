"""The published study in analysis/: its tables say what its runs say (no retraining)."""

import math
import re

import pandas as pd
import pytest
from scipy import stats

from tests.conftest import ROOT

PUBLISHED = ROOT / "analysis" / "chapter5"
pytestmark = pytest.mark.skipif(
    not (PUBLISHED / "runs.csv").is_file(), reason="no published study in analysis/"
)


@pytest.fixture(scope="module")
def runs():
    return pd.read_csv(PUBLISHED / "runs.csv")


@pytest.fixture(scope="module")
def summary():
    return pd.read_csv(PUBLISHED / "summary.csv").set_index("dataset")


def test_the_study_is_the_chapters_recipe_on_both_datasets(runs):
    assert (runs["status"] == "complete").all()
    assert set(runs["dataset.name"]) == {"mnist", "fashion"}
    assert (runs.groupby("dataset.name")["seed"].nunique() >= 3).all()
    recipe = {
        "trainer.epochs": 40,
        "trainer.batch_size": 64,
        "optimizer.lr": 0.01,
        "optimizer.momentum": 0.5,
        "optimizer._target_": "torch.optim.SGD",
        "model.conv1_channels": 10,
        "model.conv2_channels": 20,
        "model.hidden_units": 50,
        "model.conv_dropout": 0.5,
        "model.dropout": 0.5,
        "parameters": 21840,
    }
    for key, value in recipe.items():
        assert (runs[key] == value).all(), key


def test_summary_is_what_the_runs_say(runs, summary):
    for dataset, block in runs.groupby("dataset.name"):
        final = block["final_test_acc"].to_numpy()
        n, mean, std = len(final), final.mean(), final.std(ddof=1)
        half = stats.t.ppf(0.975, n - 1) * std / math.sqrt(n)
        row = summary.loc[dataset]
        assert row["seeds"] == n
        assert row["final_acc_mean"] == pytest.approx(mean, abs=1e-12)
        assert row["final_acc_std"] == pytest.approx(std, abs=1e-12)
        assert row["final_acc_ci_low"] == pytest.approx(mean - half, abs=1e-12)
        assert row["final_acc_ci_high"] == pytest.approx(mean + half, abs=1e-12)


def test_per_run_numbers_are_their_last_epochs(runs):
    epochs = pd.read_csv(PUBLISHED / "epochs.csv")
    last = epochs.sort_values("epoch").groupby("run").last()
    for run in runs.itertuples():
        assert last.loc[run.run, "epoch"] == 40
        assert last.loc[run.run, "test_acc"] == run.final_test_acc
        assert epochs[epochs["run"] == run.run]["test_acc"].max() == run.best_test_acc


def test_gap_is_what_the_runs_say(runs):
    gap = pd.read_csv(PUBLISHED / "gaps.csv").iloc[0]
    a = runs.loc[runs["dataset.name"] == "mnist", "final_test_acc"].to_numpy()
    b = runs.loc[runs["dataset.name"] == "fashion", "final_test_acc"].to_numpy()
    assert gap["gap"] == pytest.approx(a.mean() - b.mean(), abs=1e-12)
    assert gap["p_value"] == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)


def test_readme_headline_matches_the_summary(summary):
    readme = (ROOT / "README.md").read_text()
    for dataset, name in (("mnist", "MNIST"), ("fashion", "FashionMNIST")):
        row = summary.loc[dataset]
        line = next(t for t in readme.splitlines() if t.startswith(f"| {name} |"))
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == str(row["seeds"])
        assert cells[2] == f"{100 * row['final_acc_mean']:.2f}%"
        assert cells[3] == f"{100 * row['final_acc_std']:.2f}"
        assert (
            cells[4]
            == f"{100 * row['final_acc_ci_low']:.2f}% to {100 * row['final_acc_ci_high']:.2f}%"
        )
    gap = pd.read_csv(PUBLISHED / "gaps.csv").iloc[0]
    assert f"{100 * gap['gap']:.2f} percentage points" in readme
    assert re.search(r"!\[.*\]\(analysis/chapter5/learning_curves.png\)", readme)


def test_report_names_the_commands_that_made_it():
    report = (PUBLISHED / "report.md").read_text()
    assert "python -m cnn_study -m hydra/launcher=parallel dataset=mnist,fashion" in report
    assert "python -m cnn_study.analysis outputs/" in report
