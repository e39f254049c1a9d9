"""The analysis of a tuned study (recipes x datasets, plus the searches that chose the
recipes), checked against numbers computed here independently with numpy and scipy."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from cnn_study.analysis import kinds, report
from cnn_study.analysis.collect import collect
from cnn_study.analysis.kinds import common, tuned
from cnn_study.analysis.kinds.skeleton import SECTIONS
from cnn_study.analysis.pipeline import analyse
from cnn_study.analysis.searches import find_searches
from cnn_study.analysis.study import summarise_study
from cnn_study.analysis.tuning import at_budget, recipe_share_of_gap, tuning_gains
from tests.fakeruns import write_run
from tests.holm import holm_by_procedure
from tests.unit.analysis.sections import sections

# Final test accuracy of each seed, per (recipe, dataset): distinct spreads, so that a
# swapped pair or a pooled variance would give other intervals.
FINALS = {
    ("chapter", "mnist"): [0.9850, 0.9861, 0.9843],
    ("chapter", "fashion"): [0.8700, 0.8731, 0.8688],
    ("tuned-mnist", "mnist"): [0.9912, 0.9905, 0.9921],
    ("tuned-mnist", "fashion"): [0.8850, 0.8899, 0.8870],
    ("tuned-fashion", "mnist"): [0.9901, 0.9893, 0.9899],
    ("tuned-fashion", "fashion"): [0.9050, 0.9021, 0.9088],
}
RECIPES = {
    "chapter": {},
    "tuned-mnist": {"optimizer.lr": 0.05, "optimizer.momentum": 0.9},
    "tuned-fashion": {"optimizer.lr": 0.002, "trainer.batch_size": 128},
}


def _write_search(root, dataset: str, values: list[float]):
    """A search folder as the sweeper leaves it, with one real trial run folder per trial."""
    folder = root / f"tune-chapter-{dataset}"
    rows = []
    for number, value in enumerate(values):
        run = write_run(
            folder,
            dataset,
            number,  # a seed per trial keeps the fake folders apart
            [value - 0.01, value],
            overrides={"study": f"tune-chapter-{dataset}", "dataset.val_size": 10000},
        )
        _as_trial(run)
        rows.append(
            {
                "number": number,
                "state": "complete",
                "value": value,
                "optimizer": "sgd",
                "optimizer.lr": 0.01 * (number + 1),
                "trainer.batch_size": 64,
                # searched on one dataset only: the slices figure must cope with that
                **({"optimizer.momentum": 0.5} if dataset == "fashion" else {}),
                "run_dir": str(run.path.relative_to(folder)),
                "seconds": 20.0,
            }
        )
    rows.append({**rows[-1], "number": len(values), "state": "interrupted", "value": None})
    pd.DataFrame(rows).to_csv(folder / "trials.csv", index=False)
    best = int(np.argmax(values))
    (folder / "optimization_results.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "optuna",
                "study_name": f"tune-chapter-{dataset}",
                "best_trial": best,
                "best_value": values[best],
                "n_trials": len(values),
            }
        )
    )
    return folder


def _as_trial(run) -> None:
    """Hydra's record of a search's trial: its sweeper was the Optuna one."""
    record = run.path / ".hydra" / "hydra.yaml"
    hydra = yaml.safe_load(record.read_text())
    hydra["hydra"]["runtime"]["choices"]["hydra/sweeper"] = "optuna"
    record.write_text(yaml.safe_dump(hydra))


@pytest.fixture(scope="module")
def tuned_study(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("tuned")
    for (recipe, dataset), finals in FINALS.items():
        for seed, final in enumerate(finals):
            overrides = {"recipe": recipe, "study": "tuned", "dataset.val_size": 10000}
            run = write_run(
                tmp_path / "tuned" / recipe,
                dataset,
                seed,
                [final - 0.02, final + 0.001, final],  # best test epoch: the 2nd
                overrides={**overrides, **RECIPES[recipe]},
            )
            results = json.loads(run.results_file.read_text())
            results |= {"final_val_acc": final + 0.002, "test_acc_at_best_val": final - 0.001}
            run.write_results(results)
    searches = [
        _write_search(tmp_path, "mnist", [0.981, 0.990, 0.985]),
        _write_search(tmp_path, "fashion", [0.890, 0.903, 0.100]),
    ]
    return tmp_path, [tmp_path / "tuned", *searches]


@pytest.fixture(scope="module")
def analysed(tuned_study):
    """The study analysed once, without figures (the test below draws them in memory): the
    tests below only read the result."""
    tmp, paths = tuned_study
    return tmp, analyse(paths, tmp / "report", draw=False)


def _welch(a, b):
    test = stats.ttest_ind(a, b, equal_var=False)
    interval = test.confidence_interval(0.95)
    return np.mean(a) - np.mean(b), interval.low, interval.high, test.pvalue


def test_the_cells_gaps_and_gains_match_scipy(analysed):
    _, result = analysed
    assert result.kind == "tuned"
    # Only the 18 final runs make cells: the searches' trial runs are their evidence.
    assert len(result.collection.complete) == 18
    summary = result.summary.set_index(["recipe", "dataset"])
    for (recipe, dataset), finals in FINALS.items():
        row = summary.loc[(recipe, dataset)]
        low, high = stats.t.interval(0.95, len(finals) - 1, np.mean(finals), stats.sem(finals))
        assert row["final_acc_mean"] == pytest.approx(np.mean(finals))
        assert (row["final_acc_ci_low"], row["final_acc_ci_high"]) == pytest.approx((low, high))

    gaps = result.gaps.set_index("recipe")
    for recipe in RECIPES:
        expected = _welch(FINALS[(recipe, "mnist")], FINALS[(recipe, "fashion")])
        got = gaps.loc[recipe, ["gap", "gap_ci_low", "gap_ci_high", "p_value"]]
        assert tuple(got) == pytest.approx(expected)
    assert gaps.loc["chapter", "reference"] == "chapter's cell"

    runs = result.collection.complete
    gains = tuning_gains(runs).set_index(["dataset", "recipe"])
    p_raw = []
    for dataset in ("mnist", "fashion"):
        for recipe in ("tuned-fashion", "tuned-mnist"):
            expected = _welch(FINALS[(recipe, dataset)], FINALS[("chapter", dataset)])
            got = gains.loc[(dataset, recipe), ["gain", "gain_ci_low", "gain_ci_high", "p_value"]]
            assert tuple(got) == pytest.approx(expected)
            p_raw.append(expected[3])
    assert gains.loc[("fashion", "tuned-fashion"), "own_dataset"]
    assert not gains.loc[("fashion", "tuned-mnist"), "own_dataset"]
    # the four gains are one family: Holm's procedure over all four
    assert list(gains["p_holm"]) == pytest.approx(holm_by_procedure(p_raw))


def test_the_recipes_share_of_the_gap_is_the_contrast_of_four_means(analysed):
    _, result = analysed
    runs = result.collection.complete
    share = recipe_share_of_gap(runs)
    m = {k: np.mean(v) for k, v in FINALS.items()}
    chapter_gap = m[("chapter", "mnist")] - m[("chapter", "fashion")]
    own_gap = m[("tuned-mnist", "mnist")] - m[("tuned-fashion", "fashion")]
    assert share["chapter_gap"] == pytest.approx(chapter_gap)
    assert share["own_recipe_gap"] == pytest.approx(own_gap)
    assert share["closed"] == pytest.approx(chapter_gap - own_gap)
    assert share["share_closed"] == pytest.approx((chapter_gap - own_gap) / chapter_gap)
    # The interval: the estimate plus or minus t(df) standard errors, with the standard
    # error and degrees of freedom from the four samples' variances.
    cells = [("chapter", "mnist"), ("chapter", "fashion"), ("tuned-mnist", "mnist")]
    cells.append(("tuned-fashion", "fashion"))
    v = [np.var(FINALS[c], ddof=1) / 3 for c in cells]
    se = math.sqrt(sum(v))
    df = sum(v) ** 2 / sum(x**2 / 2 for x in v)
    half = stats.t.ppf(0.975, df) * se
    assert (share["closed_ci_low"], share["closed_ci_high"]) == pytest.approx(
        (chapter_gap - own_gap - half, chapter_gap - own_gap + half)
    )


def test_the_report_answers_from_the_numbers_and_draws_the_searches(analysed):
    tmp, _ = analysed
    text = (tmp / "report" / "report.md").read_text()
    fashion = np.mean(FINALS[("tuned-fashion", "fashion")])
    assert f"ends at {100 * fashion:.2f}%" in text
    assert "**No**: tuning the recipe does not bring the chapter's CNN anywhere near 99%" in text
    share = (
        np.mean(FINALS[("chapter", "mnist")])
        - np.mean(FINALS[("chapter", "fashion")])
        - np.mean(FINALS[("tuned-mnist", "mnist")])
        + np.mean(FINALS[("tuned-fashion", "fashion")])
    )
    assert f"The recipe accounts for {100 * share:.2f} points" in text
    # Searches: budgets counted without the interrupted trial; the best validation value.
    assert "| `tune-chapter-fashion` | FashionMNIST | 3 (3) | 3 / 0 / 0 |" in text
    assert "90.30%" in text  # the fashion search's best trial
    # A number chosen on the test set is labelled as such, in the answer itself.
    assert "even with the epoch picked on the test set (an optimistic bound)" in text
    assert "best test epoch (optimistic)" in text
    commands = text[text.index("```") : text.index("```", text.index("```") + 3)]
    # One command per search (what its trials share), then one per recipe, never pooled.
    assert commands.count("python -m cnn_study dataset=") == 2
    assert commands.count("python -m cnn_study -m dataset=mnist,fashion seed=0,1,2") == 3
    assert sections(text) == list(SECTIONS)  # the one writer's order, as every kind's


def test_the_searches_and_cells_are_drawn_and_each_shown_once(tuned_study):
    _, paths = tuned_study
    study = _grouped(paths)
    kind = kinds.choose(study)
    drawn = kind.figures(study)
    assert {"search_history", "search_slices", "recipe_cells", "learning_curves"} <= set(drawn)
    for name, figure in drawn.items():
        assert any(ax.has_data() for ax in figure.axes), name
    blocks = kinds.write(study, kind.report(study, kind.tables(study)))
    shown = [b.path.stem for b in blocks if isinstance(b, report.Figure)]
    assert sorted(shown) == sorted(drawn)


def _grouped(paths):
    """The study as the pipeline groups it, without drawing or writing anything."""
    collection, trials = collect(paths).split_trials()
    return summarise_study(collection, paths, None, find_searches(paths), trials)


def _copy(tuned_study, tmp_path):
    """The shared study copied, for a test that changes it."""
    import shutil

    shared, paths = tuned_study
    shutil.copytree(shared, tmp_path / "study", ignore=shutil.ignore_patterns("report"))
    return tmp_path, [tmp_path / "study" / p.relative_to(shared) for p in paths]


def test_trials_are_known_by_their_runs_even_before_a_search_has_a_best(tuned_study, tmp_path):
    """A search interrupted before any trial completed leaves trials.csv alone: its finished
    trial runs are still never pooled into the study's cells."""
    tmp, paths = _copy(tuned_study, tmp_path)
    for search in paths[1:]:
        (search / "optimization_results.yaml").unlink()
    study = _grouped(paths)
    assert kinds.choose(study).name == "tuned" and len(study.runs) == 18


def test_an_old_run_and_its_new_twin_fall_in_one_cell(tmp_path):
    """Runs made before dataset.val_size existed read as val_size=0: the same cell as new
    runs, and the same run as a new copy of themselves."""
    for seed in range(2):
        write_run(tmp_path / "new", "mnist", seed, [0.98, 0.99])
        old = write_run(tmp_path / "old", "mnist", seed + 2, [0.98, 0.99])
        config = yaml.safe_load(old.config_file.read_text())
        del config["dataset"]["val_size"], config["dataset"]["split_seed"]
        old.config_file.write_text(yaml.safe_dump(config))
    result = analyse([tmp_path / "new", tmp_path / "old"], tmp_path / "report", draw=False)
    assert list(result.summary["seeds"]) == [4]


def test_a_study_still_running_or_unlabelled_never_crashes_the_report(tuned_study, tmp_path):
    tmp, paths = _copy(tuned_study, tmp_path)
    # tuned-fashion has not finished on FashionMNIST yet
    for run in (tmp / "study" / "tuned" / "tuned-fashion" / "fashion").glob("seed=*"):
        run.joinpath("results.json").unlink()
    study = _grouped(paths)
    assert kinds.choose(study).name == "tuned"
    text = "\n".join(
        report.to_markdown(
            kinds.write(study, tuned.report(study, tuned.tables(study)))
        ).splitlines()
    )
    assert "On **MNIST**" in text and "On **FashionMNIST**" not in text
    # runs without a recipe label (the chapter study's) alongside: not a tuned study
    for seed in range(2):
        write_run(tmp / "chapter5", "mnist", seed, [0.98, 0.99])
        write_run(tmp / "chapter5", "fashion", seed, [0.88, 0.89])
    assert kinds.choose(_grouped([tmp / "chapter5", *paths])).name != "tuned"


def test_the_machine_table_counts_the_searches_trials_and_says_a_dirty_tree(tuned_study):
    """The report's header gives the whole study's time; its machine table must too."""
    _, paths = tuned_study
    study = _grouped(paths)
    assert len(study.trial_runs) > 0
    table = common.machine(study)[0].frame.set_index("")["value"]
    both = study.trial_runs["train_seconds"].sum() + study.runs["train_seconds"].sum()
    assert table["training time, all runs"] == f"{both / 60:.1f} min of run time"
    runs = pd.DataFrame({"git_commit": ["479e220-dirty", "479e220-dirty"]})
    assert common.commit(runs) == "479e220-dirty (a tree with uncommitted changes)"
    assert common.commit(runs.assign(git_commit="479e220")) == "479e220"


def test_a_search_folder_is_read_with_the_sweepers_own_columns_and_each_study_of_it(tmp_path):
    """trials.csv's pruned_at_epoch and value_<objective> columns are not searched
    parameters; a study named otherwise in the same folder (<name>.trials.csv) is read too."""
    header = "number,state,value,optimizer.lr,pruned_at_epoch,run_dir,seconds\n"
    (tmp_path / "trials.csv").write_text(header + "0,pruned,0.5,0.01,3,,1.0\n")
    (tmp_path / "other.trials.csv").write_text(
        "number,state,value_final_val_acc,value_train_seconds,x,pruned_at_epoch,run_dir,seconds\n"
        "0,complete,0.9,12.0,1,,,2.0\n"
    )
    searches = sorted(find_searches([tmp_path]), key=lambda s: len(s.trials.columns))
    assert [s.params for s in searches] == [["optimizer.lr"], ["x"]]


def test_each_training_budget_has_its_own_cells_gains_and_share_never_pooled(tmp_path):
    """Final runs at 2 and at 3 epochs (the published study's 20 and 40): each budget's
    numbers come from its own runs only, and the answer gives the recipe's share of the gap
    at each, with Fieller's interval."""
    finals = {  # (recipe, dataset, epochs) -> final accuracies over 3 seeds
        ("chapter", "mnist", 2): [0.985, 0.986, 0.984],
        ("chapter", "fashion", 2): [0.860, 0.865, 0.862],
        ("tuned-mnist", "mnist", 2): [0.990, 0.991, 0.989],
        ("tuned-fashion", "fashion", 2): [0.885, 0.884, 0.887],
        ("chapter", "mnist", 3): [0.990, 0.991, 0.990],
        ("chapter", "fashion", 3): [0.880, 0.884, 0.881],
        ("tuned-mnist", "mnist", 3): [0.992, 0.991, 0.992],
        ("tuned-fashion", "fashion", 3): [0.889, 0.887, 0.890],
    }
    for (recipe, dataset, epochs), accs in finals.items():
        for seed, final in enumerate(accs):
            run = write_run(
                tmp_path / "tuned" / f"{recipe}-{epochs}",
                dataset,
                seed,
                [final - 0.01] * (epochs - 1) + [final],
                overrides={"recipe": recipe, "study": "tuned", "dataset.val_size": 10000}
                | RECIPES[recipe],
            )
            results = json.loads(run.results_file.read_text())
            run.write_results(results | {"final_val_acc": final, "test_acc_at_best_val": final})
    result = analyse([tmp_path / "tuned"], tmp_path / "report", draw=False)
    runs = result.collection.complete
    gains = tuning_gains(runs)
    # One family across both budgets: Holm's step-down over all four comparisons at once.
    assert list(gains["p_holm"]) == pytest.approx(list(holm_by_procedure(gains["p_value"])))
    for epochs in (2, 3):
        at = {k: np.array(v) for k, v in finals.items() if k[2] == epochs}
        row = gains[(gains["epochs"] == epochs) & (gains["recipe"] == "tuned-fashion")].iloc[0]
        expected = at["tuned-fashion", "fashion", epochs].mean()
        assert row["gain"] == pytest.approx(expected - at["chapter", "fashion", epochs].mean())
        chapter_gap = (
            at["chapter", "mnist", epochs].mean() - at["chapter", "fashion", epochs].mean()
        )
        own_gap = (
            at["tuned-mnist", "mnist", epochs].mean()
            - at["tuned-fashion", "fashion", epochs].mean()
        )
        share = recipe_share_of_gap(at_budget(runs, epochs))
        assert share["share_closed"] == pytest.approx(1 - own_gap / chapter_gap)
        assert share["share_ci_low"] < share["share_closed"] < share["share_ci_high"]
        text = (tmp_path / "report" / "report.md").read_text()
        assert f"**{epochs} epochs.** The gap MNIST - FashionMNIST after {epochs} epochs" in text
        assert f"that is **{share['share_closed']:.0%} of the chapter recipe's gap" in text
    assert "Near 99% on FashionMNIST after 3 epochs?" in text  # judged at the longest budget
