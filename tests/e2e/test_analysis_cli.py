"""The analysis' command line on run folders that training really wrote."""

import subprocess
import sys

import pandas as pd

from tests.conftest import ROOT, run_cli
from tests.fakeruns import write_run


def test_a_real_tiny_sweep_then_the_analysis_cli(parallel_sweep, tmp_path):
    outputs = parallel_sweep / "outputs"
    done = run_cli("cnn_study.analysis", str(outputs), "--out", str(tmp_path / "an"))
    assert done.returncode == 0, done.stderr
    summary = pd.read_csv(tmp_path / "an" / "summary.csv")
    assert sorted(summary["dataset"]) == ["fashion", "mnist"]
    assert summary["seeds"].tolist() == [2, 2] and (summary["epochs"] == 2).all()
    report = (tmp_path / "an" / "report.md").read_text()
    assert "hydra/launcher=parallel" in report  # the command that made the runs


def test_the_analysis_cli_never_imports_torch(tmp_path):
    """Reading CSV and JSON must not cost PyTorch's import (seconds, and GBs on a laptop)."""
    for seed in range(2):
        write_run(tmp_path / "outputs", "mnist", seed, [0.98, 0.99])
        write_run(tmp_path / "outputs", "fashion", seed, [0.87, 0.88])
    code = (
        "import sys\n"
        "from cnn_study.analysis.__main__ import main\n"
        f"assert main([{str(tmp_path / 'outputs')!r}, '--out', {str(tmp_path / 'an')!r}]) == 0\n"
        "assert 'torch' not in sys.modules, 'the analysis imported torch'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "an" / "report.html").is_file()
