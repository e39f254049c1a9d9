"""Comparing two written reports: their tables, and report.md less the minute it was made."""

from __future__ import annotations

import re

GENERATED = re.compile(r"^Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC ", re.MULTILINE)
# What every analysis writes beside report.md (gaps.csv where there is a gap to measure).
TABLES = ["runs.csv", "epochs.csv", "summary.csv", "gaps.csv", "per_class.csv", "summary.md"]


def without_time(report: str) -> str:
    """The report less the minute it was generated in (which it says exactly once)."""
    assert len(GENERATED.findall(report)) == 1
    return GENERATED.sub("Generated <time> ", report)
