"""The analysis' command line on run folders that training really wrote."""

import pandas as pd

from tests.conftest import run_cli


def test_a_real_tiny_sweep_then_the_analysis_cli(parallel_sweep, tmp_path):
    outputs = parallel_sweep / "outputs"
    done = run_cli("cnn_study.analysis", str(outputs), "--out", str(tmp_path / "an"))
    assert done.returncode == 0, done.stderr
    summary = pd.read_csv(tmp_path / "an" / "summary.csv")
    assert sorted(summary["dataset"]) == ["fashion", "mnist"]
    assert summary["seeds"].tolist() == [2, 2] and (summary["epochs"] == 2).all()
    report = (tmp_path / "an" / "report.md").read_text()
    assert "hydra/launcher=parallel" in report  # the command that made the runs
