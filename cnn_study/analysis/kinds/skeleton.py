"""The one report writer: a kind's Report (its answer, tables, figures and method, in its
own words) in the sections every report has, always in this order:

title and opening line; Commands; The answer (its paragraphs, tables, figures); Where the
errors are; What was run; Method; Machine and time; Every run (and every folder left out).
"""

from __future__ import annotations

from cnn_study.analysis import report
from cnn_study.analysis.kinds import common
from cnn_study.analysis.kinds.base import Report
from cnn_study.analysis.study import Study

# The section headings, in the order every report has them (tests read the order here).
SECTIONS = (
    "Commands",
    "The answer",
    "Where the errors are",
    "What was run",
    "Method",
    "Machine and time",
    "Every run",
)


def write(study: Study, said: Report) -> list[report.Block]:
    """The report's blocks: the kind's words in the shared sections."""
    B = report
    commands, answer, errors, run, method, machine, every_run = SECTIONS
    return [
        B.Heading(f"cnn-study report: {said.title}", 1),
        B.Paragraph(common.generated(study) + said.opening + "."),
        B.Heading(commands),
        *common.commands(study, said.commands, said.timing),
        B.Heading(answer),
        *(B.Paragraph(text) for text in said.answer),
        *(block for table in said.tables for block in table.blocks()),
        *said.figures,
        B.Heading(errors),
        B.Paragraph(common.hardest_classes(study.per_class)),
        *(said.class_table.blocks() if said.class_table else []),
        *([said.class_figure] if said.class_figure else []),
        *common.errors_and_losses(said.losses_on_own_scales),
        B.Heading(run),
        *common.what_was_run(study, said.differences, list(said.varied)),
        B.Heading(method),
        B.Paragraph(said.method),
        B.Heading(machine),
        *common.machine(study),
        B.Heading(every_run),
        *common.appendix(study),
    ]
