"""Figures that cannot mislead, checked on the drawn matplotlib objects (axis limits, lines,
legend entries, ticks, text positions), never on pixels: each test fails on a figure that
misleads in the way its name says."""

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.patches import Rectangle

from cnn_study.analysis import figures, layout, search_figures, searches
from cnn_study.analysis.chapter import TARGET
from tests.fakeruns import write_run

# Two panels of the same quantity whose intervals differ six-fold in width (the published
# datasets study: FashionMNIST's 0.27 points against the PNG route's 1.74).
INTERVALS = {"FashionMNIST": (88.0, 0.27), "FashionMNIST (PNG)": (88.3, 1.74)}


def _frames(intervals: dict[str, tuple[float, float]]):
    summary = pd.DataFrame(
        [
            {
                "group": g,
                "final_acc_mean": m / 100,
                "final_acc_ci_low": (m - w / 2) / 100,
                "final_acc_ci_high": (m + w / 2) / 100,
            }
            for g, (m, w) in intervals.items()
        ]
    )
    runs = pd.DataFrame(
        [
            {"group": g, "final_test_acc": (m + d * w / 4) / 100}
            for g, (m, w) in intervals.items()
            for d in (-1, 0, 1)
        ]
    )
    return summary, runs


def _span(limits) -> float:
    return abs(limits[1] - limits[0])


def _interval_height(ax) -> float:
    """The drawn length of the one error bar in ax (data units)."""
    (segments,) = [c for c in ax.collections if c.__class__.__name__ == "LineCollection"]
    (segment,) = segments.get_segments()
    return float(abs(segment[1][1] - segment[0][1]))


def _target_lines(ax, target: float = TARGET, axis: str = "y") -> list:
    """Straight lines across ax at target (in %)."""
    at = target * 100
    found = []
    for line in ax.get_lines():
        data = line.get_ydata() if axis == "y" else line.get_xdata()
        if len(data) == 2 and np.allclose(np.asarray(data, float), at):
            found.append(line)
    return found


def _integer_ticks(ax) -> bool:
    low, high = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if low <= t <= high]
    return len(ticks) > 1 and all(float(t).is_integer() for t in ticks)


# --- final accuracy: one span per figure -------------------------------------------------


def test_final_accuracy_panels_share_one_span_so_interval_lengths_compare():
    summary, runs = _frames(INTERVALS)
    fig = figures.final_accuracy(summary, runs, list(INTERVALS), target=None)
    axes = fig.axes
    assert _span(axes[0].get_ylim()) == pytest.approx(_span(axes[1].get_ylim()))
    heights = [_interval_height(ax) for ax in axes]
    assert heights[1] / heights[0] == pytest.approx(1.74 / 0.27)
    assert "spans the same number of points" in figures.final_accuracy_caption("dataset")


def test_final_accuracy_dots_share_one_span_per_dataset():
    summary = pd.DataFrame(
        [
            {"cell": c, "dataset_label": d, "group": f"{d}, {c}", "final_acc_mean": m / 100}
            | {"final_acc_ci_low": (m - w) / 100, "final_acc_ci_high": (m + w) / 100}
            for c in ("a", "b")
            for d, m, w in (("MNIST", 99.0, 0.1), ("CIFAR-10", 60.0, 3.0))
        ]
    )
    runs = pd.DataFrame(
        [
            {"group": g, "final_test_acc": v}
            for g, v in zip(summary["group"], summary["final_acc_mean"], strict=True)
        ]
    )
    fig = figures.final_accuracy_dots(summary, runs)
    spans = {round(_span(ax.get_xlim()), 9) for ax in fig.axes}
    assert len(spans) == 1 and max(ax.get_xlim()[1] for ax in fig.axes) <= 100


def test_the_target_line_never_crosses_a_label_and_is_drawn_where_it_falls():
    summary, runs = _frames({"MNIST": (99.01, 0.2), "FashionMNIST": (88.7, 0.3)})
    fig = figures.final_accuracy(summary, runs, ["MNIST", "FashionMNIST"])
    mnist, fashion = fig.axes
    assert len(_target_lines(mnist)) == 1 and not _target_lines(fashion)
    assert "99.01%" in mnist.get_xticklabels()[0].get_text()  # under the panel
    _no_text_on_line(fig, mnist)


def _no_text_on_line(fig, ax):
    """No text inside ax straddles its target line (display coordinates)."""
    fig.draw_without_rendering()
    (line,) = _target_lines(ax)
    y = ax.transData.transform((0, line.get_ydata()[0]))[1]
    for text in ax.texts:
        box = text.get_window_extent()
        assert not box.y0 <= y <= box.y1, f"the target line runs through {text.get_text()!r}"


# --- per-class accuracy: no bars from an arbitrary edge, labels clear of whiskers ---------


def _per_class(groups: dict[str, float]) -> pd.DataFrame:
    rows = []
    for group, low in groups.items():
        for i in range(5):
            mean = low + (100 - low) * i / 5
            rows.append(
                {"group": group, "class": f"c{i}", "acc_mean": mean / 100}
                | {"acc_min": (mean - 2) / 100, "acc_max": min(100, mean + 2) / 100}
            )
    return pd.DataFrame(rows)


def test_per_class_accuracy_is_points_on_one_scale_labelled_clear_of_the_whiskers():
    groups = {"MNIST": 97.0, "FashionMNIST": 64.0, "FashionMNIST (PNG)": 70.0}
    fig = figures.per_class_accuracy(_per_class(groups), list(groups), target=None)
    axes = fig.axes
    for ax in axes:
        bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_width() > 0]
        # a bar must start at zero, on an axis that shows zero; points need neither
        assert all(b.get_x() == 0 for b in bars) and (not bars or ax.get_xlim()[0] <= 0)
        right = ax.get_xlim()[1]
        for text in ax.texts:  # the means: right of the axes, where no whisker reaches
            assert (
                text.get_transform().transform(text.get_position())[0]
                > ax.transAxes.transform((1, 0))[0]
            )
        whisker_ends = [s[:, 0].max() for c in ax.collections for s in c.get_segments()]
        assert max(whisker_ends) <= right
    assert len({ax.get_xlim() for ax in axes}) == 1  # one scale: one baseline for every route
    entries = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert entries == list(groups)  # one entry per route, in its own colour


def test_per_class_accuracy_draws_the_target_only_when_asked():
    groups = {"MNIST": 97.0, "FashionMNIST": 80.0}
    with_target = figures.per_class_accuracy(_per_class(groups), list(groups))
    without = figures.per_class_accuracy(_per_class(groups), list(groups), target=None)
    assert all(_target_lines(ax, axis="x") for ax in with_target.axes)
    assert not any(_target_lines(ax, axis="x") for ax in without.axes)


# --- confusion matrices: one rule for zeros, no empty panels -----------------------------


def test_confusion_matrices_write_every_cell_by_one_rule_and_fill_their_grid():
    # rates of 0.3%, 0.5%, 0.7% and 2% off the diagonal: 0.3 and 0.5 read "0", so blank
    counts = np.array([[990, 3, 7], [5, 975, 20], [0, 0, 1000]])
    order = [f"g{i}" for i in range(6)]
    matrices = {g: (["a", "b", "c"], counts) for g in order}
    fig = figures.confusion_matrices(matrices, order)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 6 and all(ax.get_visible() for ax in fig.axes)
    assert len(fig.axes) == 6 + 1  # the panels and one colour bar: no empty panel
    for ax in panels:
        written = {
            (round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts
        }
        assert "0" not in written.values()
        rates = 100 * counts / counts.sum(axis=1, keepdims=True)
        expected = {(i, j) for (i, j), v in np.ndenumerate(rates) if f"{v:.0f}" != "0"}
        assert set(written) == expected
        assert min(t.get_fontsize() for t in ax.texts) >= 8
    assert layout.grid_shape(6) == (2, 3) and layout.grid_shape(8) == (2, 4)


# --- curves: whole epochs ----------------------------------------------------------------


def _epochs(groups: list[str], epochs: int = 5) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"group": g, "run": f"{g}{s}", "epoch": e, "test_acc": 0.9 + 0.01 * e}
            | {"train_loss": 1 / e, "test_loss": 1.1 / e}
            for g in groups
            for s in range(2)
            for e in range(1, epochs + 1)
        ]
    )


@pytest.mark.parametrize("epochs", [5, 16])
def test_loss_and_learning_curves_tick_whole_epochs(epochs):
    data = _epochs(["MNIST", "FashionMNIST"], epochs)
    drawn = [
        figures.loss_curves(data, ["MNIST", "FashionMNIST"]),
        figures.learning_curves(data, ["MNIST", "FashionMNIST"]),
        figures.learning_curves(data, ["MNIST", "FashionMNIST"], target=None),
    ]
    for fig in drawn:
        assert all(_integer_ticks(ax) for ax in fig.axes)


@pytest.mark.parametrize("sharey", [True, False])
def test_loss_panels_on_their_own_scales_say_so(sharey):
    data = _epochs(["MNIST", "CIFAR-10"])
    cifar = data["group"] == "CIFAR-10"
    data.loc[cifar, ["train_loss", "test_loss"]] += 1.0  # CIFAR-10's losses far above MNIST's
    fig = figures.loss_curves(data, ["MNIST", "CIFAR-10"], sharey=sharey)
    same_scale = fig.axes[0].get_ylim() == fig.axes[1].get_ylim()
    assert same_scale == sharey
    assert ("each panel on its own scale" in fig.get_suptitle()) == (not same_scale)


# --- the grid's per-class heatmap: one colour, one accuracy ------------------------------


def test_per_class_heatmap_gives_one_colour_one_accuracy_in_every_panel():
    datasets = {"MNIST": 0.99, "CIFAR-10": 0.60}  # far apart: a panel's own scale would differ
    cells = ["model=cnn", "model=mlp"]
    summary = pd.DataFrame(
        [
            {"cell": c, "dataset_label": label, "group": f"{label}, {c}"}
            for label in datasets
            for c in cells
        ]
    )
    per_class = pd.DataFrame(
        [
            {"group": f"{label}, {c}", "class": str(k), "acc_mean": acc - 0.01 * k - 0.02 * i}
            for label, acc in datasets.items()
            for i, c in enumerate(cells)
            for k in range(10)
        ]
    )
    fig = figures.per_class_heatmap(per_class, summary)
    heatmaps = [ax for ax in fig.axes if ax.images and ax.get_title() in datasets]
    assert len(heatmaps) == 2
    scales = {ax.images[0].get_clim() for ax in heatmaps}
    assert len(scales) == 1  # MNIST's 99 and CIFAR-10's 99 are the same colour
    low, high = scales.pop()
    assert low <= 100 * per_class["acc_mean"].min() and high == 100
    assert len(fig.axes) == len(heatmaps) + 1  # one colour bar for all of them
    sizes = [
        t.get_fontsize()
        for ax in heatmaps
        for t in [*ax.texts, *ax.get_xticklabels(), *ax.get_yticklabels()]
    ]
    assert sizes and min(sizes) >= 8


# --- the chapter's target: only for the chapter's datasets -------------------------------


def _grid(datasets: dict[str, str]):
    cells = ["model=cnn, optimizer=sgd", "model=mlp, optimizer=sgd", "model=cnn, optimizer=adam"]
    summary = pd.DataFrame(
        [
            {"cell": c, "dataset": d, "dataset_label": label, "group": f"{label}, {c}"}
            for c in cells
            for d, label in datasets.items()
        ]
    )
    return summary, _epochs(list(summary["group"]), 6)


@pytest.mark.parametrize(
    ("datasets", "drawn"),
    [
        ({"mnist": "MNIST", "fashion": "FashionMNIST"}, True),
        ({"mnist": "MNIST", "kmnist": "KMNIST"}, False),
        ({"cifar10": "CIFAR-10"}, False),
    ],
)
def test_grid_learning_curves_draw_and_caption_the_target_only_where_the_study_has_it(
    datasets, drawn
):
    summary, epochs = _grid(datasets)
    fig = figures.learning_curves_grid(epochs, summary)
    assert all(bool(_target_lines(ax)) == drawn for ax in fig.axes)
    entries = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    label = figures.target_label(TARGET)
    assert (label in entries) == drawn
    assert (label in figures.learning_curves_grid_caption(summary)) == drawn
    assert all(_integer_ticks(ax) for ax in fig.axes)
    assert len(fig.axes) == 3 and all(ax.get_visible() for ax in fig.axes)


def test_the_interaction_caption_names_the_axes_it_was_drawn_with():
    gaps = pd.DataFrame({"reference": ["chapter's cell", ""]})
    caption = figures.interaction_caption(gaps, "optimizer", "model")
    assert "per optimizer" in caption and "one panel per model" in caption
    assert "the chapter's cell's gap" in caption
    alone = figures.interaction_caption(gaps.iloc[1:], "model", None)
    assert "one panel per" not in alone and "chapter's cell" not in alone


# --- recipe cells ------------------------------------------------------------------------


def _recipe_frames(finals: dict[tuple[str, str], list[float]]):
    runs = pd.DataFrame(
        [
            {"recipe": r, "dataset.name": d, "final_test_acc": v}
            for (r, d), values in finals.items()
            for v in values
        ]
    )
    rows = []
    for (r, d), values in finals.items():
        m, w = np.mean(values), np.ptp(values)
        rows.append(
            {"recipe": r, "dataset": d, "final_acc_mean": m}
            | {"final_acc_ci_low": m - w, "final_acc_ci_high": m + w}
        )
    return pd.DataFrame(rows), runs


def test_recipe_cells_share_a_span_and_the_target_line_strikes_no_label():
    finals = {
        ("chapter", "mnist"): [0.9898, 0.9905, 0.9900],  # mean 99.01%: on the line
        ("tuned", "mnist"): [0.9915, 0.9921, 0.9912],
        ("chapter", "fashion"): [0.870, 0.885, 0.875],
        ("tuned", "fashion"): [0.900, 0.905, 0.890],
    }
    summary, runs = _recipe_frames(finals)
    fig = search_figures.recipe_cells(
        summary, runs, ["mnist", "fashion"], ["chapter", "tuned"], {"mnist": "MNIST"}
    )
    mnist, fashion = fig.axes
    assert _span(mnist.get_ylim()) == pytest.approx(_span(fashion.get_ylim()))
    assert mnist.get_ylim()[1] <= 100
    assert "99.01%" in mnist.get_xticklabels()[0].get_text()
    _no_text_on_line(fig, mnist)


def test_recipe_cells_of_other_datasets_have_no_target():
    finals = {(r, d): [0.94, 0.95] for r in ("chapter", "tuned") for d in ("kmnist", "cifar10")}
    summary, runs = _recipe_frames(finals)
    datasets = ["kmnist", "cifar10"]
    fig = search_figures.recipe_cells(summary, runs, datasets, ["chapter", "tuned"], {})
    assert not any(_target_lines(ax) for ax in fig.axes)
    assert not any(f"{TARGET:.0%}" in t.get_text() for ax in fig.axes for t in ax.texts)
    assert f"{TARGET:.0%}" not in search_figures.recipe_cells_caption(datasets)
    assert figures.target_label(TARGET) in search_figures.recipe_cells_caption(["mnist", "fashion"])


# --- searches: "diverged" only for a loss that is not finite -----------------------------


def _trial_run(root, number: int, value: float, loss: float):
    run = write_run(root, "fashion", number, [value - 0.01, value])
    lines = run.metrics_file.read_text().splitlines()
    header = lines[0].split(",")
    last = lines[-1].split(",")
    last[header.index("train_loss")] = str(loss)
    run.metrics_file.write_text("\n".join([*lines[:-1], ",".join(last)]) + "\n")
    return run


def test_only_a_trial_whose_loss_is_not_finite_is_diverged(tmp_path):
    slow = _trial_run(tmp_path, 0, 0.30, 2.1)  # lr 1e-4: far below the rest, but learning
    blown = _trial_run(tmp_path, 1, 0.10, math.nan)
    fine = [_trial_run(tmp_path, n, v, 0.3) for n, v in ((2, 0.88), (3, 0.89), (4, 0.90))]
    assert not searches.diverged(str(slow.path)) and searches.diverged(str(blown.path))
    assert not searches.diverged(str(tmp_path / "missing"))
    trials = pd.DataFrame(
        {
            "number": range(5),
            "state": "complete",
            "value": [0.30, 0.10, 0.88, 0.89, 0.90],
            "optimizer.lr": [1e-4, 0.5, 0.01, 0.02, 0.03],
            "diverged": [searches.diverged(str(r.path)) for r in (slow, blown, *fine)],
        }
    )
    fig = search_figures.search_slices({"FashionMNIST": trials}, ["optimizer.lr"])
    (ax,) = fig.axes
    marks = {c.get_paths()[0].vertices.tobytes(): c for c in ax.collections}
    assert len(marks) >= 3  # dots, a triangle (slow) and a cross (diverged) look different
    crosses = [c for c in ax.collections if len(c.get_offsets()) and c.get_offsets()[0][0] == 0.5]
    assert len(crosses) == 1
    slow_mark = [
        c for c in ax.collections if len(c.get_offsets()) and c.get_offsets()[0][0] == 1e-4
    ]
    assert slow_mark and slow_mark[0] is not crosses[0]
    title = fig._suptitle.get_text()
    assert "diverged" in title and "below the axis" in title
    only_slow = search_figures.search_slices({"F": trials.iloc[[0, 2, 3, 4]]}, ["optimizer.lr"])
    assert "diverged" not in only_slow._suptitle.get_text()


def test_the_search_history_legend_names_only_what_is_drawn():
    trials = pd.DataFrame(
        {"number": range(4), "state": "complete", "value": [0.97, 0.98, 0.985, 0.99]}
    )
    fig = search_figures.search_history({"MNIST": trials})
    entries = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert entries == ["one trial", "best so far"]
    assert "dotted" not in fig._suptitle.get_text()
    assert _integer_ticks(fig.axes[0])
    interrupted = pd.concat([trials, pd.DataFrame({"number": [4], "state": ["interrupted"]})])
    fig = search_figures.search_history({"MNIST": interrupted})
    entries = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert any("dotted" in e for e in entries)


def test_a_pruned_trial_is_drawn_apart_and_never_counts_as_the_best_so_far():
    trials = pd.DataFrame(
        {
            "number": range(4),
            "state": ["complete", "pruned", "complete", "pruned"],
            "value": [0.90, 0.95, 0.91, 0.80],  # trial 1 stopped early, above the best
        }
    )
    fig = search_figures.search_history({"FashionMNIST": trials})
    (ax,) = fig.axes
    entries = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert any(e.startswith("pruned") for e in entries)
    grey = [c for c in ax.collections if len(c.get_facecolor()) == 0]  # open circles
    assert len(grey) == 1 and sorted(grey[0].get_offsets()[:, 0]) == [1, 3]
    (best,) = [line for line in ax.lines if line.get_label() == "best so far"]
    assert max(best.get_ydata()) == pytest.approx(91.0)  # the pruned 95% is not a best
    complete_only = search_figures.search_history({"F": trials[trials["state"] == "complete"]})
    entries = [t.get_text() for legend in complete_only.legends for t in legend.get_texts()]
    assert not any(e.startswith("pruned") for e in entries)
