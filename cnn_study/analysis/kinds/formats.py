"""Numbers as every report writes them: accuracies in %, differences and spreads in
percentage points, intervals, p-values, seeds, and the confidence level and target as
labels formatted from the one place that defines each."""

from __future__ import annotations

import math
from collections.abc import Iterable

# The level and the target as every report says them, from where each is defined.
from cnn_study.analysis.chapter import TARGET_LABEL as TARGET_LABEL
from cnn_study.analysis.inference import ALPHA
from cnn_study.analysis.inference import LEVEL as LEVEL

ALPHA_LABEL = f"{ALPHA:.2g}"  # "0.05": the level a p-value is judged at


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def pct(value: float | None, digits: int = 2) -> str:
    """An accuracy: 0.9905 -> 99.05%."""
    return "n/a" if _missing(value) else f"{100 * value:.{digits}f}%"


def points(value: float | None, digits: int = 2) -> str:
    """A difference or a spread, in percentage points: 0.105 -> 10.50."""
    return "n/a" if _missing(value) else f"{100 * value:.{digits}f}"


def signed(value: float) -> str:
    """A difference in points with its sign: +0.30, -1.20."""
    return "n/a" if _missing(value) else f"{'+' if value >= 0 else '-'}{abs(100 * value):.2f}"


def p_value(value: float) -> str:
    if _missing(value):
        return "n/a"
    return f"{value:.1e}" if value < 1e-3 else f"{value:.3f}"


def statistic(value: float) -> str:
    """A t statistic or degrees of freedom."""
    return "n/a" if _missing(value) else f"{value:.1f}"


def interval(low: float, high: float, show=points, missing: str = "n/a") -> str:
    """An interval as "low to high", each end shown by show (points or pct)."""
    return missing if _missing(low) else f"{show(low)} to {show(high)}"


def intervals(lows: Iterable[float], highs: Iterable[float], show=points, missing="n/a"):
    """interval() of each pair, for a table column."""
    return [interval(lo, hi, show, missing) for lo, hi in zip(lows, highs, strict=True)]


def seeds(values: Iterable) -> str:
    """Seeds in order: 0, 1, 2."""
    return ", ".join(map(str, sorted(values)))
