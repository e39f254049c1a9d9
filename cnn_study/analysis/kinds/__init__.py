"""The kinds of study the analysis knows, and the one place where a study's kind is chosen.

A kind is one module that ends in `KIND = Kind(...)` (kinds/base.py): how to recognise its
study from the grouped runs, its summary tables and figures, and its report as data (a
Report: its answer, tables, figure captions and method, in its own words). One writer,
kinds/skeleton.py, puts every kind's Report in the same sections in the same order; the
sections every report shares are in kinds/common.py, numbers as formats.py writes them.
Adding a kind (the tuned study, with recipes tuned per dataset on a validation split,
say) is one new module of its own wording, kinds/tuned.py, plus one line in KINDS below,
above the kinds it is more specific than: the first kind whose matches() accepts the
study is its kind.
"""

from __future__ import annotations

from cnn_study.analysis.kinds import chapter, datasets, grid, tuned
from cnn_study.analysis.kinds.base import Kind, Report, Tables
from cnn_study.analysis.kinds.skeleton import write
from cnn_study.analysis.study import Study

__all__ = ["KINDS", "Kind", "Report", "Tables", "choose", "write"]

KINDS: tuple[Kind, ...] = (
    tuned.KIND,  # recipes crossed with datasets: a grid whose factor is the recipe
    grid.KIND,  # the dataset crossed with other factors
    datasets.KIND,  # datasets compared with a reference, besides the chapter's own two
    chapter.KIND,  # groups side by side: matches any study, so it comes last
)


def choose(study: Study) -> Kind:
    """The study's kind: the first in KINDS that matches it."""
    return next(kind for kind in KINDS if kind.matches(study))
