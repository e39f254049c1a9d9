"""Hydra callbacks, through the real entry point: a sweep's failed runs are reported."""

import math

import pytest
from omegaconf import OmegaConf

from tests.conftest import tiny_overrides


def test_the_sweep_report_names_the_failure_record_the_run_wrote(tmp_path, monkeypatch):
    """Through the real entry point in a sweep: a run that fails once begun hands its
    failure.json to the sweep's report, which names it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import open_dict

    from cnn_study import callbacks, sweep_failures
    from cnn_study.__main__ import main
    from tests.conftest import CONF

    monkeypatch.setenv(sweep_failures.SWEEP_ID, "sweep1")
    monkeypatch.delenv(sweep_failures.FAILURES_DIR, raising=False)  # from the sweep's folder, then
    run_dir = tmp_path / "sweep" / "0"
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        overrides = [*tiny_overrides(tmp_path / "no-data", tmp_path), "hydra.job.num=0"]
        cfg = compose("config", overrides=overrides, return_hydra_config=True)
    cfg.hydra.mode = RunMode.MULTIRUN
    cfg.hydra.sweep.dir = str(tmp_path / "sweep")
    cfg.hydra.runtime.output_dir = str(run_dir)
    HydraConfig.instance().set_config(cfg)
    hydra_cfg = cfg.hydra
    with open_dict(cfg):
        del cfg["hydra"]
    assert math.isnan(main(cfg))  # the sweep goes on with its other runs
    with pytest.raises(SystemExit) as report:
        callbacks.ReportFailures().on_multirun_end(OmegaConf.create({"hydra": hydra_cfg}))
    failure = run_dir / "failure.json"
    assert failure.is_file() and f"(see {failure})" in str(report.value)
    assert "data not found" in str(report.value)
