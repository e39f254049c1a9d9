"""The slurm launcher preset on a real SLURM cluster: sweeps, pre-emption and time limits.

Needs a cluster whose `debug` partition has a node up: `bash scripts/slurm-local.sh start`
makes one on this machine. Where no cluster answers, every test here is skipped with the
reason (under CI=true, fails: tests/ci.py). Jobs run as submitit array tasks through
`hydra/launcher=slurm`, exactly as a user's sweep would; the submitting process blocks until
they finish, so tests that act on a running job start the sweep in the background.

The local cluster has no accounting database (sacct answers that storage is disabled), so
jobs are looked up with scontrol, which keeps finished jobs for MinJobAge (10 minutes).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from cnn_study.runs import RunFolder
from tests.conftest import ROOT, run_cli, tiny_overrides
from tests.e2e.conftest import REFERENCE_EPOCHS, reference_rows

PARTITION = "debug"
SLURM = [
    "hydra/launcher=slurm",
    f"hydra.launcher.partition={PARTITION}",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
]
UP_STATES = {"idle", "mix", "mixed", "alloc", "allocated", "comp", "completing"}

pytestmark = [pytest.mark.slurm, pytest.mark.usefixtures("slurm_cluster")]


def _no_cluster_reason() -> str | None:
    """Why no SLURM cluster can take the tests' jobs here, or None where one can."""
    start = "start one with `bash scripts/slurm-local.sh start`"
    for tool in ("sinfo", "sbatch", "scontrol"):
        if shutil.which(tool) is None:
            return f"no SLURM cluster: {tool} not found ({start})"
    try:
        done = subprocess.run(
            ["sinfo", "-h", "-p", PARTITION, "-o", "%a %t"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return f"no SLURM cluster answers: sinfo timed out ({start})"
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"no SLURM cluster answers: sinfo failed: {said} ({start})"
    lines = [line.split() for line in done.stdout.splitlines() if line.strip()]
    if not lines:
        return f"the SLURM cluster has no partition {PARTITION!r} ({start})"
    if not any(avail == "up" and state.rstrip("*~#$@^-") in UP_STATES for avail, state in lines):
        return f"partition {PARTITION!r} has no node up: sinfo says {done.stdout.strip()!r}"
    return None


@pytest.fixture(scope="session")
def slurm_cluster() -> None:
    """Checked once per session; a skip here is reported for every test of this file."""
    reason = _no_cluster_reason()
    if reason:
        pytest.skip(reason)


# --- helpers ------------------------------------------------------------------------------


def start_cli(*args: str, log: Path) -> subprocess.Popen:
    """python -m <args> in the background, its output into log."""
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def submitit_jobs(outputs: Path) -> list[str]:
    """Job ids of the sweeps under outputs: submitit's folder <study>/.submitit/<id> of each
    job holds its <id>_submitted.pkl (an array's own folder holds only the sbatch script)."""
    return sorted(p.parent.name for p in outputs.glob("*/.submitit/*/*_submitted.pkl"))


FINAL_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED"}
FINAL_STATES |= {"OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}


def finish_sweep(sweep: subprocess.Popen, outputs: Path, log: Path, timeout: float) -> str:
    """Wait for a sweep started with start_cli; its output. Fails fast where a job has ended
    without a result: without an accounting database (no sacct) submitit never learns that
    such a job is over and would wait for its result forever."""
    deadline = time.monotonic() + timeout
    ended_since = None
    while sweep.poll() is None:
        if time.monotonic() > deadline:
            stop(sweep)
            pytest.fail(f"the sweep took over {timeout:.0f} s:\n{log.read_text()[-3000:]}")
        jobs = {job: scontrol_job(job) for job in submitit_jobs(outputs)}
        if jobs and all(job.get("JobState") in FINAL_STATES for job in jobs.values()):
            ended_since = ended_since or time.monotonic()
            if time.monotonic() - ended_since > 60:
                stop(sweep)
                said = {
                    job_id: (job.get("JobState"), job.get("ExitCode"), job.get("Restarts"))
                    for job_id, job in jobs.items()
                }
                folders = outputs.glob("*/.submitit/*/*_log.*")
                tails = "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in folders)
                pytest.fail(
                    f"jobs ended (state, exit code, restarts) {said}, the sweep waits on:\n{tails}"
                )
        else:
            ended_since = None
        time.sleep(1)
    return log.read_text()


def cancel(job_ids: list[str]) -> None:
    """Cancel the jobs still pending or running: for a sweep that failed or timed out only."""
    live = []
    for job in job_ids:
        shown = subprocess.run(
            ["scontrol", "-o", "show", "job", job], capture_output=True, text=True, timeout=30
        )
        state = dict(re.findall(r"(\w+)=(\S*)", shown.stdout)).get("JobState")
        if shown.returncode == 0 and state not in FINAL_STATES:
            live.append(job)
    if live:
        subprocess.run(["scancel", *live], capture_output=True, timeout=30)


@contextlib.contextmanager
def cleaned_up(sweep: subprocess.Popen, outputs: Path) -> Iterator[None]:
    """Leave no job behind a sweep that failed or timed out, and never touch a good one's.

    A job is still RUNNING for a while after the sweep has its result: submitit reads the
    result file that the job's Python process writes before it exits, and then the batch
    script ends and the epilog runs (COMPLETING). Cancelling "whatever is not over" after
    every sweep, as these tests once did in a `finally`, recorded such finished jobs as
    CANCELLED: slurmctld's log showed the REQUEST_KILL_JOB from the test's scancel after the
    job's result was back and before its batch script ended, and the test then read
    CANCELLED where it expected COMPLETED (in CI, and more often on a loaded machine, where
    that window is longer). So only a sweep that did not finish has its jobs cancelled.
    """
    try:
        yield
    except BaseException:
        stop(sweep)
        cancel(submitit_jobs(outputs))
        raise


def ended(job_id: str, timeout: float = 120) -> dict[str, str]:
    """scontrol's record of a job once it is over (its epilog done, its state final)."""
    deadline = time.monotonic() + timeout
    job = scontrol_job(job_id)
    while job.get("JobState") not in FINAL_STATES and time.monotonic() < deadline:
        time.sleep(1)
        job = scontrol_job(job_id)
    assert job.get("JobState") in FINAL_STATES, f"job {job_id} is not over after {timeout} s: {job}"
    return job


def scontrol_job(job_id: str) -> dict[str, str]:
    """scontrol show job, as a dict (an array task may be named <array id>_<task>)."""
    done = subprocess.run(
        ["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, f"scontrol show job {job_id}: {done.stderr}"
    return dict(re.findall(r"(\w+)=(\S*)", done.stdout))


def job_processes(job_id: str) -> dict[int, str]:
    """The job's processes on this node (scontrol listpids), with their start times.

    A PID and its start time name one process: a PID reused later is another process.
    """
    raw = scontrol_job(job_id)["JobId"]
    done = subprocess.run(["scontrol", "listpids", raw], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"scontrol listpids {raw}: {done.stderr}"
    pids = [int(line.split()[0]) for line in done.stdout.splitlines()[1:] if line.strip()]
    return {pid: started for pid in pids if (started := process_start(pid))}


def process_start(pid: int) -> str | None:
    """When a live process started (None for no process, or a zombie: dead, not yet reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # from field 3, state
    return None if fields[0] in "ZX" else fields[19]  # field 22, starttime


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def still_running(processes: dict[int, str]) -> list[int]:
    return [pid for pid, started in processes.items() if process_start(pid) == started]


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen | None = None):
    """Poll condition() until it returns something true; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process is not None and process.poll() is not None:
            pytest.fail(f"the sweep exited ({process.returncode}) while waiting for {what}")
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def metrics_rows(run_dir: Path) -> list[dict[str, str]]:
    try:
        with (run_dir / "metrics.csv").open() as f:
            return list(csv.DictReader(f))
    except (OSError, csv.Error):
        return []


def without_seconds(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def the_run_dir(outputs: Path) -> Path:
    (run_dir,) = {p.parent for p in outputs.rglob("cnn_study.log")}
    return run_dir


def resume_of(log: str, epochs: int) -> tuple[int, list[int]]:
    """(the epoch the last resume started after, the epochs logged after it)."""
    resumes = list(re.finditer(r"resumed .* after epoch (\d+) of (\d+)", log))
    assert resumes, f"no resume in the run's log:\n{log}"
    last = resumes[-1]
    assert int(last[2]) == epochs
    trained = [int(n) for n in re.findall(rf"epoch (\d+)/{epochs}\b", log[last.end() :])]
    return int(last[1]), trained


# --- tests --------------------------------------------------------------------------------


def test_a_sweep_runs_each_dataset_as_a_slurm_job_and_records_its_id(tmp_path, tiny_data):
    outputs = tmp_path / "outputs"
    log = tmp_path / "sweep.log"
    sweep = start_cli(
        "cnn_study",
        "-m",
        *SLURM,
        *tiny_overrides(tiny_data, tmp_path),
        "trainer.epochs=1",
        "dataset=mnist,fashion",
        log=log,
    )
    with cleaned_up(sweep, outputs):  # a failed sweep leaves no job behind
        output = finish_sweep(sweep, outputs, log, timeout=240)
        assert sweep.returncode == 0, output[-4000:]
    submitted = submitit_jobs(outputs)

    results = [json.loads(p.read_text()) for p in outputs.rglob("results.json")]
    assert sorted(r["dataset"] for r in results) == ["fashion", "mnist"]
    assert len(submitted) == 2 and len({job.split("_")[0] for job in submitted}) == 1  # one array
    for r in results:
        assert r["launcher"] == "slurm" and r["epochs_completed"] == 1
        assert r["job_id"] in submitted, (r["job_id"], submitted)  # submitit's own folder name
        job = ended(r["job_id"])  # and SLURM knows it as a finished job of this sweep
        assert job["JobState"] == "COMPLETED" and job["Partition"] == PARTITION
        assert job["ArrayJobId"] + "_" + job["ArrayTaskId"] == r["job_id"]
        assert job["BatchHost"] == r["host"].split(".")[0]
        assert job["WorkDir"] == str(ROOT)

    analysed = run_cli("cnn_study.analysis", str(outputs), "--out", str(tmp_path / "analysis"))
    assert analysed.returncode == 0, analysed.stderr[-4000:]
    report = (tmp_path / "analysis" / "report.md").read_text()
    assert "hydra/launcher=slurm" in report
    assert "MNIST" in report and "FashionMNIST" in report


def test_b_a_requeued_job_is_killed_and_resumes_to_the_metrics_of_an_uninterrupted_run(
    tmp_path, epoch_data, reference_run
):
    epochs = REFERENCE_EPOCHS  # the same run as the reference, never interrupted
    run = [*tiny_overrides(epoch_data, tmp_path), f"trainer.epochs={epochs}"]
    outputs = tmp_path / "outputs"
    sweep = start_cli("cnn_study", "-m", *SLURM, *run, log=tmp_path / "sweep.log")
    with cleaned_up(sweep, outputs):  # a failed sweep leaves no job behind
        run_dir = wait_for(
            lambda: next((p.parent for p in outputs.rglob("metrics.csv")), None),
            180,
            "the job's first epoch",
            sweep,
        )
        wait_for(lambda: len(metrics_rows(run_dir)) >= 2, 60, "two epochs", sweep)
        (job_id,) = submitit_jobs(outputs)
        processes = job_processes(job_id)
        assert any("submitit" in command_line(pid) for pid in processes), processes

        requeued_at = time.monotonic()
        subprocess.run(["scontrol", "requeue", job_id], check=True, timeout=30)
        # submitit ignores SIGTERM, so the SIGKILL that follows KillWait is what stops it.
        wait_for(lambda: not still_running(processes), 60, f"job {job_id}'s processes to end")
        stopped_after = time.monotonic() - requeued_at
        ps = subprocess.run(
            ["ps", "-o", "pid=,lstart=,args=", "-p", ",".join(map(str, processes))],
            capture_output=True,
            text=True,
        )
        assert not still_running(processes), ps.stdout  # anything ps lists here is a reused PID
        print(f"job {job_id}: old processes gone {stopped_after:.1f} s after the requeue")

        output = finish_sweep(sweep, outputs, tmp_path / "sweep.log", timeout=240)
        assert sweep.returncode == 0, output[-4000:]

    job = ended(job_id)
    assert job["JobState"] == "COMPLETED" and int(job["Restarts"]) >= 1, job
    results = json.loads((run_dir / "results.json").read_text())
    assert results["epochs_completed"] == epochs and results["job_id"] == job_id

    log = (run_dir / "cnn_study.log").read_text()
    resumed_after, trained = resume_of(log, epochs)
    assert resumed_after >= 2, log
    assert trained == list(range(resumed_after + 1, epochs + 1)), log
    print(f"resumed after epoch {resumed_after}, then trained {len(trained)} of {epochs} epochs")

    final = RunFolder(run_dir).read_metrics()
    assert [row["epoch"] for row in final] == list(range(1, epochs + 1))
    assert without_seconds(final) == reference_rows(reference_run, epochs)


def pending_signals(pid: int) -> int | None:
    """The signals waiting for a process, as a bit mask (bit n - 1: signal n); None where the
    process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)  # its thread's, its own


def training_processes(job_id: str) -> list[int]:
    """The job's Python processes (submitit's worker, which trains), not its srun or shell."""
    return [
        pid
        for pid in job_processes(job_id)
        if "submitit.core._submit" in command_line(pid)
        and Path(command_line(pid).split()[0]).name.startswith("python")
    ]


def test_c_a_job_at_its_time_limit_is_requeued_by_submitit_and_finishes(tmp_path, epoch_data):
    # SLURM checks time limits every 30 s and sends the --signal warning up to 30 s early:
    # with a 1-minute limit and a 10 s warning, the signal comes 20 to 50 s after the job
    # starts. A run of fixed length may finish before it on a fast machine (a 50 s run did),
    # so the test makes the run slow instead, whatever the machine: once the job has
    # checkpointed its first epoch, its process is stopped (SIGSTOP) until SLURM's warning
    # waits for it, then goes on, and handles the warning as a slow run would. The rest of
    # the run (about 15 s here) usually fits in the second job: a requeued job is signalled
    # only at the second check after it starts, some 40 s later; else a third job ends it.
    epochs = 16
    usr2 = 1 << (signal.SIGUSR2 - 1)
    outputs = tmp_path / "outputs"
    log = tmp_path / "sweep.log"
    sweep = start_cli(
        "cnn_study",
        "-m",
        *SLURM,
        "hydra.launcher.timeout_min=1",
        "hydra.launcher.signal_delay_s=10",
        *tiny_overrides(epoch_data, tmp_path),
        f"trainer.epochs={epochs}",
        log=log,
    )
    stopped: list[int] = []
    with cleaned_up(sweep, outputs):  # a failed sweep leaves no job behind
        try:
            run_dir = wait_for(
                lambda: next((p.parent for p in outputs.rglob("metrics.csv")), None),
                180,
                "the job's first epoch",
                sweep,
            )
            (job_id,) = submitit_jobs(outputs)
            stopped = training_processes(job_id)
            assert len(stopped) == 1, {pid: command_line(pid) for pid in job_processes(job_id)}
            os.kill(stopped[0], signal.SIGSTOP)
            waited = time.monotonic()
            wait_for(
                # the warning waits; or the process is gone (requeued before it was stopped)
                lambda: (pending := pending_signals(stopped[0])) is None or pending & usr2,
                90,
                "SLURM's time-limit warning (SIGUSR2) to the stopped job",
            )
            print(f"job {job_id}: its warning came {time.monotonic() - waited:.0f} s later")
            assert len(metrics_rows(run_dir)) < epochs  # stopped mid-run
        finally:
            for pid in stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
        output = finish_sweep(sweep, outputs, log, timeout=360)
        assert sweep.returncode == 0, output[-4000:]
    (job_id,) = submitit_jobs(outputs)

    run_dir = the_run_dir(outputs)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["epochs_completed"] == epochs and results["job_id"] == job_id
    job = ended(job_id)
    assert job["JobState"] == "COMPLETED" and int(job["Restarts"]) >= 1, job
    assert job["TimeLimit"] == "00:01:00"

    # The requeue was submitit's: its timeout handler checkpointed the Hydra job and
    # requeued it, not a SLURM time-limit kill.
    submitit_log = "".join(
        p.read_text() for p in (outputs / "chapter5" / ".submitit" / job_id).glob("*_log.*")
    )
    assert re.search(r"Caught signal SIGUSR2 .* this job is timed-out", submitit_log)
    assert f"Requeued job {job_id}" in submitit_log
    assert "DUE TO TIME LIMIT" not in submitit_log, submitit_log

    log = (run_dir / "cnn_study.log").read_text()
    resumed_after, trained = resume_of(log, epochs)
    assert resumed_after >= 1 and trained == list(range(resumed_after + 1, epochs + 1)), log
    print(f"{epochs} epochs; {log.count('resumed ')} resume(s), the last after {resumed_after}")


def test_d_two_searches_share_one_postgresql_study_through_slurm_jobs(
    tmp_path, tiny_data, postgres
):
    """Two sweeper processes on one search, each sending its trials as SLURM jobs: together
    they train exactly the budget; every trial is a SLURM job's run, which reports its epochs
    to the search on the database server and is pruned there (a pruner that stops every
    trial after its first epoch)."""
    outputs = tmp_path / "outputs"
    study = f"slurm-{os.getpid()}-{int(time.time())}"
    args = [
        "cnn_study",
        "hparams_search=chapter",
        "dataset=fashion",
        *SLURM,
        *tiny_overrides(tiny_data, tmp_path),
        "trainer.epochs=2",
        "dataset.val_size=50",
        f"hydra.sweeper.storage={postgres}",
        f"hydra.sweeper.study_name={study}",
        "hydra.sweeper.n_trials=4",
        "hydra.sweeper.n_jobs=1",
        "hydra/sweeper/pruner=threshold",
        "hydra.sweeper.pruner.lower=1.1",
        "hydra.sweeper.pruner.n_warmup_steps=1",
    ]
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    sweeps = [start_cli(*args, log=log) for log in logs]
    try:
        with cleaned_up(sweeps[0], outputs), cleaned_up(sweeps[1], outputs):
            for sweep, log in zip(sweeps, logs, strict=True):
                output = finish_sweep(sweep, outputs, log, timeout=300)
                assert sweep.returncode == 0, output[-4000:]
        search = optuna.load_study(study_name=study, storage=postgres)
        states = [t.state.name for t in search.trials]
        assert states.count("PRUNED") == 4 and set(states) <= {"PRUNED", "FAIL"}
        assert all(
            t.user_attrs.get("given_up") == "unused"
            for t in search.trials
            if t.state.name == "FAIL"
        )
        pruned = [t for t in search.trials if t.state.name == "PRUNED"]
        for trial in pruned:
            assert trial.intermediate_values.keys() == {1}  # reported from the job
            results = json.loads((Path(trial.user_attrs["run_dir"]) / "results.json").read_text())
            assert results["launcher"] == "slurm" and results["job_id"]
            assert results["pruned_at_epoch"] == 1
        # Both took part: each sent jobs of its own.
        assert all("Submitit 'slurm' sweep output dir" in log.read_text() for log in logs)
    finally:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=study, storage=postgres)
