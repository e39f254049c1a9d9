"""Figures of recipe searches and of the recipe x dataset cells that test their outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from cnn_study.analysis.chapter import TARGET
from cnn_study.analysis.figures import CI_LABEL
from cnn_study.analysis.layout import panels, subplots
from cnn_study.analysis.style import colours

# Trials far below the rest (a diverged learning rate: about 10%, chance) would squash the
# axes; they are drawn on the lower edge as open triangles, and counted.
_FLOOR_BELOW_MEDIAN = 0.10


def _floor(values: pd.Series) -> float:
    finite = values.dropna()
    if finite.empty:
        return 0.0
    return max(0.0, finite.min(), finite.median() - _FLOOR_BELOW_MEDIAN)


def _clipped(ax, x, y: pd.Series, floor: float, **style) -> int:
    """Dots at their values; those below floor as open triangles on the lower edge. Returns
    how many were below."""
    low = y < floor
    ax.scatter(np.asarray(x)[~low.to_numpy()], y[~low] * 100, **style)
    if low.any():
        style = {**style, "marker": "v", "facecolors": "none", "label": None}
        ax.scatter(np.asarray(x)[low.to_numpy()], np.full(low.sum(), floor * 100), **style)
    return int(low.sum())


def search_history(searches: dict[str, pd.DataFrame]) -> Figure:
    """Per search: each trial's validation accuracy in trial order, and the best so far."""
    fig, axes = panels(len(searches), 5.0, 3.6, sharey=False)
    for ax, (label, trials) in zip(axes, searches.items(), strict=True):
        done = trials[trials["state"] == "complete"].sort_values("number")
        floor = _floor(done["value"])
        below = _clipped(
            ax, done["number"], done["value"], floor, s=22, color="C0", label="one trial"
        )
        failed = trials[trials["state"].isin(["fail", "interrupted"])]
        for number in failed["number"]:
            ax.axvline(number, color="grey", lw=0.6, ls=":")
        best = done["value"].cummax() * 100
        ax.step(done["number"], best, where="post", color="C3", label="best so far")
        ax.set_ylim(floor * 100 - 0.5, best.max() + 0.5 if len(best) else 100)
        title = f"{label} ({below} below {floor * 100:.0f}%: triangles)" if below else label
        ax.set(title=title, xlabel="trial", ylabel="validation accuracy (%)")
    axes[0].legend(loc="center right", fontsize=8)
    fig.suptitle("Each search's history (dotted: a failed or interrupted trial)")
    fig.tight_layout()
    return fig


def _is_log(values: pd.Series) -> bool:
    """Spans more than a factor of 100 with positive values: a log-scale parameter (a rate,
    a decay), not a momentum in [0, 1)."""
    numeric = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(numeric) and numeric.min() > 0 and numeric.max() / numeric.min() > 100)


def search_slices(searches: dict[str, pd.DataFrame], params: list[str]) -> Figure:
    """How validation accuracy depends on each searched parameter: one row per search, one
    column per parameter, every complete trial a dot (the best ringed)."""
    rows, cols = len(searches), len(params)
    fig, axes = subplots(rows, cols, figsize=(2.6 * cols, 2.4 * rows), squeeze=False)
    for r, (label, trials) in enumerate(searches.items()):
        done = trials[trials["state"] == "complete"]
        floor = _floor(done["value"])
        best = done.loc[done["value"].idxmax()] if len(done) else None
        for c, param in enumerate(params):
            ax = axes[r][c]
            values = done.get(param, pd.Series(index=done.index, dtype=object))  # not searched here
            known = values.notna()
            if not known.any():
                ax.set_visible(False)
                continue
            numeric = pd.to_numeric(values[known], errors="coerce")
            # Fractions (a rate, a decay) on a continuous axis; names and a few whole
            # numbers (batch sizes) as categories.
            fractional = numeric.notna().all() and (numeric % 1 != 0).any()
            if fractional or (numeric.notna().all() and values[known].nunique() > 6):
                x = numeric.to_numpy(float)
                if _is_log(numeric):
                    ax.set_xscale("log")
            else:  # categories: sgd / adam, none / cosine, batch sizes
                categories = sorted(values[known].astype(str).unique(), key=_natural_key)
                position = {v: i for i, v in enumerate(categories)}
                jitter = np.linspace(-0.15, 0.15, known.sum()) if known.sum() > 1 else [0.0]
                x = np.array([position[str(v)] for v in values[known]]) + jitter
                ax.set_xticks(range(len(categories)), categories)
            _clipped(ax, x, done.loc[known, "value"], floor, s=14, color="C0", alpha=0.8)
            if best is not None and pd.notna(best[param]):
                bx = x[list(done.index[known]).index(best.name)]
                ax.scatter([bx], [best["value"] * 100], s=80, facecolors="none", edgecolors="C3")
            ax.set_ylim(floor * 100 - 0.5, done["value"].max() * 100 + 0.5)
            if r == rows - 1:
                ax.set_xlabel(param.removeprefix("optimizer.").removeprefix("trainer."))
            if c == 0:
                ax.set_ylabel(f"{label}\nval acc (%)")
            else:
                ax.tick_params(labelleft=False)
    fig.suptitle(
        "Validation accuracy against each searched parameter (ring: the best trial; "
        "triangles on the lower edge: trials below the axis, diverged)"
    )
    fig.tight_layout()
    return fig


def _natural_key(value: str):
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)


def recipe_cells(
    summary: pd.DataFrame,
    runs: pd.DataFrame,
    datasets: list[str],
    recipes: list[str],
    names: dict[str, str],
) -> Figure:
    """Final test accuracy of every recipe on every dataset: seeds, mean and its interval;
    one panel per dataset, each on its own scale."""
    fig, axes = panels(len(datasets), 4.2, 3.8)
    palette = colours(recipes)
    for ax, dataset in zip(axes, datasets, strict=True):
        tops, best_seed = [], -np.inf
        for i, recipe in enumerate(recipes):
            cell = summary[(summary["dataset"] == dataset) & (summary["recipe"] == recipe)]
            seeds = (
                runs.loc[
                    (runs["dataset.name"] == dataset) & (runs["recipe"] == recipe), "final_test_acc"
                ].to_numpy(float)
                * 100
            )
            if cell.empty:
                continue
            row = cell.iloc[0]
            mean, low, high = (
                row[k] * 100 for k in ("final_acc_mean", "final_acc_ci_low", "final_acc_ci_high")
            )
            ax.scatter(
                i + 0.25 + np.linspace(-0.05, 0.05, len(seeds)),
                seeds,
                s=14,
                color="black",
                alpha=0.7,
                label="one seed" if i == 0 else None,
            )
            ax.errorbar(
                i,
                mean,
                yerr=None if np.isnan(low) else [[mean - low], [high - mean]],
                fmt="o",
                ms=7,
                capsize=6,
                color=palette[recipe],
                label=f"mean ± {CI_LABEL}" if i == 0 else None,
            )
            ax.annotate(
                f"{mean:.2f}%",
                (i, mean),
                xytext=(-8, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                fontsize=8,
            )
            tops.extend([*seeds, high if not np.isnan(high) else mean])
            best_seed = max(best_seed, *seeds) if len(seeds) else best_seed
        ax.set_xticks(range(len(recipes)), recipes, rotation=15)
        ax.set_xlim(-0.8, len(recipes) - 0.4)
        target = TARGET * 100
        if tops and max(tops) > target - 1.5:
            ax.axhline(target, color="black", ls="--", lw=1, label="99% (the chapter's claim)")
        elif tops:
            ax.text(
                0.02,
                0.98,
                f"99% is {target - best_seed:.1f} points\nabove the best seed",
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=8,
            )
        ax.set(title=names.get(dataset, dataset), ylabel="final test accuracy (%)")
    axes[0].legend(loc="lower right", fontsize=8)
    fig.suptitle("Each recipe on each dataset: final test accuracy (each panel on its own scale)")
    fig.tight_layout()
    return fig
