"""The numbers of a tuned study: recipes (the chapter's, and one tuned per dataset) crossed
with datasets, compared with honest statistics.

Functions take the grouped runs and return small frames with named columns; the wording is
kinds/tuned.py's. Every comparison is of final test accuracies over seeds, which the
searches never saw (they selected on validation accuracy).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cnn_study.analysis.chapter import CHAPTER_RECIPE
from cnn_study.analysis.grouping import dataset_order
from cnn_study.analysis.inference import contrast, holm, ratio, welch

EPOCHS = "trainer.epochs"


def budgets(runs: pd.DataFrame) -> list[int]:
    """The training lengths (epochs) the final runs were trained for, shortest first: each
    is a budget of its own, and runs of different budgets are never pooled."""
    return sorted({int(e) for e in runs[EPOCHS].dropna()}) if EPOCHS in runs else []


def at_budget(frame: pd.DataFrame, epochs: int | None) -> pd.DataFrame:
    """The rows of one training budget, of the runs or of a summary (whose key columns may
    hold the epochs as text); all rows where epochs is None or the frame does not say."""
    if epochs is None or EPOCHS not in frame:
        return frame
    return frame[pd.to_numeric(frame[EPOCHS], errors="coerce") == epochs]


def _finals(runs: pd.DataFrame, recipe: str, dataset: str) -> np.ndarray:
    cell = runs[(runs["recipe"] == recipe) & (runs["dataset.name"] == dataset)]
    return cell["final_test_acc"].to_numpy(float)


def recipe_order(recipes) -> list[str]:
    """The chapter's recipe first, then the tuned ones by name (unlabelled runs left out)."""
    return sorted(
        {r for r in recipes if isinstance(r, str)}, key=lambda r: (r != CHAPTER_RECIPE, r)
    )


def tuned_on(recipe, datasets: list[str]) -> str | None:
    """The dataset a recipe was tuned on, by its name (tuned-fashion -> fashion)."""
    if not isinstance(recipe, str):
        return None
    matches = [d for d in datasets if recipe.endswith(f"-{d}")]
    return matches[0] if matches else None


def own_recipe(recipes, dataset: str, datasets: list[str]) -> str | None:
    """The recipe tuned on this dataset's validation split, where the study has one."""
    return next((r for r in recipe_order(recipes) if tuned_on(r, datasets) == dataset), None)


def tuning_gains(runs: pd.DataFrame) -> pd.DataFrame:
    """Per training budget, dataset and tuned recipe: its final test accuracy minus the
    chapter recipe's, on the same dataset after as many epochs, with Welch's interval;
    Holm's correction over the whole family."""
    found = budgets(runs)
    parts = [_gains(at_budget(runs, e)).assign(epochs=e) for e in found] or [_gains(runs)]
    parts = [part for part in parts if len(part)]
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if len(table):
        table["p_holm"] = holm(table["p_value"])
    return table


def _gains(runs: pd.DataFrame) -> pd.DataFrame:
    datasets = dataset_order(runs["dataset.name"])
    rows = []
    for dataset in datasets:
        chapter = _finals(runs, CHAPTER_RECIPE, dataset)
        for recipe in recipe_order(runs["recipe"]):
            if recipe == CHAPTER_RECIPE:
                continue
            tuned = _finals(runs, recipe, dataset)
            if len(tuned) == 0 or len(chapter) == 0:
                continue
            rows.append(
                {
                    "dataset": dataset,
                    "recipe": recipe,
                    "own_dataset": tuned_on(recipe, datasets) == dataset,
                    "seeds_recipe": len(tuned),
                    "seeds_chapter": len(chapter),
                    "mean_recipe": float(tuned.mean()),
                    "mean_chapter": float(chapter.mean()),
                    **{k.replace("gap", "gain"): v for k, v in welch(tuned, chapter).items()},
                }
            )
    return pd.DataFrame(rows)


def recipe_share_of_gap(runs: pd.DataFrame) -> dict[str, float] | None:
    """How much of the chapter recipe's gap (first dataset minus second) goes away when each
    dataset trains with the recipe tuned on it: chapter gap - own-recipe gap, a contrast of
    four independent means with its Welch-Satterthwaite interval; and that as a share of the
    chapter recipe's gap, 1 - own gap / chapter gap, with Fieller's interval of the ratio.
    Give it the runs of one training budget (at_budget)."""
    datasets = dataset_order(runs["dataset.name"])
    if len(datasets) != 2:
        return None
    a, b = datasets
    own = {d: own_recipe(runs["recipe"], d, datasets) for d in datasets}
    if own[a] is None or own[b] is None:
        return None
    samples = [
        _finals(runs, CHAPTER_RECIPE, a),
        _finals(runs, CHAPTER_RECIPE, b),
        _finals(runs, own[a], a),
        _finals(runs, own[b], b),
    ]
    if any(len(x) == 0 for x in samples):
        return None
    result = contrast(samples, [1, -1, -1, 1])
    chapter_gap = float(samples[0].mean() - samples[1].mean())
    own_gap = float(samples[2].mean() - samples[3].mean())
    kept = ratio((samples[2:], [1, -1]), (samples[:2], [1, -1]))  # own gap / chapter gap
    return {
        "share_ci_low": 1 - kept["ci_high"],
        "share_ci_high": 1 - kept["ci_low"],
        "chapter_gap": chapter_gap,
        "own_recipe_gap": own_gap,
        "closed": result["estimate"],
        "closed_ci_low": result["ci_low"],
        "closed_ci_high": result["ci_high"],
        "closed_p": result["p"],
        "share_closed": result["estimate"] / chapter_gap if chapter_gap else float("nan"),
        "recipe_a": own[a],
        "recipe_b": own[b],
    }


def search_summary(search_trials: pd.DataFrame, trial_runs: pd.DataFrame) -> dict:
    """A search's budget and outcome, from its trials.csv and its trial runs."""
    counted = search_trials[search_trials["state"].isin(["complete", "fail", "pruned"])]
    complete = counted[counted["state"] == "complete"]
    pruned = counted[counted["state"] == "pruned"]
    best = complete.loc[complete["value"].idxmax()] if len(complete) else None
    # Epochs the trials trained (complete ones in full, pruned ones to where they stopped),
    # against what the same trials would have trained without a pruner.
    full = int(trial_runs["trainer.epochs"].max()) if "trainer.epochs" in trial_runs else 0
    stopped = pruned.get("pruned_at_epoch", pd.Series(dtype=float)).fillna(full)
    return {
        "trials": len(counted),
        "complete": len(complete),
        "pruned": len(pruned),
        "epochs_trained": int(len(complete) * full + stopped.sum()) if full else 0,
        "epochs_in_full": int((len(complete) + len(pruned)) * full),
        "failed": int((counted["state"] == "fail").sum()),
        "interrupted": int((search_trials["state"] == "interrupted").sum()),
        "best_trial": None if best is None else int(best["number"]),
        "best_value": float("nan") if best is None else float(best["value"]),
        "median_value": float(complete["value"].median()) if len(complete) else float("nan"),
        "train_minutes": float(trial_runs["train_seconds"].sum() / 60) if len(trial_runs) else 0.0,
    }
