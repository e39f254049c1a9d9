"""The report: one list of blocks, rendered as Markdown; the HTML is that very Markdown
rendered by markdown-it-py, with every figure embedded, so the two cannot say different
things."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
from markdown_it import MarkdownIt

from cnn_study.analysis.stats import CONFIDENCE, TARGET


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str  # Markdown inline syntax: **bold**, `code` (converted for HTML)


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Table:
    frame: pd.DataFrame  # already formatted as strings


@dataclass(frozen=True)
class Figure:
    path: Path  # the PNG, relative to the report
    caption: str


Block = Heading | Paragraph | Code | Table | Figure


def pct(value: float, digits: int = 2) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{100 * value:.{digits}f}%"
    )


def points(value: float, digits: int = 2) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.{digits}f}"


def p_value(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.1e}" if value < 1e-3 else f"{value:.3f}"


def markdown_table(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = [
        "| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *rows])


def to_markdown(blocks: list[Block]) -> str:
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Code):
            parts.append(f"```\n{block.text}\n```")
        elif isinstance(block, Table):
            parts.append(markdown_table(block.frame))
        elif isinstance(block, Figure):
            parts.append(f"![{block.caption}]({block.path.as_posix()})\n\n*{block.caption}*")
    return "\n\n".join(parts) + "\n"


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; }
figure { margin: 1.5rem 0 0.5rem; }
figure + p { font-style: italic; font-size: 0.9rem; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; }
"""


def _only_an_image(token) -> bool:
    return token.type == "inline" and [c.type for c in token.children or []] == ["image"]


def _paragraph_open(self, tokens, idx, options, env) -> str:
    """A paragraph that holds only an image is a figure (its caption follows it)."""
    if _only_an_image(tokens[idx + 1]):
        return "<figure>"
    return self.renderToken(tokens, idx, options, env)


def _paragraph_close(self, tokens, idx, options, env) -> str:
    if _only_an_image(tokens[idx - 1]):
        return "</figure>\n"
    return self.renderToken(tokens, idx, options, env)


def _embedded_image(self, tokens, idx, options, env) -> str:
    """The PNG itself, as a data URI: the HTML file is readable without the other files."""
    token = tokens[idx]
    png = (env["base"] / unquote(str(token.attrGet("src")))).read_bytes()
    token.attrSet("src", "data:image/png;base64," + base64.b64encode(png).decode())
    return self.image(tokens, idx, options, env)


def _renderer() -> MarkdownIt:
    # Raw HTML off: text read from run folders (errors, paths) is shown, never run as markup.
    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    md.add_render_rule("paragraph_open", _paragraph_open)
    md.add_render_rule("paragraph_close", _paragraph_close)
    md.add_render_rule("image", _embedded_image)
    return md


def to_html(markdown: str, base: Path, title: str) -> str:
    """The report's Markdown as one HTML file; figures are read from base and embedded."""
    body = _renderer().render(markdown, {"base": base})
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + body
        + "</body></html>\n"
    )


def headline_table(summary: pd.DataFrame) -> pd.DataFrame:
    level = f"{CONFIDENCE:.0%}"
    return pd.DataFrame(
        {
            "group": summary["group"],
            "seeds": summary["seeds"],
            "epochs": summary["epochs"],
            "final test acc, mean": summary["final_acc_mean"].map(pct),
            "std": summary["final_acc_std"].map(lambda v: pct(v, 3)),
            f"{level} CI": [
                f"{pct(lo)} to {pct(hi)}" if not math.isnan(lo) else "n/a (1 seed)"
                for lo, hi in zip(
                    summary["final_acc_ci_low"], summary["final_acc_ci_high"], strict=True
                )
            ],
            "min to max": [
                f"{pct(lo)} to {pct(hi)}"
                for lo, hi in zip(summary["final_acc_min"], summary["final_acc_max"], strict=True)
            ],
            "best epoch acc, mean": summary["best_acc_mean"].map(pct),
            "best epoch (median)": summary["best_epoch_median"].map(lambda v: f"{v:g}"),
            "mean curve first >= 99%": summary["first_epoch_mean_reaches_99"].map(
                lambda v: "never" if math.isnan(v) else f"epoch {v:g}"
            ),
            "train time per run": summary["train_seconds_mean"].map(lambda s: f"{s / 60:.1f} min"),
        }
    )


def gap_table(gaps: pd.DataFrame) -> pd.DataFrame:
    level = f"{CONFIDENCE:.0%}"
    return pd.DataFrame(
        {
            "comparison": gaps["comparison"],
            "seeds": [f"{a} vs {b}" for a, b in zip(gaps["seeds_a"], gaps["seeds_b"], strict=True)],
            "gap (points)": gaps["gap"].map(points),
            f"{level} CI (Welch)": [
                f"{points(lo)} to {points(hi)}" if not math.isnan(lo) else "n/a"
                for lo, hi in zip(gaps["gap_ci_low"], gaps["gap_ci_high"], strict=True)
            ],
            "Welch t": gaps["welch_t"].map(lambda v: "n/a" if math.isnan(v) else f"{v:.1f}"),
            "df": gaps["welch_df"].map(lambda v: "n/a" if math.isnan(v) else f"{v:.1f}"),
            "p (two-sided)": gaps["p_value"].map(p_value),
        }
    )


def per_class_table(per_class: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """Groups side by side, class by class (class i of each group's dataset on row i)."""
    columns = {}
    for group in order:
        block = per_class[per_class["group"] == group].reset_index(drop=True)
        columns[f"{group} class"] = block["class"]
        columns[f"{group} accuracy"] = [
            f"{pct(m, 1)} ({pct(lo, 1)} to {pct(hi, 1)})"
            for m, lo, hi in zip(block["acc_mean"], block["acc_min"], block["acc_max"], strict=True)
        ]
    return pd.DataFrame(columns).fillna("")


def _claim(row) -> str:
    """Does a group reach the target? Judged by its mean and how sure the mean is."""
    mean, low, high = row.final_acc_mean, row.final_acc_ci_low, row.final_acc_ci_high
    short = f"{points(TARGET - mean)} points short of 99%"
    if math.isnan(low):
        return (
            "**reaches 99%** (one seed: no interval)"
            if mean >= TARGET
            else f"**{short}** (one seed: no interval)"
        )
    if low >= TARGET:
        return "**reaches 99%**: its whole interval is at or above 99%"
    if mean >= TARGET:
        return "**reaches 99% on average, only just**: its interval reaches below 99%"
    if high >= TARGET:
        return (
            f"**about 99%**: the mean is {short}, and its interval includes 99%, so the "
            "seeds cannot tell it apart from 99%"
        )
    if row.seeds_ever_reaching_99:
        return f"**does not reach 99%**: the mean is {short}; its interval lies below 99%"
    return f"**does not reach 99%**: {short}, and no seed reaches 99% at any epoch"


def verdict(summary: pd.DataFrame, gaps: pd.DataFrame) -> str:
    """The chapter's claim checked in plain words, from the numbers alone."""
    lines = []
    for row in summary.itertuples(index=False):
        interval = (
            f" (95% CI {pct(row.final_acc_ci_low)} to {pct(row.final_acc_ci_high)})"
            if not math.isnan(row.final_acc_ci_low)
            else ""
        )
        lines.append(
            f"- **{row.group}**: final test accuracy {pct(row.final_acc_mean)}{interval} "
            f"over {row.seeds} seed{'s' * (row.seeds != 1)}; {_claim(row)} "
            f"({row.seeds_final_reaching_99} of {row.seeds} seeds at 99% or more after the last "
            f"epoch; best single epoch of any seed {pct(row.best_acc_max)})."
        )
    for row in gaps.itertuples(index=False):
        if math.isnan(row.gap_ci_low):
            sure = "with too few seeds for an interval"
        else:
            sure = (
                f"95% CI {points(row.gap_ci_low)} to {points(row.gap_ci_high)} points, "
                f"Welch's t-test p = {p_value(row.p_value)}"
            )
        lines.append(f"- Gap {row.comparison}: **{points(row.gap)} percentage points** ({sure}).")
    return "\n".join(lines)
