"""Cluster launchers, checked without a cluster."""

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT, run_cli, tiny_overrides

# Runs the real launcher up to the point where submitit would call sbatch, and prints the
# sbatch script it would submit instead.
CAPTURE_SBATCH = textwrap.dedent(
    """
    import sys
    from submitit.slurm.slurm import SlurmExecutor

    def capture(self, delayed_submissions):
        print("SBATCH-SCRIPT-BEGIN")
        print("jobs:", len(delayed_submissions))
        print("array_parallelism:", self.parameters["array_parallelism"])
        print(self._make_submission_file_text("python -m submitit.core._submit", "UID"))
        raise SystemExit(0)

    SlurmExecutor._internal_process_submissions = capture
    import runpy
    runpy.run_module("cnn_study", run_name="__main__", alter_sys=True)
    """
)


def test_slurm_preset_submits_with_its_configured_resources(tmp_path):
    script = tmp_path / "capture.py"
    script.write_text(CAPTURE_SBATCH)
    # submitit looks for srun before it builds a SLURM executor; this one is never run.
    srun = tmp_path / "bin" / "srun"
    srun.parent.mkdir()
    srun.write_text("#!/bin/sh\nexit 1\n")
    srun.chmod(0o755)
    done = subprocess.run(
        [
            sys.executable,
            str(script),
            "-m",
            "hydra/launcher=slurm",
            "hydra.launcher.partition=gpu",
            "hydra.launcher.timeout_min=90",
            "hydra.launcher.gpus_per_node=2",
            "hydra.launcher.array_parallelism=5",
            f"paths.output_dir={tmp_path}",
            "dataset=mnist,fashion",
            "seed=0,1",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": f"{srun.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stderr
    sbatch = done.stdout.split("SBATCH-SCRIPT-BEGIN", 1)[1]
    assert "jobs: 4" in sbatch and "array_parallelism: 5" in sbatch  # 2 datasets x 2 seeds
    for line in [
        "#SBATCH --partition=gpu",
        "#SBATCH --time=90",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH --mem=8GB",
        "#SBATCH --signal=USR2@120",
        "#SBATCH --job-name=cnn_study",
    ]:
        assert line in sbatch, f"{line!r} not in\n{sbatch}"


def test_a_sweep_through_submitit_local_completes_and_is_analysed(tmp_path, tiny_data):
    sweep = run_cli(
        "cnn_study",
        "-m",
        "hydra/launcher=slurm_local",
        "hydra.sweeper.max_batch_size=2",
        *tiny_overrides(tiny_data, tmp_path),
        "trainer.epochs=1",
        "dataset=mnist,fashion",
    )
    assert sweep.returncode == 0, sweep.stderr
    results = [json.loads(p.read_text()) for p in (tmp_path / "outputs").rglob("results.json")]
    assert sorted(r["dataset"] for r in results) == ["fashion", "mnist"]
    assert {r["launcher"] for r in results} == {"slurm_local"}
    assert all(r["job_id"] for r in results)  # submitit's job id, recorded per run

    done = run_cli("cnn_study.analysis", str(tmp_path / "outputs"), "--out", str(tmp_path / "an"))
    assert done.returncode == 0, done.stderr
    report = (tmp_path / "an" / "report.md").read_text()
    assert "slurm_local" in report and "hydra/launcher=slurm_local" in report
