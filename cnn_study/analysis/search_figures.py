"""Figures of recipe searches and of the recipe x dataset cells that test their outcome."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from cnn_study.analysis.figures import (
    CI_LABEL,
    SAME_SPAN,
    chapter_target,
    integer_ticks,
    same_span,
    target_label,
)
from cnn_study.analysis.inference import LEVEL
from cnn_study.analysis.layout import legend_entries, panels, subplots
from cnn_study.analysis.style import colours

# Trials far below the rest (a learning rate too high or too low: about 10%, chance) would
# squash the axes; they are drawn on the lower edge, and counted.
_FLOOR_BELOW_MEDIAN = 0.10
# What each mark means, for the legends and titles: only the marks a figure draws are named.
_BELOW = "below the axis (open triangle on the lower edge)"
_DIVERGED = "diverged: a loss not finite (cross)"
_FAILED = "failed or interrupted (dotted line)"
_PRUNED = "pruned: its value when stopped (grey circle)"


def _floor(values: pd.Series) -> float:
    finite = values.dropna()
    if finite.empty:
        return 0.0
    return max(0.0, finite.min(), finite.median() - _FLOOR_BELOW_MEDIAN)


def _diverged(trials: pd.DataFrame) -> pd.Series:
    """Which trials diverged (searches.read_search says so from their losses); none where
    the frame does not say."""
    column = trials.get("diverged", pd.Series(False, index=trials.index))
    return column.fillna(False).astype(bool)


def _marks(ax, x, trials: pd.DataFrame, floor: float, **style) -> set[str]:
    """Each trial a dot at its value; a diverged one a cross; one below floor (slow, or
    diverged) on the lower edge, a dot turned open triangle. Returns the names of the
    marks other than dots that it drew."""
    x = np.asarray(x)
    value = trials["value"]
    diverged = _diverged(trials).to_numpy()
    low = (value.isna() | (value < floor)).to_numpy()
    y = np.where(low, floor, value.to_numpy(float)) * 100
    drawn = set()
    ax.scatter(x[~low & ~diverged], y[~low & ~diverged], **style)
    rest = {k: v for k, v in style.items() if k != "label"}
    if (low & ~diverged).any():
        ax.scatter(
            x[low & ~diverged], y[low & ~diverged], **{**rest, "marker": "v", "facecolors": "none"}
        )
        drawn.add(_BELOW)
    if diverged.any():
        ax.scatter(x[diverged], y[diverged], **{**rest, "marker": "x", "color": "C3"})
        drawn.add(_DIVERGED)
    return drawn


def _mark_handles(drawn: set[str]) -> list[Line2D]:
    """Legend entries for the marks drawn, in a fixed order."""
    looks = {
        _BELOW: {"marker": "v", "markerfacecolor": "none", "color": "C0", "ls": ""},
        _DIVERGED: {"marker": "x", "color": "C3", "ls": ""},
        _FAILED: {"color": "grey", "lw": 0.6, "ls": ":"},
        _PRUNED: {"marker": "o", "markerfacecolor": "none", "color": "grey", "ls": ""},
    }
    return [Line2D([], [], label=name, **look) for name, look in looks.items() if name in drawn]


def search_history(searches: dict[str, pd.DataFrame]) -> Figure:
    """Per search: each trial's validation accuracy in trial order, and the best so far;
    the legend names only the marks some trial has."""
    fig, axes = panels(len(searches), 5.0, 3.6, sharey=False)
    drawn: set[str] = set()
    for ax, (label, trials) in zip(axes, searches.items(), strict=True):
        done = trials[trials["state"] == "complete"].sort_values("number")
        floor = _floor(done["value"])
        marks = _marks(ax, done["number"], done, floor, s=22, color="C0", label="one trial")
        drawn |= marks
        failed = trials[trials["state"].isin(["fail", "interrupted", "stale"])]
        for number in failed["number"]:
            ax.axvline(number, color="grey", lw=0.6, ls=":")
        if len(failed):
            drawn.add(_FAILED)
        # A pruned trial's value is its last report, at the epoch it stopped: shown apart,
        # never part of the best so far (it was not trained to the end).
        pruned = trials[(trials["state"] == "pruned") & trials["value"].notna()]
        if len(pruned):
            shown = np.maximum(pruned["value"].to_numpy(float), floor) * 100
            ax.scatter(pruned["number"], shown, s=22, facecolors="none", edgecolors="grey")
            drawn.add(_PRUNED)
        best = done["value"].cummax() * 100
        ax.step(done["number"], best, where="post", color="C3", label="best so far")
        ax.set_ylim(floor * 100 - 0.5, best.max() + 0.5 if len(best) else 100)
        below = int((done["value"].isna() | (done["value"] < floor)).sum())
        title = f"{label} ({below} below {floor * 100:.0f}%)" if below else label
        ax.set(title=title, xlabel="trial", ylabel="validation accuracy (%)")
        integer_ticks(ax)
    handles, _ = axes[0].get_legend_handles_labels()
    handles += _mark_handles(drawn)
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 3), fontsize=8)
    fig.suptitle("Each search's history")
    fig.tight_layout(rect=(0, 0.1 if len(handles) > 3 else 0.06, 1, 1))
    return fig


def _is_log(values: pd.Series) -> bool:
    """Spans more than a factor of 100 with positive values: a log-scale parameter (a rate,
    a decay), not a momentum in [0, 1)."""
    numeric = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(numeric) and numeric.min() > 0 and numeric.max() / numeric.min() > 100)


def search_slices(searches: dict[str, pd.DataFrame], params: list[str]) -> Figure:
    """How validation accuracy depends on each searched parameter: one row per search, one
    column per parameter, every complete trial a dot (the best ringed). The title explains
    only the marks drawn: "diverged" is a trial whose loss was not finite, never one that
    merely ended low."""
    rows, cols = len(searches), len(params)
    fig, axes = subplots(rows, cols, figsize=(2.6 * cols, 2.4 * rows), squeeze=False)
    drawn: set[str] = set()
    for r, (label, trials) in enumerate(searches.items()):
        done = trials[trials["state"] == "complete"]
        floor = _floor(done["value"])
        best = done.loc[done["value"].idxmax()] if done["value"].notna().any() else None
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
            drawn |= _marks(ax, x, done[known], floor, s=14, color="C0", alpha=0.8)
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
    said = ["ring: the best trial"] + [
        {_BELOW: "triangles on the lower edge: trials below the axis", _DIVERGED: _DIVERGED}[m]
        for m in (_BELOW, _DIVERGED)
        if m in drawn
    ]
    fig.suptitle(f"Validation accuracy against each searched parameter ({'; '.join(said)})")
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
    epochs: int | None = None,
) -> Figure:
    """Final test accuracy of every recipe on every dataset: seeds, mean and its interval;
    give it the runs of one training budget (epochs, said in its title): never pooled;
    one panel per dataset, every panel spanning the same number of points (same_span). The
    means are written under the recipes' names, where the target line (drawn only where
    every dataset is the chapter's) cannot cross them."""
    fig, axes = panels(len(datasets), 4.2, 3.8)
    palette = colours(recipes)
    target = chapter_target(datasets)
    ranges, best_seeds = [], []
    for ax, dataset in zip(axes, datasets, strict=True):
        values, best_seed, ticks = [], -np.inf, []
        for i, recipe in enumerate(recipes):
            cell = summary[(summary["dataset"] == dataset) & (summary["recipe"] == recipe)]
            seeds = (
                runs.loc[
                    (runs["dataset.name"] == dataset) & (runs["recipe"] == recipe), "final_test_acc"
                ].to_numpy(float)
                * 100
            )
            if cell.empty:
                ticks.append(recipe)
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
                label="one seed",
            )
            ax.errorbar(
                i,
                mean,
                yerr=None if np.isnan(low) else [[mean - low], [high - mean]],
                fmt="o",
                ms=7,
                capsize=6,
                color=palette[recipe],
                label=f"mean ± {CI_LABEL}",
            )
            ticks.append(f"{recipe}\n{mean:.2f}%")
            values.extend([*seeds, mean, *([] if np.isnan(low) else [low, high])])
            best_seed = max(best_seed, *seeds) if len(seeds) else best_seed
        ax.set_xticks(range(len(recipes)), ticks, fontsize=8)
        ax.set_xlim(-0.6, len(recipes) - 0.4)
        ax.set(title=names.get(dataset, dataset), ylabel="final test accuracy (%)")
        if values and target is not None and max(values) > target * 100 - 0.3:
            values.append(target * 100)  # near: the panel shows the line
        ranges.append((min(values), max(values)) if values else (0.0, 100.0))
        best_seeds.append(best_seed)
    limits = same_span(ranges, pad=0.15)
    for ax, (bottom, top), best_seed in zip(axes, limits, best_seeds, strict=True):
        ax.set_ylim(bottom, top)
        if target is None or not np.isfinite(best_seed):
            continue
        if bottom <= target * 100 <= top:
            ax.axhline(target * 100, color="black", ls="--", lw=1, label=target_label(target))
        else:
            ax.text(
                0.02,
                0.98,
                f"{target:.0%} is {target * 100 - best_seed:.1f} points\nabove the best seed",
                transform=ax.transAxes,
                ha="left",
                va="top",
                fontsize=8,
            )
    handles = legend_entries(axes)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=3, fontsize=8)
    span = limits[0][1] - limits[0][0] if limits else 0.0
    after = f" after {epochs} epochs" if epochs is not None else ""
    fig.suptitle(
        f"Each recipe on each dataset: final test accuracy{after} "
        f"(every panel spans {span:.2g} points)"
    )
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def recipe_cells_caption(datasets: list[str], epochs: int | None = None) -> str:
    """recipe_cells' caption: the target line said only where it is drawn."""
    target = chapter_target(datasets)
    after = f" after {epochs} epochs" if epochs is not None else ""
    return (
        f"Final test accuracy{after} of each recipe on each dataset: mean (written under its "
        f"recipe) "
        f"with its {LEVEL} t interval over seeds; dots: single seeds"
        + (f"; dashed: {target_label(target)}" if target is not None else "")
        + f". {SAME_SPAN}"
    )
