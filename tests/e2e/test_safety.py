"""Safe at scale: one trainer per run folder, failures that never stop a sweep, force=true
that keeps a job's own progress, graceful stops, full disks, and learning that can fail."""

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from omegaconf import OmegaConf

from cnn_study import experiment
from cnn_study.errors import RunFailed, StudyError
from cnn_study.runs import RunFolder
from tests.conftest import ROOT, make_dataset, run_cli, tiny_overrides

slow = pytest.mark.slow


def without_time(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


@pytest.fixture(scope="module")
def bigger_data(tmp_path_factory):
    """Generated data large enough that an epoch lasts about a second: time to act mid-run."""
    root = tmp_path_factory.mktemp("bigger")
    make_dataset(root, "MNIST", train=4000, test=500)
    return root


def cli(tmp_path, data_dir, *overrides, **popen):
    """The CLI as a user starts it, in the background."""
    env = {k: v for k, v in os.environ.items() if k != "CNN_STUDY_DATA_DIR"}
    return subprocess.Popen(
        # Flags (-m) before the overrides, as Hydra's command line wants them.
        [sys.executable, "-m", "cnn_study"]
        + [o for o in overrides if o == "-m"]
        + [*tiny_overrides(data_dir, tmp_path), *(o for o in overrides if o != "-m")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # Hydra logs to stdout; one stream keeps the order
        text=True,
        **popen,
    )


def the_run(tmp_path) -> RunFolder:
    (folder,) = {p.parent for p in (tmp_path / "outputs").rglob(".hydra")}
    return RunFolder(folder)


def wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def collect_lines(stream, lines: list[str]) -> None:
    for line in stream:  # one by one, so that the test sees each line as it comes
        lines.append(line)


def epochs_logged(folder: RunFolder) -> list[str]:
    log = (folder.path / "cnn_study.log").read_text()
    return [line.split(" - ", 1)[1].split()[1] for line in log.splitlines() if " - epoch " in line]


# --- one trainer per run folder --------------------------------------------------------------


@slow
def test_two_identical_commands_train_the_folder_once(tmp_path, bigger_data):
    first = cli(tmp_path, bigger_data, "trainer.epochs=3")
    second = cli(tmp_path, bigger_data, "trainer.epochs=3")
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    folder = the_run(tmp_path)
    # every epoch trained and logged once, not twice
    assert epochs_logged(folder) == ["1/3", "2/3", "3/3"]
    text = "".join(out for out, _ in outs)
    assert text.count("waiting for it") == 1 and text.count("already finished") == 1


@slow
def test_a_second_process_waits_for_the_lock_and_a_dead_holder_never_blocks(tmp_path, tiny_data):
    run = RunFolder(tmp_path / "outputs" / "run")
    here = f"hydra.run.dir={run.path}"
    with run.lock():
        waiting = cli(tmp_path, tiny_data, here)
        lines: list[str] = []
        reader = threading.Thread(target=collect_lines, args=(waiting.stdout, lines), daemon=True)
        reader.start()
        wait_for(lambda: any("waiting for it" in line for line in lines))
        time.sleep(1)
        assert waiting.poll() is None  # still waiting: nothing trained while we hold the lock
        assert not run.metrics_file.exists()
    assert waiting.wait(timeout=120) == 0
    reader.join(timeout=10)
    assert any(f"by pid {os.getpid()} on" in line for line in lines)
    assert run.is_finished()

    # a holder killed without a chance to clean up leaves no lock behind
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from cnn_study.runs import RunFolder\n"
            f"with RunFolder({str(run.path)!r}).lock():\n"
            "    print('locked', flush=True); time.sleep(600)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()
    again = cli(tmp_path, tiny_data, here)
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0 and "waiting" not in out and "already finished" in out


# --- failures never stop a sweep ----------------------------------------------------------------


@slow
@pytest.mark.parametrize("launcher", ["basic", "parallel"])
def test_a_failing_run_never_stops_the_sweep(tmp_path, tiny_data, launcher):
    done = run_cli(
        "cnn_study",
        "-m",
        *tiny_overrides(tiny_data, tmp_path),
        "optimizer.lr=-1,0.01",
        "hydra.sweeper.max_batch_size=1",
        f"hydra/launcher={launcher}",
    )
    assert done.returncode != 0
    finished = [p.parent for p in (tmp_path / "outputs").rglob("results.json")]
    assert len(finished) == 1 and "optimizer.lr=0.01" in str(finished[0])
    (failure,) = (tmp_path / "outputs").rglob("failure.json")
    assert "optimizer.lr=-1" in str(failure)
    assert "1 run(s) of this sweep failed" in done.stderr
    assert f"see {failure}" in done.stderr and "optimizer.lr must be a number > 0" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_sweep_report_names_the_failure_record_the_run_wrote(tmp_path, monkeypatch):
    """Through the real entry point in a sweep: a run that fails once begun hands its
    failure.json to the sweep's report, which names it."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import open_dict

    from cnn_study import callbacks, launch
    from cnn_study.__main__ import main
    from tests.conftest import CONF

    monkeypatch.setenv(launch.SWEEP_ID, "sweep1")
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


# --- force=true keeps a job's own progress ------------------------------------------------------


class Killed(Exception):
    pass


def interrupt_in_epoch(monkeypatch, n):
    """Make training raise in epoch n; return the list of epochs trained (counted)."""
    real = experiment.train_epoch
    trained = []

    def train_epoch(*args, **kwargs):
        trained.append(len(trained) + 1)
        if len(trained) == n:
            raise Killed(f"killed in epoch {n}")
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "train_epoch", train_epoch)
    return trained


def count_epochs(monkeypatch):
    real = experiment.train_epoch
    trained = []

    def train_epoch(*args, **kwargs):
        trained.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(experiment, "train_epoch", train_epoch)
    return trained


def test_a_requeued_force_job_resumes_its_own_progress(make_cfg, tmp_path, monkeypatch, caplog):
    cfg = make_cfg("trainer.epochs=4", "seed=2", "force=true")
    experiment.run(make_cfg("trainer.epochs=4", "seed=2"), tmp_path / "whole")
    interrupt_in_epoch(monkeypatch, 3)
    with pytest.raises(RunFailed, match="killed in epoch 3"):
        experiment.run(cfg, tmp_path / "run")
    trained = count_epochs(monkeypatch)
    with caplog.at_level("INFO"):
        experiment.run(cfg, tmp_path / "run")  # the requeue: same job, force=true again
    assert len(trained) == 2  # epochs 3 and 4 only: it resumed, it did not start over
    assert "resumed" in caplog.text and "moved" not in caplog.text
    assert not list(tmp_path.glob(".run.replaced-*"))
    assert without_time(RunFolder(tmp_path / "run").read_metrics()) == without_time(
        RunFolder(tmp_path / "whole").read_metrics()
    )


def test_force_on_a_run_finished_by_the_same_slurm_job_keeps_it(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg("force=true")
    job = experiment.Launch(launcher="slurm", job_id="1234_0")
    first = experiment.run(cfg, tmp_path / "run", job)
    trained = count_epochs(monkeypatch)
    assert experiment.run(cfg, tmp_path / "run", job) == first  # requeued after it finished
    assert trained == [] and not list(tmp_path.glob(".run.replaced-*"))
    experiment.run(cfg, tmp_path / "run", experiment.Launch(job_id="9999"))  # another job
    assert len(trained) == 2 and len(list(tmp_path.glob(".run.replaced-*"))) == 1


def test_force_moves_an_unreadable_checkpoint_aside(make_cfg, tmp_path, caplog):
    experiment.run(make_cfg("trainer.epochs=3"), tmp_path / "run")
    (tmp_path / "run" / "results.json").unlink()
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(StudyError, match="cannot be loaded .*: rerun with force=true"):
        experiment.run(make_cfg("trainer.epochs=3"), tmp_path / "run")
    with caplog.at_level("WARNING"):
        experiment.run(make_cfg("trainer.epochs=3", "force=true"), tmp_path / "run")
    assert "checkpoint.pt cannot be loaded (UnpicklingError))" in caplog.text
    assert "rerun with force=true" not in caplog.text
    assert RunFolder(tmp_path / "run").is_finished()
    (aside,) = tmp_path.glob(".run.replaced-*")
    assert (aside / "checkpoint.pt").read_bytes() == b"not a checkpoint"


# --- a resume really resumes ---------------------------------------------------------------------


def test_resume_trains_only_the_missing_epochs(make_cfg, tmp_path, monkeypatch):
    cfg = make_cfg("trainer.epochs=5", "seed=1")
    interrupt_in_epoch(monkeypatch, 4)
    with pytest.raises(RunFailed, match="killed in epoch 4"):
        experiment.run(cfg, tmp_path / "run")
    assert RunFolder(tmp_path / "run").load_checkpoint()["epoch"] == 3
    trained = count_epochs(monkeypatch)
    experiment.run(cfg, tmp_path / "run")
    assert len(trained) == 2  # epochs 4 and 5


# --- a graceful stop -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, bigger_data) -> RunFolder:
    """The 4-epoch run the interrupted ones must end up equal to."""
    tmp = tmp_path_factory.mktemp("whole")
    whole = cli(tmp, bigger_data, "trainer.epochs=4")
    assert whole.wait(timeout=300) == 0, whole.communicate()
    return the_run(tmp)


@slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_epoch_keeps_the_checkpoint_and_the_rerun_resumes_exactly(
    tmp_path, bigger_data, uninterrupted, signum
):
    process = cli(tmp_path, bigger_data, "trainer.epochs=4")
    wait_for(lambda: (tmp_path / "outputs").exists() and _rows(tmp_path) >= 1)
    time.sleep(0.3)  # into epoch 2
    process.send_signal(signum)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, out
    assert f"stopped by {signal.Signals(signum).name}" in out and "Traceback" not in out
    folder = the_run(tmp_path)
    done = folder.load_checkpoint()["epoch"]
    assert 1 <= done < 4 and not folder.results_file.exists()
    assert not list(folder.path.glob(".*.tmp"))
    again = cli(tmp_path, bigger_data, "trainer.epochs=4")
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    assert f"after epoch {done} of 4" in out
    trained_after = [e for e in epochs_logged(folder)][-(4 - done) :]
    assert trained_after == [f"{e}/4" for e in range(done + 1, 5)]
    assert without_time(folder.read_metrics()) == without_time(uninterrupted.read_metrics())


def _rows(tmp_path) -> int:
    files = list((tmp_path / "outputs").rglob("metrics.csv"))
    return len(files[0].read_text().splitlines()) - 1 if files else 0


# --- a full disk -------------------------------------------------------------------------------


def test_a_failing_write_leaves_the_checkpoint_and_no_temporary_file(
    make_cfg, tmp_path, monkeypatch
):
    import errno

    from cnn_study import runs

    cfg = make_cfg("trainer.epochs=3")
    real_fsync = os.fsync
    calls = {"checkpoints": 0}

    def fsync_full_on_second_checkpoint(fd):
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".tmp") and "checkpoint" in os.readlink(
            f"/proc/self/fd/{fd}"
        ):
            calls["checkpoints"] += 1
            if calls["checkpoints"] == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(runs.os, "fsync", fsync_full_on_second_checkpoint)
    with pytest.raises(RunFailed) as err:
        experiment.run(cfg, tmp_path / "run")
    assert isinstance(err.value.cause, StudyError)
    message = str(err.value)
    assert "\n" not in message and "No space left on device" in message
    assert "checkpoint.pt" in message and "rerun the same command" in message
    folder = RunFolder(tmp_path / "run")
    assert not list(folder.path.glob(".*.tmp"))
    assert folder.load_checkpoint()["epoch"] == 1
    monkeypatch.setattr(runs.os, "fsync", real_fsync)
    trained = count_epochs(monkeypatch)
    experiment.run(cfg, tmp_path / "run")
    assert len(trained) == 2 and folder.is_finished()


@pytest.fixture
def small_disk(tmp_path):
    """A 400 KiB tmpfs (root only): room for one checkpoint of the chapter's CNN, not two."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@slow
def test_a_full_disk_stops_the_run_with_one_line_and_the_rerun_resumes(
    tmp_path, tiny_data, small_disk
):
    overrides = [f"paths.output_dir={small_disk}", "trainer.epochs=6"]
    done = run_cli("cnn_study", *tiny_overrides(tiny_data, tmp_path), *overrides)
    assert done.returncode == 1
    assert "No space left on device" in done.stderr and "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if "No space left" in line]) == 1
    folder = RunFolder(next(small_disk.rglob("checkpoint.pt")).parent)
    assert not [p for p in small_disk.rglob(".*.tmp")]
    kept = folder.load_checkpoint()["epoch"]
    assert kept >= 1
    subprocess.run(["mount", "-o", "remount,size=8m", str(small_disk)], check=True)
    again = run_cli("cnn_study", *tiny_overrides(tiny_data, tmp_path), *overrides)
    assert again.returncode == 0, again.stderr
    assert f"after epoch {kept} of 6" in again.stdout and folder.is_finished()


# --- where a run really runs ----------------------------------------------------------------------


@slow
def test_root_dir_is_the_process_folder_not_the_shells(tmp_path, tiny_data):
    overrides = [o for o in tiny_overrides(tiny_data, tmp_path) if "root_dir" not in o]
    env = {"PWD": "/somewhere/else"}
    done = run_cli("cnn_study", *overrides, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    results = json.loads(next((tmp_path / "outputs").rglob("results.json")).read_text())
    assert results["config"]["paths"]["root_dir"] == str(tmp_path)


# --- learning, on the CPU, without the shared data -----------------------------------------------


def test_training_learns_generated_data_well_above_chance(tmp_path):
    data = tmp_path / "data"
    make_dataset(data, "MNIST", train=1000, test=300, seed=5)
    from tests.conftest import compose_config

    cfg = compose_config(
        *tiny_overrides(data, tmp_path), "trainer.epochs=3", "trainer.batch_size=64"
    )
    results = experiment.run(cfg, tmp_path / "run")
    # chance is 0.1; the chapter's slow SGD measured 0.60 here after 3 epochs of 1,000 images
    assert results["final_test_acc"] >= 0.5
    losses = [row["train_loss"] for row in RunFolder(tmp_path / "run").read_metrics()]
    assert losses[0] > losses[1] > losses[2]


@slow
def test_ctrl_c_on_a_parallel_sweep_ends_with_one_line_and_the_rerun_resumes(tmp_path, bigger_data):
    """Ctrl-C sends SIGINT to the terminal's whole process group: the launching process and
    its joblib workers. Each run says where it stopped; the sweep ends with one line, exit 130,
    no traceback and no 'leaked semaphore' warning."""
    sweep = ["-m", "hydra/launcher=parallel", "seed=0,1", "trainer.epochs=3"]
    process = cli(
        tmp_path,
        bigger_data,
        *sweep,
        start_new_session=True,  # a process group of its own, as a terminal's job is
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_for(lambda: (tmp_path / "outputs").exists() and _rows(tmp_path) >= 1)
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 130, out
    assert out.count("stopped by SIGINT:") == 3, out  # two runs and the sweep
    assert out.rstrip().splitlines()[-1] == "stopped by SIGINT: rerun the same command to resume"
    assert "Traceback" not in out and "leaked" not in out and "KeyboardInterrupt" not in out
    checkpointed = len(list((tmp_path / "outputs").rglob("checkpoint.pt")))
    assert checkpointed >= 1  # the run counted by wait_for above
    again = cli(tmp_path, bigger_data, *sweep)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    assert out.count("resumed") == checkpointed  # a run stopped in epoch 1 starts anew
    assert len(list((tmp_path / "outputs").rglob("results.json"))) == 2
