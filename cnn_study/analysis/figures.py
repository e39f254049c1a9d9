"""The study's figures, each drawn from the tidy frames and saved as PNG and PDF."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and clusters

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnn_study.analysis.stats import CONFIDENCE, TARGET  # noqa: E402

plt.rcParams.update(
    {
        "figure.dpi": 110,
        "savefig.dpi": 200,
        "font.size": 10,
        "axes.titlesize": 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "legend.frameon": False,
        "pdf.fonttype": 42,
    }
)
CI_LABEL = f"{CONFIDENCE:.0%} CI over seeds"


def colours(groups: list[str]) -> dict[str, tuple]:
    palette = plt.get_cmap("tab10")
    return {g: palette(i % 10) for i, g in enumerate(groups)}


def _spread(values: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Mean, minimum and maximum over seeds per epoch.

    Curves show the range of the seeds rather than a t interval: with two or three seeds a
    per-epoch t interval is wider than the data and hides the curve.
    """
    grouped = values.groupby("epoch")["value"]
    return grouped.mean(), grouped.min(), grouped.max()


def _curves(ax, epochs: pd.DataFrame, order: list[str], palette) -> None:
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
    ax.axhline(TARGET * 100, color="black", ls="--", lw=1, label="99% (the chapter's claim)")
    ax.set(xlabel="epoch", ylabel="test accuracy (%)")


def learning_curves(epochs: pd.DataFrame, order: list[str]) -> Figure:
    """Test accuracy per epoch: mean line and seed range per group, the 99% line, and a zoom."""
    fig, (full, zoom) = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=[3, 2])
    palette = colours(order)
    _curves(full, epochs, order, palette)
    full.fill_between([], [], [], color="grey", alpha=0.25, label="band: min to max over seeds")
    full.set_title("All epochs")
    full.legend(loc="lower right")
    _curves(zoom, epochs, order, palette)
    zoom.set_ylim(TARGET * 100 - 2, 100)
    zoom.set_title("Zoom: 97% to 100%")
    fig.suptitle("Test accuracy per epoch: the chapter's CNN and recipe on each dataset")
    fig.tight_layout()
    return fig


def final_accuracy(summary: pd.DataFrame, runs: pd.DataFrame, order: list[str]) -> Figure:
    """Final test accuracy, one panel per group on its own scale: seeds, mean and interval.

    Each panel is scaled to its own seeds, so that the spread between seeds and the interval
    stay visible; the 99% line is drawn where it falls in the panel, and its distance is
    written where it does not.
    """
    fig, axes = plt.subplots(1, len(order), figsize=(3.2 * len(order) + 0.6, 4.0), squeeze=False)
    palette = colours(order)
    for ax, group in zip(axes[0], order, strict=True):
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
        ax.annotate(
            f"{mean:.2f}%",
            (0, mean),
            xytext=(-12, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            fontsize=9,
        )
        values = np.concatenate([seeds, [low, high] if has_ci else [mean]])
        pad = max(0.05, 0.25 * (values.max() - values.min()))
        bottom, top = values.min() - pad, values.max() + pad
        target = TARGET * 100
        if bottom - 0.3 <= target <= top + 0.3:
            bottom, top = min(bottom, target - pad), max(top, target + pad)
            ax.axhline(target, color="black", ls="--", lw=1, label="99% (the chapter's claim)")
        else:
            ax.text(
                0.5,
                0.97,
                f"99% is {target - mean:.1f} points above",
                transform=ax.transAxes,
                ha="center",
                va="top",
                fontsize=9,
            )
        ax.set_ylim(bottom, top)
        ax.set_xlim(-0.9, 1.0)
        ax.set_xticks([])
        ax.set(title=group, ylabel="final test accuracy (%)")
    handles: dict = {}
    for ax in axes[0]:
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=3, fontsize=8)
    fig.suptitle("Final test accuracy after the last epoch (each panel on its own scale)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def per_class_accuracy(per_class: pd.DataFrame, order: list[str]) -> Figure:
    """Per-class final test accuracy, one panel per group: which classes cause the gap."""
    fig, axes = plt.subplots(1, len(order), figsize=(4.2 * len(order), 4.4), squeeze=False)
    palette = colours(order)
    for ax, group in zip(axes[0], order, strict=True):
        data = per_class[per_class["group"] == group]
        y = np.arange(len(data))[::-1]
        mean = data["acc_mean"] * 100
        err = [mean - data["acc_min"] * 100, data["acc_max"] * 100 - mean]
        ax.barh(
            y,
            mean,
            color=palette[group],
            alpha=0.85,
            xerr=err,
            capsize=2,
            error_kw={"lw": 0.8},
            label="mean over seeds (whiskers: min-max)",
        )
        ax.axvline(TARGET * 100, color="black", ls="--", lw=1, label="99%")
        ax.set_yticks(y, data["class"])
        left = max(0.0, float(mean.min()) - 12)
        ax.set_xlim(left, 100.5)
        ax.set(xlabel="test accuracy (%)", title=group)
        for yi, m in zip(y, mean, strict=True):
            ax.text(left + 0.4, yi, f"{m:.1f}", ha="left", va="center", fontsize=8, color="white")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=2, fontsize=8)
    fig.suptitle("Final test accuracy per class")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def confusion_matrices(matrices: dict[str, tuple], order: list[str]) -> Figure:
    """Row-normalised confusion matrix per group (summed over seeds): where errors go."""
    fig, axes = plt.subplots(1, len(order), figsize=(5.6 * len(order), 5.2), squeeze=False)
    for ax, group in zip(axes[0], order, strict=True):
        classes, counts = matrices[group]
        rates = 100 * counts / counts.sum(axis=1, keepdims=True).clip(min=1)
        image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=100)
        for (i, j), value in np.ndenumerate(rates):
            if value >= 0.5:
                ax.text(
                    j,
                    i,
                    f"{value:.0f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > 60 else "black",
                )
        ticks = range(len(classes))
        ax.set_xticks(ticks, classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(ticks, classes, fontsize=8)
        ax.set(xlabel="predicted class", ylabel="true class", title=group)
        ax.grid(False)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="% of the true class")
    fig.suptitle("Confusion matrices of the final models (test set, all seeds pooled)")
    fig.tight_layout()
    return fig


def loss_curves(epochs: pd.DataFrame, order: list[str]) -> Figure:
    """Train versus test loss per epoch, one panel per group (mean over seeds)."""
    fig, axes = plt.subplots(
        1, len(order), figsize=(4.4 * len(order), 3.8), squeeze=False, sharey=True
    )
    for ax, group in zip(axes[0], order, strict=True):
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
        ax.legend(loc="upper right")
    axes[0][0].set_ylabel("cross-entropy loss (mean per image)")
    fig.suptitle("Train and test loss per epoch (mean over seeds; band: min to max)")
    fig.tight_layout()
    return fig


def save(fig: Figure, out: Path, name: str) -> list[Path]:
    """Write fig as out/name.png and out/name.pdf; return the paths."""
    paths = [out / f"{name}.png", out / f"{name}.pdf"]
    for path in paths:
        fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return paths
