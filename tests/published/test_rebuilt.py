"""Each published report is what its own committed data say: rebuilt from the archive in its
analysis/<study>/ folder, its tables and report.md equal the committed ones (all but the
minute it was generated in)."""

import pytest

from cnn_study.analysis.__main__ import main
from cnn_study.analysis.archive import ARCHIVE_FILE
from tests.conftest import ROOT
from tests.reports import TABLES, without_time

STUDIES = ["chapter5", "grid", "tuned", "datasets"]


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
@pytest.mark.parametrize("study", STUDIES)
def test_the_published_report_is_rebuilt_from_its_own_data(study, tmp_path):
    published = ROOT / "analysis" / study
    if not (published / ARCHIVE_FILE).is_file():
        pytest.skip(f"analysis/{study} has no {ARCHIVE_FILE}: rerun the study's published command")
    assert main([str(published), "--out", str(tmp_path)]) == 0
    for name in [t for t in TABLES if (published / t).is_file()]:
        assert (tmp_path / name).read_text() == (published / name).read_text(), name
    assert without_time((tmp_path / "report.md").read_text()) == without_time(
        (published / "report.md").read_text()
    )
