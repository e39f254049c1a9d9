"""What a kind of study gives the pipeline: how to recognise it, its tables, its figures and
its report. The pipeline writes them; a kind never writes a file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
from matplotlib.figure import Figure

from cnn_study.analysis.report import Block, Heading, Table
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
class Kind:
    name: str  # chapter, grid...
    title: str  # the HTML page's title
    matches: Callable[[Study], bool]  # is this study of this kind?
    tables: Callable[[Study], Tables]
    figures: Callable[[Study], dict[str, Figure]]  # file name (no suffix) -> figure
    report: Callable[[Study, Tables], list[Block]]  # report.md's blocks, from those tables
