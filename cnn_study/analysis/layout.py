"""Where a figure's panels go: figures of n panels in rows, one row side by side, and room
kept for a title or a legend below.

Figures are made without pyplot: no window, no backend to choose, nothing global to
close; saving picks its writer by the file's format.
"""

from __future__ import annotations

from matplotlib.figure import Figure

# Beyond this many groups, side-by-side panels become too narrow to read: figures wrap their
# panels into rows, or switch to one compact plot.
WIDE = 4


def subplots(nrows: int = 1, ncols: int = 1, *, figsize: tuple[float, float], **kwargs):
    """A new figure and its axes, as pyplot.subplots makes them."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def panels(n: int, width: float, height: float, ncols: int = WIDE, **kwargs):
    """A figure of n panels in rows of at most ncols; panels left over are hidden."""
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    fig, axes = subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False, **kwargs
    )
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def side_by_side(n: int, width: float, height: float, extra: float = 0.0, columns: int = WIDE):
    """n panels in one row (extra inches for the labels), wrapped into rows of columns
    panels beyond that."""
    if n <= columns:
        fig, axes = subplots(1, n, figsize=(width * n + extra, height), squeeze=False)
        return fig, list(axes[0])
    return panels(n, width, height, ncols=columns)


def row_count(n: int, columns: int = WIDE) -> int:
    """How many rows n panels take, columns to a row."""
    return -(-n // columns)


def title_room(fig: Figure) -> tuple[float, float, float, float]:
    """tight_layout's rect: in a figure of many rows (a grid of three datasets) the title
    runs into the first row's panel titles unless a strip is kept for it; figures of a
    few rows are laid out as they always were."""
    tall = 12  # inches: about three rows of panels
    if fig.get_figheight() <= tall:
        return (0, 0, 1, 1)
    return (0, 0, 1, 1 - 0.45 / fig.get_figheight())
