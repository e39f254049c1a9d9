"""The two gap tables the reports show, and the p-value their words are judged by.

A gap table (the chapter's, the datasets'): each dataset's gap to the reference with
Welch's interval and test. A gap-difference table (the grid's, the tuned study's): each
cell's gap, and that gap against the chapter's cell's gap of the same two datasets.
Wherever a table shows Holm-adjusted p, the report's "significant", "closes", "harder"
are judged by that same column (judged_p), never by the unadjusted p or interval.
"""

from __future__ import annotations

import math

import pandas as pd

from cnn_study.analysis.kinds.formats import LEVEL, intervals, p_value, points, signed, statistic


def judged_p(gaps: pd.DataFrame | pd.Series) -> pd.Series | float:
    """The p a gap is judged by: Holm-adjusted where the table adjusts (several gaps), the
    one test's own p where there is a single gap (nothing to adjust over)."""
    return gaps["p_holm"] if "p_holm" in gaps else gaps["p_value"]


def judged_by(gaps: pd.DataFrame | pd.Series) -> str:
    """judged_p's name, as the sentences quote it."""
    return "Holm-adjusted p" if "p_holm" in gaps else "Welch's t-test p"


def several_pairs(gaps: pd.DataFrame) -> bool:
    """More than two datasets: each other dataset has its own gap to the reference."""
    return gaps["b"].nunique() > 1


def _seeds(gaps: pd.DataFrame) -> list[str]:
    return [f"{a} vs {b}" for a, b in zip(gaps["seeds_a"], gaps["seeds_b"], strict=True)]


def gap_table(gaps: pd.DataFrame) -> pd.DataFrame:
    """One row per gap (reference - other): Welch's interval and test, and p adjusted with
    Holm's method over the gaps where there are several."""
    table = pd.DataFrame(
        {
            "comparison": gaps["comparison"],
            "seeds": _seeds(gaps),
            "gap (points)": gaps["gap"].map(points),
            f"{LEVEL} CI (Welch)": intervals(gaps["gap_ci_low"], gaps["gap_ci_high"]),
            "Welch t": gaps["welch_t"].map(statistic),
            "df": gaps["welch_df"].map(statistic),
            "p (two-sided)": gaps["p_value"].map(p_value),
        }
    )
    if "p_holm" in gaps:
        table["p (Holm)"] = gaps["p_holm"].map(p_value)
    return table


def _column(gaps: pd.DataFrame, name: str, fill=math.nan) -> pd.Series:
    """A column that a study still running may lack (no chapter's cell yet)."""
    return gaps[name] if name in gaps else pd.Series([fill] * len(gaps), index=gaps.index)


def gap_difference_table(gaps: pd.DataFrame, factors: list[str]) -> pd.DataFrame:
    """Each cell's gap, and how much it differs from the chapter's cell's gap (of the same
    two datasets, where there are more than two)."""
    if gaps.empty:
        return pd.DataFrame()
    pair = (
        {"gap of": [f"{a} - {b}" for a, b in zip(gaps["a_label"], gaps["b_label"], strict=True)]}
        if several_pairs(gaps)
        else {}
    )
    reference = _column(gaps, "reference", "") != ""
    return pd.DataFrame(
        {
            **pair,
            **{f: gaps[f] for f in factors},
            "seeds": _seeds(gaps),
            "gap (points)": gaps["gap"].map(points),
            f"{LEVEL} CI (Welch)": intervals(gaps["gap_ci_low"], gaps["gap_ci_high"]),
            judged_by(gaps): judged_p(gaps).map(p_value),
            "gap - chapter's gap": [
                "reference" if ref else signed(d)
                for d, ref in zip(_column(gaps, "gap_minus_chapter"), reference, strict=True)
            ],
            f"{LEVEL} CI of the difference": [
                "" if ref else text
                for text, ref in zip(
                    intervals(_column(gaps, "diff_ci_low"), _column(gaps, "diff_ci_high")),
                    reference,
                    strict=True,
                )
            ],
            "p (Holm) of the difference": [
                "" if ref else p_value(p)
                for p, ref in zip(_column(gaps, "diff_p_holm"), reference, strict=True)
            ],
        }
    )
