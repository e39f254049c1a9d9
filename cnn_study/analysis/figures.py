"""The study's figures, each drawn from the tidy frames and saved as PNG and PDF.

Their look is analysis.style's, in effect while the pipeline draws and saves them; where
panels go is analysis.layout's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from cnn_study.analysis.chapter import CHAPTER_DATASETS, TARGET
from cnn_study.analysis.inference import LEVEL
from cnn_study.analysis.layout import (
    WIDE,
    last_row,
    legend_entries,
    panels,
    row_count,
    row_starts,
    side_by_side,
    subplots,
    title_room,
)
from cnn_study.analysis.style import colours

CI_LABEL = f"{LEVEL} CI over seeds"
# Said under every figure whose panels share one span (final_accuracy, final_accuracy_dots).
SAME_SPAN = (
    "Each panel is centred on its own values but spans the same number of points, so that "
    "interval lengths compare across panels."
)


def chapter_target(datasets) -> float | None:
    """The chapter's claimed accuracy where it is a claim about these datasets (every one of
    them the chapter's own), else None: a study of KMNIST or CIFAR-10 draws no such line."""
    names = set(datasets)
    return TARGET if names and names <= CHAPTER_DATASETS else None


def target_label(target: float) -> str:
    return f"{target:.0%} (the chapter's claim)"


def zoom_floor(target: float) -> float:
    """The lower edge (in %) of learning_curves' zoom on the target, which its caption quotes."""
    return target * 100 - 2


def integer_ticks(ax) -> None:
    """Epochs and trials are whole: x ticks at 1, 2, 5, never at 2.5."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def same_span(
    ranges: list[tuple[float, float]], pad: float = 0.25, least: float = 0.1
) -> list[tuple[float, float]]:
    """Limits of the same width for every (low, high) in ranges (accuracies in %), each
    centred on its own range, moved down where it would pass 100%: the widest range plus
    pad of it on each side (at least `least` in all)."""
    widest = max((high - low for low, high in ranges), default=0.0)
    span = max(least, widest * (1 + 2 * pad))
    limits = []
    for low, high in ranges:
        top = min(max(100.0, high), (low + high + span) / 2)
        limits.append((top - span, top))
    return limits


def _spread(values: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Mean, minimum and maximum over seeds per epoch.

    Curves show the range of the seeds rather than a t interval: with two or three seeds a
    per-epoch t interval is wider than the data and hides the curve.
    """
    grouped = values.groupby("epoch")["value"]
    return grouped.mean(), grouped.min(), grouped.max()


def _curves(
    ax, epochs: pd.DataFrame, order: list[str], palette, target: float | None = TARGET
) -> None:
    for group in order:
        data = epochs[epochs["group"] == group]
        mean, low, high = _spread(data.assign(value=data["test_acc"] * 100))
        seeds = data["run"].nunique()
        ax.plot(
            mean.index,
            mean,
            color=palette[group],
            lw=1.8,
            label=f"{group}: mean of {seeds} seed{'s' * (seeds != 1)}",
        )
        ax.fill_between(mean.index, low, high, color=palette[group], alpha=0.25, lw=0)
    if target is not None:
        ax.axhline(target * 100, color="black", ls="--", lw=1, label=target_label(target))
    ax.set(xlabel="epoch", ylabel="test accuracy (%)")
    integer_ticks(ax)


def learning_curves(
    epochs: pd.DataFrame,
    order: list[str],
    target: float | None = TARGET,
    title: str = "Test accuracy per epoch: the chapter's CNN and recipe on each dataset",
) -> Figure:
    """Test accuracy per epoch: mean line and seed range per group, the target line, and a zoom
    on it; target None: no line and no zoom (a study that makes no claim about the target)."""
    if target is None:
        return _learning_curves_only(epochs, order, title)
    fig, (full, zoom) = subplots(1, 2, figsize=(11, 4.2), width_ratios=[3, 2])
    palette = colours(order)
    _curves(full, epochs, order, palette, target)
    full.fill_between([], [], [], color="grey", alpha=0.25, label="band: min to max over seeds")
    full.set_title("All epochs")
    full.legend(loc="lower right")
    _curves(zoom, epochs, order, palette, target)
    zoom.set_ylim(zoom_floor(target), 100)
    zoom.set_title(f"Zoom: {zoom_floor(target):.0f}% to 100%")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _learning_curves_only(epochs: pd.DataFrame, order: list[str], title: str) -> Figure:
    """All groups on one axis, the legend beside it: with datasets far apart (MNIST near
    the target, CIFAR-10 near 60%) a legend inside the axes sits on some curve."""
    fig, ax = subplots(figsize=(10, 4.6))
    _curves(ax, epochs, order, colours(order), target=None)
    ax.fill_between([], [], [], color="grey", alpha=0.25, label="band: min to max over seeds")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def final_accuracy(
    summary: pd.DataFrame, runs: pd.DataFrame, order: list[str], target: float | None = TARGET
) -> Figure:
    """Final test accuracy, one panel per group: seeds, mean and interval.

    Every panel spans the same number of points (same_span), centred on its own seeds, so
    that a narrow interval is drawn short and a wide one long; the mean is written under its
    panel, where no line can cross it. The target line is drawn where it falls in a panel,
    its distance written where it does not (target None: neither).
    """
    fig, axes = side_by_side(len(order), 3.2, 4.0, extra=0.6)
    palette = colours(order)
    ranges, means = [], []
    for ax, group in zip(axes, order, strict=True):
        row = summary[summary["group"] == group].iloc[0]
        seeds = runs.loc[runs["group"] == group, "final_test_acc"].to_numpy() * 100
        mean = row["final_acc_mean"] * 100
        low, high = row["final_acc_ci_low"] * 100, row["final_acc_ci_high"] * 100
        has_ci = not np.isnan(low)
        ax.scatter(
            np.linspace(-0.15, 0.15, len(seeds)) + 0.6,
            seeds,
            s=22,
            color="black",
            alpha=0.7,
            label="one seed",
            zorder=3,
        )
        ax.errorbar(
            0,
            mean,
            yerr=[[mean - low], [high - mean]] if has_ci else None,
            fmt="o",
            ms=8,
            capsize=10,
            color=palette[group],
            label=f"mean ± {CI_LABEL}",
        )
        values = np.concatenate([seeds, [low, high] if has_ci else [mean]])
        bottom, top = float(values.min()), float(values.max())
        if target is not None and bottom - 0.3 <= target * 100 <= top + 0.3:
            bottom, top = min(bottom, target * 100), max(top, target * 100)
        ranges.append((bottom, top))
        means.append(mean)
        ax.set_xlim(-0.9, 1.0)
        ax.set_xticks([0], [f"mean {mean:.2f}%"])
        ax.set(title=group, ylabel="final test accuracy (%)")
    limits = same_span(ranges)
    for ax, (bottom, top), mean in zip(axes, limits, means, strict=True):
        ax.set_ylim(bottom, top)
        if target is not None:
            _mark_target(ax, target, mean, bottom, top)
    handles = legend_entries(axes)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=3, fontsize=8)
    span = limits[0][1] - limits[0][0]
    fig.suptitle(f"Final test accuracy after the last epoch (every panel spans {span:.2g} points)")
    fig.tight_layout(rect=(0, 0.08 / row_count(len(order)), 1, 1))
    return fig


def final_accuracy_caption(noun: str) -> str:
    """The caption of final_accuracy and final_accuracy_dots: one `noun` per panel or row."""
    return (
        f"Final test accuracy per {noun}: mean with its {LEVEL} t interval; dots: "
        f"single seeds. {SAME_SPAN}"
    )


def _mark_target(ax, target: float, mean: float, bottom: float, top: float) -> None:
    """The target line (a fraction; the panel is in %) where it falls in the panel; else its
    distance written at the top: widening the panel to it would flatten the seeds."""
    line = target * 100
    if bottom <= line <= top:
        ax.axhline(line, color="black", ls="--", lw=1, label=target_label(target))
        return
    ax.text(
        0.5,
        0.97,
        f"{target:.0%} is {abs(line - mean):.1f} points {'above' if line > mean else 'below'}",
        transform=ax.transAxes,
        ha="center",
        va="top",
        fontsize=9,
    )


def per_class_accuracy(
    per_class: pd.DataFrame,
    order: list[str],
    target: float | None = TARGET,
    columns: int = WIDE,
) -> Figure:
    """Per-class final test accuracy, one panel per group, each with its own dataset's
    classes: which classes cause the gap. A dot per class (the mean over seeds) and a
    whisker from the lowest to the highest seed, not a bar: accuracies near 100% need an
    axis that does not start at zero, and a bar's length from anywhere but zero misleads.
    Every panel on one scale; the means written in a column right of each panel, where no
    whisker reaches. target None: no target line; at most columns panels side by side."""
    fig, axes = side_by_side(len(order), 4.4, 4.4, columns=columns)
    palette = colours(order)
    left = max(0.0, 100 * float(per_class.loc[per_class["group"].isin(order), "acc_min"].min()))
    left = max(0.0, left - 0.1 * (100 - left) - 0.5)
    for ax, group in zip(axes, order, strict=True):
        data = per_class[per_class["group"] == group]
        y = np.arange(len(data))[::-1]
        mean = data["acc_mean"].to_numpy() * 100
        # clipped: the mean of equal values can sit a rounding error above their minimum
        err = np.clip([mean - data["acc_min"] * 100, data["acc_max"] * 100 - mean], 0, None)
        ax.errorbar(
            mean, y, xerr=err, fmt="o", ms=5, capsize=2, lw=1, color=palette[group], label=group
        )
        if target is not None:
            ax.axvline(target * 100, color="black", ls="--", lw=1, label=target_label(target))
        ax.set_yticks(y, data["class"])
        ax.set_ylim(-0.7, len(data) - 0.3)
        ax.set_xlim(left, 100.5)
        ax.set(xlabel="test accuracy (%)", title=group)
        at_right = blended_transform_factory(ax.transAxes, ax.transData)
        for yi, m in zip(y, mean, strict=True):
            ax.text(1.02, yi, f"{m:.1f}", transform=at_right, ha="left", va="center", fontsize=8)
    handles = legend_entries(axes)
    fig.legend(
        handles.values(), handles.keys(), loc="lower center", ncol=min(len(handles), 5), fontsize=8
    )
    fig.suptitle("Final test accuracy per class (dot: mean over seeds; whiskers: min to max)")
    rows = row_count(len(order), columns) + (len(handles) - 1) // 5
    fig.tight_layout(rect=(0, 0.07 / rows, 1, 1))
    return fig


def confusion_matrices(matrices: dict[str, tuple], order: list[str], columns: int = WIDE) -> Figure:
    """Row-normalised confusion matrix per group (summed over seeds): where errors go; at
    most columns matrices side by side. One rule for small numbers: a cell is written
    where its rate rounds to 1% or more, and left blank where it would read 0."""
    fig, axes = panels(len(order), 5.6, 5.2, ncols=columns)
    for ax, group in zip(axes, order, strict=True):
        classes, counts = matrices[group]
        rates = 100 * counts / counts.sum(axis=1, keepdims=True).clip(min=1)
        image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=100)
        size = 9 if len(classes) <= 10 else 7
        for (i, j), value in np.ndenumerate(rates):
            shown = f"{value:.0f}"
            if shown != "0":
                ax.text(
                    j,
                    i,
                    shown,
                    ha="center",
                    va="center",
                    fontsize=size,
                    color="white" if value > 60 else "black",
                )
        ticks = range(len(classes))
        ax.set_xticks(ticks, classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(ticks, classes, fontsize=8)
        ax.set(xlabel="predicted class", ylabel="true class", title=group)
        ax.grid(False)
    fig.suptitle(
        "Confusion matrices of the final models (test set, all seeds pooled; blank: rounds to 0%)"
    )
    # one colour bar for every panel (one scale, 0 to 100), right of them all
    left, bottom, right, top = title_room(fig)
    fig.tight_layout(rect=(left, bottom, 1 - 0.9 / fig.get_figwidth(), top))
    bar = fig.add_axes((1 - 0.75 / fig.get_figwidth(), 0.25, 0.15 / fig.get_figwidth(), 0.5))
    fig.colorbar(image, cax=bar, label="% of the true class")
    return fig


def loss_curves(
    epochs: pd.DataFrame, order: list[str], sharey: bool = True, columns: int = WIDE
) -> Figure:
    """Train versus test loss per epoch, one panel per group (mean over seeds); sharey
    False: each panel on its own scale (datasets whose losses lie far apart), said in the
    title so that no reader compares heights across panels."""
    fig, axes = panels(len(order), 4.4, 3.8, ncols=columns, sharey=sharey)
    for ax, group in zip(axes, order, strict=True):
        data = epochs[epochs["group"] == group]
        for column, style, name in (
            ("train_loss", "-", "train (dropout on)"),
            ("test_loss", "--", "test"),
        ):
            mean, low, high = _spread(data.rename(columns={column: "value"}))
            ax.plot(
                mean.index,
                mean,
                ls=style,
                color="black" if column == "test_loss" else "C0",
                label=name,
            )
            ax.fill_between(
                mean.index,
                low,
                high,
                alpha=0.2,
                lw=0,
                color="black" if column == "test_loss" else "C0",
            )
        ax.set(xlabel="epoch", title=group)
        integer_ticks(ax)
        ax.legend(loc="upper right")
    labelled = range(len(axes)) if not sharey else row_starts(len(axes), columns)
    for i in labelled:
        axes[i].set_ylabel("cross-entropy loss (mean per image)")
    scales = "" if sharey else "; each panel on its own scale"
    fig.suptitle(f"Train and test loss per epoch (mean over seeds; band: min to max{scales})")
    fig.tight_layout(rect=title_room(fig))
    return fig


def save(fig: Figure, out: Path, name: str) -> list[Path]:
    """Write fig as out/name.png and out/name.pdf; return the paths."""
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path, bbox_inches="tight")
    return paths


# --- figures of a grid: cells are the combinations of every factor but the dataset ----------


def learning_curves_grid(epochs: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    """Small multiples: one panel per cell, a line per dataset (mean, band: seed range); the
    chapter's target dashed only where the study's datasets are the chapter's."""
    cells = list(dict.fromkeys(summary["cell"]))
    labels = list(dict.fromkeys(summary["dataset_label"]))
    target = chapter_target(summary["dataset"])
    palette = colours(labels)
    fig, axes = panels(len(cells), 3.6, 3.0, sharex=True, sharey=True)
    for ax, cell in zip(axes, cells, strict=True):
        for row in summary[summary["cell"] == cell].itertuples(index=False):
            data = epochs[epochs["group"] == row.group]
            mean, low, high = _spread(data.assign(value=data["test_acc"] * 100))
            colour = palette[row.dataset_label]
            ax.plot(mean.index, mean, color=colour, lw=1.6, label=row.dataset_label)
            ax.fill_between(mean.index, low, high, color=colour, alpha=0.25, lw=0)
        if target is not None:
            ax.axhline(target * 100, color="black", ls="--", lw=0.8, label=target_label(target))
        ax.set_title(cell, fontsize=9)
        integer_ticks(ax)
    for i in row_starts(len(axes)):
        axes[i].set_ylabel("test accuracy (%)")
    for i in last_row(len(axes)):
        axes[i].set_xlabel("epoch")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=len(names), fontsize=8)
    fig.suptitle("Test accuracy per epoch, one panel per cell (mean over seeds; band: min to max)")
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    return fig


def learning_curves_grid_caption(summary: pd.DataFrame) -> str:
    """learning_curves_grid's caption: the target line said only where it is drawn."""
    target = chapter_target(summary["dataset"])
    return (
        "Test accuracy per epoch, one panel per cell: mean over seeds, band from the lowest "
        "to the highest seed"
        + (f"; dashed: {target_label(target)}." if target is not None else ".")
    )


def final_accuracy_dots(summary: pd.DataFrame, runs: pd.DataFrame) -> Figure:
    """One row per cell, one panel per dataset: seeds, mean and interval; every panel spans
    the same number of points (same_span), so that interval lengths compare."""
    labels = list(dict.fromkeys(summary["dataset_label"]))
    cells = list(dict.fromkeys(summary["cell"]))
    palette = colours(labels)
    fig, axes = subplots(
        1, len(labels), figsize=(4.6 * len(labels), 0.42 * len(cells) + 1.6), squeeze=False
    )
    ranges = []
    for ax, label in zip(axes[0], labels, strict=True):
        rows = summary[summary["dataset_label"] == label].set_index("cell")
        drawn: list[float] = []
        for y, cell in enumerate(cells[::-1]):
            if cell not in rows.index:
                continue
            row = rows.loc[cell]
            seeds = runs.loc[runs["group"] == row["group"], "final_test_acc"] * 100
            ax.scatter(seeds, np.full(len(seeds), y + 0.18), s=12, color="black", alpha=0.6)
            mean = row["final_acc_mean"] * 100
            low, high = row["final_acc_ci_low"] * 100, row["final_acc_ci_high"] * 100
            err = None if np.isnan(low) else np.clip([[mean - low], [high - mean]], 0, None)
            ax.errorbar(mean, y, xerr=err, fmt="o", ms=5, capsize=3, color=palette[label])
            drawn += [*seeds, mean, *([] if np.isnan(low) else [low, high])]
            ax.annotate(
                f"{mean:.2f}",
                (mean, y),
                xytext=(0, -9),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=7,
            )
        ax.set_yticks(range(len(cells)), cells[::-1], fontsize=8)
        ax.set_ylim(-0.8, len(cells) - 0.4)
        ax.set(xlabel="final test accuracy (%)", title=label)
        ax.grid(axis="y", alpha=0)
        ranges.append((min(drawn), max(drawn)))
    limits = same_span(ranges, pad=0.1)
    for ax, limit in zip(axes[0], limits, strict=True):
        ax.set_xlim(*limit)
    handles = [
        Line2D([], [], marker="o", color="grey", ls="", label=f"mean ± {CI_LABEL}"),
        Line2D([], [], marker="o", ms=4, color="black", alpha=0.6, ls="", label="one seed"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=2, fontsize=8)
    span = limits[0][1] - limits[0][0]
    fig.suptitle(f"Final test accuracy per cell (every panel spans {span:.2g} points)")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def per_class_heatmap(per_class: pd.DataFrame, summary: pd.DataFrame) -> Figure:
    """Per-class final accuracy, a row per cell and a panel per dataset. One colour scale
    for every panel, with one colour bar: a colour means the same accuracy in each."""
    labels = list(dict.fromkeys(summary["dataset_label"]))
    cells = list(dict.fromkeys(summary["cell"]))
    fig, axes = subplots(
        1, len(labels), figsize=(6.2 * len(labels), 0.4 * len(cells) + 2.4), squeeze=False
    )
    tables = {}
    for label in labels:
        groups = summary[summary["dataset_label"] == label].set_index("cell")["group"]
        rows = [c for c in cells if c in groups.index]
        data = per_class[per_class["group"].isin(groups)]
        classes = list(dict.fromkeys(data["class"]))
        table = (
            data.pivot(index="group", columns="class", values="acc_mean")
            .reindex(index=[groups[c] for c in rows], columns=classes)
            .to_numpy()
            * 100
        )
        tables[label] = (rows, classes, table)
    lowest = min(float(np.nanmin(table)) for _, _, table in tables.values())
    vmin = max(0.0, lowest - 2)
    for ax, label in zip(axes[0], labels, strict=True):
        rows, classes, table = tables[label]
        image = ax.imshow(table, cmap="viridis", vmin=vmin, vmax=100, aspect="auto")
        for (i, j), value in np.ndenumerate(table):
            ax.text(
                j,
                i,
                f"{value:.0f}",
                ha="center",
                va="center",
                fontsize=8,
                color="black" if value > vmin + 0.6 * (100 - vmin) else "white",
            )
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_title(label)
        ax.grid(False)
    fig.suptitle("Final test accuracy per class and cell (mean over seeds; one colour scale)")
    # one colour bar for every panel, right of them all (as confusion_matrices)
    width = fig.get_figwidth()
    fig.tight_layout(rect=(0, 0, 1 - 1.0 / width, 1))
    bar = fig.add_axes((1 - 0.85 / width, 0.2, 0.15 / width, 0.6))
    fig.colorbar(image, cax=bar, label="test accuracy (%)")
    return fig


def interaction(summary: pd.DataFrame, gaps: pd.DataFrame, x: str, panel: str | None) -> Figure:
    """Top: final accuracy per level of x, a line per dataset, one panel per level of panel,
    with t intervals. Bottom: each dataset's gap to the reference per level, with Welch
    intervals; dashed: the chapter's cell's gap (of the same two datasets)."""
    panels = list(dict.fromkeys(summary[panel])) if panel else [None]
    levels = list(dict.fromkeys(summary[x]))
    positions = np.arange(len(levels))  # numbers, not categories: one order in every panel
    labels = list(dict.fromkeys(summary["dataset_label"]))
    palette = colours(labels)
    pairs = list(dict.fromkeys(zip(gaps["a_label"], gaps["b_label"], strict=True)))
    fig, axes = subplots(
        2,
        len(panels),
        figsize=(3.6 * len(panels) + 1.2, 6.6),
        squeeze=False,
        sharey="row",
        height_ratios=[3, 2],
    )
    for top, bottom, level in zip(axes[0], axes[1], panels, strict=True):
        block = summary if panel is None else summary[summary[panel] == level]
        for label in labels:
            rows = block[block["dataset_label"] == label].set_index(x).reindex(levels)
            mean = rows["final_acc_mean"] * 100
            err = np.clip(
                [mean - rows["final_acc_ci_low"] * 100, rows["final_acc_ci_high"] * 100 - mean],
                0,
                None,
            )
            top.errorbar(
                positions, mean, yerr=err, marker="o", capsize=4, color=palette[label], label=label
            )
        top.set_title(f"{panel}={level}" if panel else "all cells")
        gap = gaps if panel is None else gaps[gaps[panel] == level]
        for k, pair in enumerate(pairs):
            # one pair: black, as the chapter's grid; several: each in its other dataset's
            # colour, nudged apart so that their intervals do not hide each other
            colour = "black" if len(pairs) == 1 else palette[pair[1]]
            shift = 0.0 if len(pairs) == 1 else 0.12 * (k - (len(pairs) - 1) / 2)
            _gap_line(bottom, gap, pair, x, levels, positions + shift, colour, len(pairs) > 1)
            _chapters_gap(bottom, gaps, pair, colour, len(pairs) > 1)
        bottom.set_xlabel(x)
        for ax in (top, bottom):
            ax.set_xticks(positions, levels)
            ax.set_xlim(-0.4, len(levels) - 0.6)
    axes[0][0].set_ylabel("final test accuracy (%)")
    axes[1][0].set_ylabel(
        f"gap {' - '.join(pairs[0])} (points)"
        if len(pairs) == 1
        else f"gap to {pairs[0][0]} (points)"
    )
    h1, l1 = axes[0][0].get_legend_handles_labels()
    h2, l2 = axes[1][0].get_legend_handles_labels()
    if len(pairs) == 1:
        handles, names, columns = h1 + h2, l1 + l2, len(l1 + l2)
    else:
        # a column of datasets, then a column per pair (its gap, its chapter's cell's gap)
        drawn = dict(zip(l2, h2, strict=True))
        wanted = [(_gap_label(p, True), _chapters_gap_label(p, True)) for p in pairs]
        per_pair = [[(drawn[n], n) for n in names if n in drawn] for names in wanted]
        handles, names, columns = _legend_table([list(zip(h1, l1, strict=True)), *per_pair])
    fig.legend(handles, names, loc="lower center", ncol=columns, fontsize=8)
    fig.suptitle(f"Does a stronger {x} close the gap? Final test accuracy and the dataset gap")
    rows = len(names) // columns
    fig.tight_layout(rect=(0, 0.05 if rows == 1 else 0.025 * (rows + 1), 1, 1))
    return fig


def interaction_caption(gaps: pd.DataFrame, x: str, panel: str | None) -> str:
    """interaction's caption, from the axes it was drawn with: x along, panel across (None:
    one panel); the chapter's cell's gap said only where it is drawn."""
    reference = gaps.get("reference", pd.Series(dtype=object)).eq("chapter's cell").any()
    return (
        f"Top: final test accuracy per {x}, a line per dataset, "
        + (f"one panel per {panel}" if panel else "all cells in one panel")
        + f" (bars: {LEVEL} t intervals over seeds). Bottom: the gap between the "
        f"datasets per cell (bars: Welch {LEVEL} intervals)"
        + ("; dashed: the chapter's cell's gap." if reference else ".")
    )


def _legend_table(columns: list[list[tuple]]) -> tuple[list, list[str], int]:
    """Legend entries laid out as columns (matplotlib fills a legend column by column):
    shorter columns padded with invisible entries."""
    rows = max(len(c) for c in columns)
    blank = (Line2D([], [], alpha=0), "")
    entries = [e for c in columns for e in [*c, *[blank] * (rows - len(c))]]
    return [h for h, _ in entries], [n for _, n in entries], len(columns)


def _gap_line(
    ax, gaps: pd.DataFrame, pair: tuple, x: str, levels: list, positions, colour, named: bool
) -> None:
    """One pair's gap per level of x with its Welch interval, and the chapter's cell's gap of
    that pair dashed; named: the legend says which pair (several are drawn)."""
    rows = gaps[(gaps["a_label"] == pair[0]) & (gaps["b_label"] == pair[1])]
    g = rows.set_index(x).reindex(levels)
    mean = g["gap"] * 100
    ax.errorbar(
        positions,
        mean,
        yerr=[mean - g["gap_ci_low"] * 100, g["gap_ci_high"] * 100 - mean],
        marker="s",
        capsize=4,
        color=colour,
        label=_gap_label(pair, named),
    )


def _gap_label(pair: tuple, named: bool) -> str:
    return f"{f'{pair[0]} - {pair[1]}' if named else 'gap'}, {LEVEL} CI (Welch)"


def _chapters_gap_label(pair: tuple, named: bool) -> str:
    return "the chapter's cell's gap" + (f" ({pair[1]})" if named else "")


def _chapters_gap(ax, gaps: pd.DataFrame, pair: tuple, colour, named: bool) -> None:
    """The chapter's cell's gap of one pair, dashed across a panel (every panel: the line is
    what each cell is read against)."""
    rows = gaps[(gaps["a_label"] == pair[0]) & (gaps["b_label"] == pair[1])]
    reference = rows[rows.get("reference", pd.Series("", index=rows.index)).eq("chapter's cell")]
    if len(reference):
        ax.axhline(
            reference["gap"].iloc[0] * 100,
            color="grey" if not named else colour,
            ls="--",
            lw=1,
            label=_chapters_gap_label(pair, named),
        )
