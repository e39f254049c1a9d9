"""How the figures look: one matplotlib style, applied while figures are drawn and written,
never at import (importing cnn_study leaves matplotlib's settings as its user has them)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib
from matplotlib import colormaps

STYLE = {
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


@contextmanager
def figure_style() -> Iterator[None]:
    """The figures' style while drawing and saving them (both read it: fonts and spines when
    drawn, resolution and font embedding when saved); the user's settings come back after."""
    with matplotlib.rc_context(STYLE):
        yield


def colours(names: list[str]) -> dict[str, tuple]:
    """A colour per name, in order: tab10's ten, then again from the first (an eleventh
    name would otherwise take the tenth's colour)."""
    palette = colormaps["tab10"]
    return {name: palette(i % palette.N) for i, name in enumerate(names)}
