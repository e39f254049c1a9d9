"""Where a figure's panels go: figures of n panels in rows, one row side by side, and room
kept for a title or a legend below.

Figures are made without pyplot: no window, no backend to choose, nothing global to
close; saving picks its writer by the file's format.
"""

from __future__ import annotations

import math

from matplotlib.axes import Axes
from matplotlib.figure import Figure

# Beyond this many groups, side-by-side panels become too narrow to read: figures wrap their
# panels into rows, or switch to one compact plot.
WIDE = 4


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kwargs):
    """A new figure and its axes, as pyplot.subplots makes them."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def grid_shape(n: int, most: int = WIDE) -> tuple[int, int]:
    """(rows, columns) for n panels, at most `most` to a row: of the column counts from a
    square arrangement up to most, the one that leaves the fewest places empty (six panels:
    2 x 3, not 2 x 4 with two empty), the wider on a tie."""
    if n <= most:
        return 1, max(n, 1)
    choices = range(min(math.ceil(math.sqrt(n)), most), most + 1)
    columns = min(choices, key=lambda c: (-(-n // c) * c - n, -c))
    return -(-n // columns), columns


def panels(
    n: int, width: float, height: float, ncols: int = WIDE, sharex=False, sharey=False
) -> tuple[Figure, list[Axes]]:
    """A figure of n panels in rows of at most ncols (grid_shape), every panel drawn: a
    last row that is not full is centred under the others, never padded with empty panels.
    sharex, sharey: True to give every panel the first one's scale."""
    nrows, ncols = grid_shape(n, ncols)
    fig = Figure(figsize=(width * ncols, height * nrows))
    # Two grid columns per panel, so that a short last row can start half a panel in.
    spec = fig.add_gridspec(nrows, 2 * ncols)
    axes: list[Axes] = []
    for i in range(n):
        row, column = divmod(i, ncols)
        in_row = min(ncols, n - row * ncols)
        start = 2 * column + (ncols - in_row)
        first = axes[0] if axes else None
        axes.append(
            fig.add_subplot(
                spec[row, start : start + 2],
                sharex=first if sharex else None,
                sharey=first if sharey else None,
            )
        )
    return fig, axes


def row_starts(n: int, ncols: int = WIDE) -> list[int]:
    """Indices of the panels that begin a row, as panels(n, ..., ncols) lays them out
    (where a row's y label goes)."""
    return list(range(0, n, grid_shape(n, ncols)[1]))


def last_row(n: int, ncols: int = WIDE) -> list[int]:
    """Indices of the panels of the last row (where the x labels go)."""
    return list(range(row_starts(n, ncols)[-1], n))


def side_by_side(n: int, width: float, height: float, extra: float = 0.0, columns: int = WIDE):
    """n panels in one row (extra inches for the labels), wrapped into rows of columns
    panels beyond that."""
    if n <= columns:
        fig, axes = subplots(1, n, figsize=(width * n + extra, height), squeeze=False)
        return fig, list(axes[0])
    return panels(n, width, height, ncols=columns)


def row_count(n: int, columns: int = WIDE) -> int:
    """How many rows n panels take, at most columns to a row."""
    return grid_shape(n, columns)[0]


def title_room(fig: Figure) -> tuple[float, float, float, float]:
    """tight_layout's rect: in a figure of many rows (a grid of three datasets) the title
    runs into the first row's panel titles unless a strip is kept for it; figures of a
    few rows are laid out as they always were."""
    tall = 12  # inches: about three rows of panels
    if fig.get_figheight() <= tall:
        return (0, 0, 1, 1)
    return (0, 0, 1, 1 - 0.45 / fig.get_figheight())


def legend_entries(axes) -> dict:
    """label -> handle over every panel, each label once (the first panel's handle): one
    figure-wide legend for panels that draw the same kinds of marks."""
    entries: dict = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    return entries
