"""What a kind of study gives the pipeline: how to recognise it, its tables, its figures and
its report as data. One writer (kinds/skeleton.py) turns that data into the report's blocks,
so every kind's report has the same sections in the same order; a kind never writes a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from cnn_study.analysis.report import Block, Heading, Table
from cnn_study.analysis.report import Figure as Caption
from cnn_study.analysis.study import Study


@dataclass(frozen=True)
class SummaryTable:
    """A table of summary.md, with the heading it goes under."""

    title: str
    frame: pd.DataFrame  # already formatted as strings

    def blocks(self) -> list[Block]:
        return [Heading(self.title), Table(self.frame)]


# A kind's summary tables by name, in the order summary.md shows them.
Tables = dict[str, SummaryTable]


@dataclass(frozen=True)
class Report:
    """What a kind says, in its own words; the sections they go in are the writer's."""

    title: str  # the question the study answers, after "cnn-study report: "
    answer: list[str]  # the answer's paragraphs (Markdown), from the numbers alone
    tables: list[SummaryTable]  # the evidence under the answer, in this order
    figures: list[Caption]  # the figures under those tables, each with its caption
    differences: str  # what differs between the runs, before the settings that do not
    method: str  # how the numbers were made, and what they do not say
    opening: str = ""  # said after "Generated ... below <folders>": the study's shape
    varied: tuple[str, ...] = ()  # config keys left out of the table of shared settings
    class_table: SummaryTable | None = None  # under "Where the errors are"
    class_figure: Caption | None = None  # under "Where the errors are"
    commands: list[str] | None = None  # the commands that made the runs; None: rebuilt
    timing: str | None = None  # the time the study took, in words; None: the runs' own
    losses_on_own_scales: bool = False  # the loss panels each on its own scale (not shared)


@dataclass(frozen=True)
class Kind:
    name: str  # chapter, grid...
    title: str  # the HTML page's title
    matches: Callable[[Study], bool]  # is this study of this kind?
    tables: Callable[[Study], Tables]
    figures: Callable[[Study], dict[str, Figure]]  # file name (no suffix) -> figure
    report: Callable[[Study, Tables], Report]  # what report.md says, from those tables
