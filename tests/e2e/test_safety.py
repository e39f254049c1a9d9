"""Safe at scale, through the command line: one trainer per run folder, failures that never
stop a sweep, graceful stops on real signals, and a really full disk.
(The same in process, with simulated failures: tests/unit/test_lifecycle.py.)"""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from cnn_study.runs import RunFolder
from tests.conftest import ROOT, run_cli, tiny_overrides
from tests.e2e.conftest import reference_rows


def without_time(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def interruptible() -> None:
    """SIGINT at its default, as in a terminal. A suite started in the background (a shell's
    `&`, some CI runners) hands its processes SIGINT ignored, and cnn_study rightly leaves
    alone a disposition it did not set: the test's SIGINT would never reach the run."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cli(tmp_path, data_dir, *overrides, **popen):
    """The CLI as a user starts it from a terminal, in the background."""
    popen.setdefault("preexec_fn", interruptible)
    return subprocess.Popen(
        # Flags (-m) before the overrides, as Hydra's command line wants them.
        [sys.executable, "-m", "cnn_study"]
        + [o for o in overrides if o == "-m"]
        + [*tiny_overrides(data_dir, tmp_path), *(o for o in overrides if o != "-m")],
        cwd=ROOT,
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


def test_two_identical_commands_train_the_folder_once(tmp_path, epoch_data):
    first = cli(tmp_path, epoch_data, "trainer.epochs=3")
    second = cli(tmp_path, epoch_data, "trainer.epochs=3")
    outs = [p.communicate(timeout=300) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    folder = the_run(tmp_path)
    # every epoch trained and logged once, not twice
    assert epochs_logged(folder) == ["1/3", "2/3", "3/3"]
    text = "".join(out for out, _ in outs)
    assert text.count("waiting for it") == 1 and text.count("already finished") == 1


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


# --- a graceful stop -----------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_epoch_keeps_the_checkpoint_and_the_rerun_resumes_exactly(
    tmp_path, epoch_data, reference_run, signum
):
    # Six epochs of about 0.7 s here: the signal comes in epoch 2 and still lands mid-run on
    # a machine 3x faster, or where this process waits a second or two for a core.
    epochs = 6
    process = cli(tmp_path, epoch_data, f"trainer.epochs={epochs}")
    wait_for(lambda: (tmp_path / "outputs").exists() and _rows(tmp_path) >= 1)
    time.sleep(0.1)  # into epoch 2
    process.send_signal(signum)
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 128 + signum, out
    assert f"stopped by {signal.Signals(signum).name}" in out and "Traceback" not in out
    folder = the_run(tmp_path)
    done = folder.load_checkpoint()["epoch"]
    assert 1 <= done < epochs and not folder.results_file.exists()
    assert not list(folder.path.glob(".*.tmp"))
    again = cli(tmp_path, epoch_data, f"trainer.epochs={epochs}")
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    assert f"after epoch {done} of {epochs}" in out
    trained_after = [e for e in epochs_logged(folder)][-(epochs - done) :]
    assert trained_after == [f"{e}/{epochs}" for e in range(done + 1, epochs + 1)]
    assert without_time(folder.read_metrics()) == reference_rows(reference_run, epochs)


def _runs_with_an_epoch(tmp_path) -> int:
    files = (tmp_path / "outputs").rglob("metrics.csv") if (tmp_path / "outputs").exists() else []
    return sum(len(f.read_text().splitlines()) > 1 for f in files)


def _rows(tmp_path) -> int:
    files = list((tmp_path / "outputs").rglob("metrics.csv"))
    return len(files[0].read_text().splitlines()) - 1 if files else 0


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


def test_root_dir_is_the_process_folder_not_the_shells(tmp_path, tiny_data):
    """Started from another folder than the project's (and a shell's PWD elsewhere still)."""
    overrides = [o for o in tiny_overrides(tiny_data, tmp_path) if "root_dir" not in o]
    env = {"PWD": "/somewhere/else"}
    done = run_cli("cnn_study", *overrides, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    (results,) = (tmp_path / "outputs").rglob("results.json")
    assert json.loads(results.read_text())["config"]["paths"]["root_dir"] == str(tmp_path)


def test_ctrl_c_on_a_parallel_sweep_ends_with_one_line_and_the_rerun_resumes(tmp_path, epoch_data):
    """Ctrl-C sends SIGINT to the terminal's whole process group: the launching process and
    its joblib workers. Each run says where it stopped; the sweep ends with one line, exit 130,
    no traceback and no 'leaked semaphore' warning."""
    sweep = ["-m", "hydra/launcher=parallel", "seed=0,1", "trainer.epochs=8"]
    process = cli(
        tmp_path,
        epoch_data,
        *sweep,
        start_new_session=True,  # a process group of its own, as a terminal's job is
    )
    # Both runs training (a worker that starts late would be stopped before its run began,
    # with nothing to say), neither finished: 8 epochs leave time on a machine 3x faster.
    wait_for(lambda: _runs_with_an_epoch(tmp_path) == 2)
    os.killpg(process.pid, signal.SIGINT)
    out, _ = process.communicate(timeout=120)
    assert process.returncode == 130, out
    assert out.count("stopped by SIGINT:") == 3, out  # two runs and the sweep
    assert out.rstrip().splitlines()[-1] == "stopped by SIGINT: rerun the same command to resume"
    assert "Traceback" not in out and "leaked" not in out and "KeyboardInterrupt" not in out
    checkpointed = len(list((tmp_path / "outputs").rglob("checkpoint.pt")))
    assert checkpointed >= 1  # the run counted by wait_for above
    again = cli(tmp_path, epoch_data, *sweep)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    assert out.count("resumed") == checkpointed  # a run stopped in epoch 1 starts anew
    assert len(list((tmp_path / "outputs").rglob("results.json"))) == 2


@pytest.fixture
def read_only_copy(tmp_path):
    """A read-only bind mount of tmp_path/archive (root only): an archive of finished runs."""
    archive, mount = tmp_path / "archive", tmp_path / "mounted"
    archive.mkdir()
    mount.mkdir()
    made = subprocess.run(["mount", "--bind", str(archive), str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {made.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(mount)], check=True)
        yield archive, mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_finished_study_on_a_read_only_archive_is_skipped_without_writing(
    tmp_path, tiny_data, read_only_copy
):
    archive, mount = read_only_copy
    sweep = ["-m", "dataset=mnist,fashion", "trainer.epochs=1"]
    made = cli(tmp_path, tiny_data, *sweep, f"paths.output_dir={archive}")
    assert made.wait(timeout=120) == 0
    before = {p: p.stat().st_mtime_ns for p in archive.rglob("*")}
    again = cli(tmp_path, tiny_data, *sweep, f"paths.output_dir={mount}")
    out, _ = again.communicate(timeout=120)
    assert again.returncode == 0, out
    assert "is read-only" in out and out.count("skipped ") == 2
    assert "Traceback" not in out and "cannot hold run folders" not in out
    assert {p: p.stat().st_mtime_ns for p in archive.rglob("*")} == before  # nothing written
