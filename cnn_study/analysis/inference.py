"""The statistics of the reports: Student t intervals of a mean, Welch's interval and test
of a difference of two means, Welch-Satterthwaite contrasts of several means, and Holm's
adjustment of a family of p-values. Intervals are two-sided at CONFIDENCE.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
# The level a p-value is judged significant at: the one that matches the intervals, so that
# "significant" and "the interval excludes zero" agree for a single test.
ALPHA = round(1 - CONFIDENCE, 12)  # 0.05, not 0.050000000000000044
LEVEL = f"{CONFIDENCE:.0%}"  # the level of every interval, as headers, text and figures say it


def significant(p: float) -> bool:
    """Is p (adjusted where the report adjusts it) below ALPHA? NaN (untested): no."""
    return bool(p < ALPHA)


def mean_interval(values: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, sample std, and the t interval of the mean at CONFIDENCE (NaN where n < 2)."""
    n = len(values)
    mean = float(np.mean(values)) if n else math.nan
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    std = float(np.std(values, ddof=1))
    if std == 0:  # seeds that all agree: the interval is the mean (scipy's t would be NaN)
        return mean, std, mean, mean
    with warnings.catch_warnings():
        # seeds a rounding error apart: scipy warns of precision loss in its t statistic,
        # which the interval (mean and standard error) does not use
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = stats.ttest_1samp(values, 0.0).confidence_interval(CONFIDENCE)
    return mean, std, float(interval.low), float(interval.high)


def welch(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Difference of means a - b with Welch's interval (at CONFIDENCE) and two-sided
    t-test, as scipy's ttest_ind gives them."""
    diff = float(np.mean(a) - np.mean(b))
    untested = {"welch_t": math.nan, "welch_df": math.nan, "p_value": math.nan}
    if len(a) < 2 or len(b) < 2:
        return {"gap": diff, "gap_ci_low": math.nan, "gap_ci_high": math.nan, **untested}
    if np.var(a) == 0 and np.var(b) == 0:  # identical runs within each side: no spread
        return {"gap": diff, "gap_ci_low": diff, "gap_ci_high": diff, **untested}
    with warnings.catch_warnings():
        # one side may have seeds that all agree (zero spread): scipy warns of precision
        # loss there, though the test is well defined while the other side varies
        warnings.simplefilter("ignore", RuntimeWarning)
        test = stats.ttest_ind(a, b, equal_var=False)
        interval = test.confidence_interval(CONFIDENCE)
    return {
        "gap": diff,
        "gap_ci_low": float(interval.low),
        "gap_ci_high": float(interval.high),
        "welch_t": float(test.statistic),
        "welch_df": float(test.df),
        "p_value": float(test.pvalue),
    }


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment: family-wise error held at the nominal level."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(len(p), math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(order) - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def contrast(samples: list[np.ndarray], weights: list[float]) -> dict[str, float]:
    """sum(w_i * mean_i) over independent samples, with a Welch-Satterthwaite interval at CONFIDENCE
    and t-test; e.g. a difference of two gaps: weights [1, -1, -1, 1]."""
    estimate = float(sum(w * np.mean(x) for w, x in zip(weights, samples, strict=True)))
    nan = {"ci_low": math.nan, "ci_high": math.nan, "t": math.nan, "df": math.nan, "p": math.nan}
    if any(len(x) < 2 for x in samples):
        return {"estimate": estimate, **nan}
    parts = [w * w * np.var(x, ddof=1) / len(x) for w, x in zip(weights, samples, strict=True)]
    se = math.sqrt(sum(parts))
    if se == 0:
        return {"estimate": estimate, **nan, "ci_low": estimate, "ci_high": estimate}
    df = sum(parts) ** 2 / sum(v * v / (len(x) - 1) for v, x in zip(parts, samples, strict=True))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, df) * se
    t = estimate / se
    return {
        "estimate": estimate,
        "ci_low": estimate - half,
        "ci_high": estimate + half,
        "t": t,
        "df": df,
        "p": float(2 * stats.t.sf(abs(t), df)),
    }


def ratio(
    numerator: tuple[list[np.ndarray], list[float]],
    denominator: tuple[list[np.ndarray], list[float]],
) -> dict[str, float]:
    """The ratio of two contrasts of independent samples (no sample in both), with Fieller's
    interval at CONFIDENCE: every ratio r for which numerator - r * denominator is not
    significantly different from zero (its Welch-Satterthwaite t-test at r). Unbounded (NaN
    limits) where the denominator is itself not clearly away from zero."""
    (a_samples, a_weights), (b_samples, b_weights) = numerator, denominator
    a = contrast(a_samples, a_weights)["estimate"]
    b = contrast(b_samples, b_weights)["estimate"]
    estimate = a / b if b else math.nan
    nan = {"estimate": estimate, "ci_low": math.nan, "ci_high": math.nan, "df": math.nan}
    if any(len(x) < 2 for x in (*a_samples, *b_samples)) or not b:
        return nan

    def parts(samples: list[np.ndarray], weights: list[float], scale: float) -> list[float]:
        pairs = zip(weights, samples, strict=True)
        return [scale * w * w * np.var(x, ddof=1) / len(x) for w, x in pairs]

    va = sum(parts(a_samples, a_weights, 1.0))
    vb = sum(parts(b_samples, b_weights, 1.0))
    # Degrees of freedom of a - r * b's variance at the estimate (Welch-Satterthwaite).
    terms = parts(a_samples, a_weights, 1.0) + parts(b_samples, b_weights, estimate**2)
    sizes = [len(x) for x in (*a_samples, *b_samples)]
    df = sum(terms) ** 2 / sum(v * v / (n - 1) for v, n in zip(terms, sizes, strict=True))
    t = stats.t.ppf(0.5 + CONFIDENCE / 2, df)
    lead = b * b - t * t * vb
    discriminant = a * a * vb + b * b * va - t * t * va * vb
    if lead <= 0 or discriminant < 0:
        return nan | {"df": df}
    half = t * math.sqrt(discriminant)
    low, high = sorted(((a * b - half) / lead, (a * b + half) / lead))
    return {"estimate": estimate, "ci_low": low, "ci_high": high, "df": df}
