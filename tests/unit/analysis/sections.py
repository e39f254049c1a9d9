"""The sections a report has, read back from its Markdown."""

from cnn_study.analysis.kinds.skeleton import SECTIONS


def sections(markdown: str) -> list[str]:
    """The report's shared section headings, in the order the report has them."""
    headings = [line[3:] for line in markdown.splitlines() if line.startswith("## ")]
    return [h for h in headings if h in SECTIONS]
