"""Under CI (CI=true, which .ci/run exports) a skipped test is a failed one.

A test skips where something it needs is missing here: the SLURM cluster, a logger package,
a tmpfs, the real data in ../shared/datasets, a published file. On a developer's machine that
is a reason to skip; in CI it means the check never ran, and a green run would hide it. Only
tests marked `ci_may_skip` (hardware CI does not have, such as CUDA) may still skip there.

Loaded by tests/conftest.py; on its own with `pytest -p tests.ci`.
"""

from __future__ import annotations

import os

import pytest

MARKER = "ci_may_skip"


def under_ci() -> bool:
    return os.environ.get("CI") == "true"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(reason): may skip even under CI=true (hardware CI lacks: CUDA)"
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if (
        report.skipped
        and under_ci()
        and not hasattr(report, "wasxfail")  # an expected failure is not a skipped check
        and item.get_closest_marker(MARKER) is None
    ):
        said = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        reason = str(said).removeprefix("Skipped: ")
        report.outcome = "failed"
        report.longrepr = (
            f"CI=true: this test may not skip, and it would have: {reason}\n"
            f"(provide what it needs on the CI machine, or mark it {MARKER} if CI can never "
            "have it)"
        )
    return report
