"""Each published report is what its own committed data say: rebuilt from the archive in its
analysis/<study>/ folder, its tables and report.md equal the committed ones (all but the
minute it was generated in).

Studies published before the analysis wrote archives get one when their published command is
rerun (chapter5 and datasets have been). Until then the analysis refuses to rebuild them, in
one line, and writes nothing; a study leaves AWAITING_RERUN with its archive.
"""

import pytest

from cnn_study.analysis.__main__ import main
from cnn_study.analysis.archive import ARCHIVE_FILE
from tests.conftest import ROOT
from tests.reports import TABLES, without_time

STUDIES = ["chapter5", "grid", "tuned", "datasets"]
AWAITING_RERUN: set[str] = set()


@pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")
@pytest.mark.parametrize("study", STUDIES)
def test_the_published_report_is_rebuilt_from_its_own_data(study, tmp_path, capsys):
    published = ROOT / "analysis" / study
    if not (published / ARCHIVE_FILE).is_file():
        assert study in AWAITING_RERUN, f"analysis/{study} lost its {ARCHIVE_FILE}"
        before = sorted(p.name for p in published.iterdir())
        assert main([str(published), "--out", str(tmp_path / "out")]) == 2
        err = capsys.readouterr().err
        assert ARCHIVE_FILE in err and "rerun the study" in err and len(err.splitlines()) == 1
        assert (
            not (tmp_path / "out").exists()
            and sorted(p.name for p in published.iterdir()) == before
        )
        return
    assert study not in AWAITING_RERUN, f"analysis/{study} has its archive: take it off the list"
    assert main([str(published), "--out", str(tmp_path)]) == 0
    for name in [t for t in TABLES if (published / t).is_file()]:
        assert (tmp_path / name).read_text() == (published / name).read_text(), name
    assert without_time((tmp_path / "report.md").read_text()) == without_time(
        (published / "report.md").read_text()
    )
