"""The report: one list of blocks, rendered as Markdown; the HTML is that very Markdown
rendered by markdown-it-py, with every figure embedded, so the two cannot say different
things."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
from markdown_it import MarkdownIt


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str  # Markdown: **bold**, `code` (config keys are always code), "- " lists


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
