"""The report: one list of blocks, rendered as Markdown and as self-contained HTML."""

from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

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


def _inline_html(text: str) -> str:
    """The little inline Markdown the report uses: `code` and **bold**."""
    out, code, bold = [], False, False
    i = 0
    while i < len(text):
        if text[i] == "`":
            out.append("</code>" if code else "<code>")
            code = not code
        elif text.startswith("**", i) and not code:
            out.append("</strong>" if bold else "<strong>")
            bold = not bold
            i += 1
        else:
            out.append(html.escape(text[i]))
        i += 1
    return "".join(out)


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.5; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: left; }
th { background: #f3f3f3; }
img { max-width: 100%; }
figure { margin: 1.5rem 0; }
figcaption { font-style: italic; font-size: 0.9rem; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; }
"""


def to_html(blocks: list[Block], base: Path, title: str) -> str:
    """One HTML file with every image embedded, readable without the other files."""
    body = []
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline_html(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            for para in block.text.split("\n\n"):
                if para.startswith("- "):
                    items = "".join(
                        f"<li>{_inline_html(line[2:])}</li>" for line in para.split("\n")
                    )
                    body.append(f"<ul>{items}</ul>")
                else:
                    body.append(f"<p>{_inline_html(para)}</p>")
        elif isinstance(block, Code):
            body.append(f"<pre><code>{html.escape(block.text)}</code></pre>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in block.frame.columns)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                for row in block.frame.itertuples(index=False)
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(block, Figure):
            data = base64.b64encode((base / block.path).read_bytes()).decode()
            caption = html.escape(block.caption)
            body.append(
                f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
                f"<figcaption>{caption}</figcaption></figure>"
            )
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
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
