"""Files on disk: shared caches that lose no entry, locks that name their holder, and writes
that leave the old file or the new one, never half of one."""

import errno
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from cnn_study import fileio
from cnn_study.errors import StudyError
from cnn_study.fileio import JsonCache, atomic_file, atomic_write, file_lock
from tests.conftest import ROOT

ENTRIES = 150  # per writer: enough updates that two writers overlap many times

_WRITER = """
import sys, time
from pathlib import Path
from cnn_study.fileio import JsonCache
path, name, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
while time.time() < start:  # both writers begin at the same moment
    time.sleep(0.001)
cache = JsonCache(path)  # one instance, as a run keeps its cache: its entries go stale
for i in range(int(sys.argv[4])):
    cache.put(f"{name}-{i}", {"writer": name, "i": i})
"""


def python(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


# --- the shared JSON cache ------------------------------------------------------------------


def test_two_processes_updating_one_cache_at_once_lose_no_entry(tmp_path):
    path = tmp_path / "cache" / "verified.json"
    start = str(time.time() + 1.5)  # after both interpreters are up
    writers = [python("-c", _WRITER, str(path), name, start, str(ENTRIES)) for name in "ab"]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    entries = json.loads(path.read_text())
    expected = {f"{n}-{i}": {"writer": n, "i": i} for n in "ab" for i in range(ENTRIES)}
    assert entries == expected
    assert not list(path.parent.glob(".*.tmp"))


def test_a_cache_update_keeps_entries_written_since_it_was_read(tmp_path):
    path = tmp_path / "index.json"
    path.write_text(json.dumps({"old": 1}, indent=1))  # a cache written before: still read
    first, second = JsonCache(path), JsonCache(path)
    assert first.get("old") == 1
    first.put("a", 2)
    second.put("b", 3)  # second read the file before "a" was added
    assert json.loads(path.read_text()) == {"old": 1, "a": 2, "b": 3}
    assert second.get("a") == 2  # and now knows it


def test_a_cache_that_cannot_be_read_or_written_is_never_an_error(tmp_path, caplog):
    broken = tmp_path / "normalisation.json"
    broken.write_text("{not json")
    cache = JsonCache(broken)
    assert cache.get("x") is None
    cache.put("x", [1.0])
    assert json.loads(broken.read_text()) == {"x": [1.0]}

    blocked = tmp_path / "a-file"
    blocked.write_text("")
    caplog.set_level(logging.DEBUG, logger="cnn_study.fileio")
    unwritable = JsonCache(blocked / "cache.json")  # its folder is a file
    unwritable.put("y", 2)
    assert unwritable.get("y") == 2  # kept for this process
    assert "could not write the cache file" in caplog.text


# --- the lock ------------------------------------------------------------------------------


def test_a_waiting_process_names_the_holder_and_goes_on_when_it_dies(tmp_path, caplog):
    lock_file = tmp_path / "locks" / ".run.lock"
    holder = python(
        "-c",
        "import sys, time; from pathlib import Path; from cnn_study.fileio import file_lock\n"
        f"with file_lock(Path({str(lock_file)!r})):\n"
        "    print('locked', flush=True); time.sleep(600)",
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert lock_file.read_text().startswith(
            f"pid {holder.pid} on {socket.gethostname()} since "
        )
        caplog.set_level(logging.INFO, logger="cnn_study.fileio")
        inside = threading.Event()

        def wait_for_the_lock():
            with file_lock(lock_file, what="the run", doing="trained"):
                inside.set()

        waiter = threading.Thread(target=wait_for_the_lock, daemon=True)
        waiter.start()
        assert not inside.wait(timeout=1)  # held by the other process: waiting
        assert f"the run is being trained by pid {holder.pid} on" in caplog.text
        assert "waiting for it" in caplog.text
    finally:
        holder.kill()
        holder.wait()
    assert inside.wait(timeout=30)  # the OS let go of the dead holder's lock
    waiter.join(timeout=10)
    assert "the run: the other process is done, going on" in caplog.text
    assert lock_file.read_text().startswith(f"pid {os.getpid()} on ")


def test_without_file_locks_the_block_runs_with_one_warning(tmp_path, monkeypatch, caplog):
    def no_locks(*_):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fileio.fcntl, "flock", no_locks)
    lock_file = tmp_path / ".cluster.lock"
    ran = []
    for _ in range(2):
        with file_lock(lock_file, unguarded="nothing stops two runs at once"):
            ran.append(True)
    assert ran == [True, True]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        f"{lock_file}: this filesystem has no file locks (No locks available); "
        "nothing stops two runs at once"
    ]
    assert lock_file.read_text().startswith(f"pid {os.getpid()} on ")


def test_a_read_only_folder_needs_no_lock(tmp_path, monkeypatch):
    lock_file = tmp_path / ".archive.lock"
    real_open = Path.open

    def read_only(self, *args, **kwargs):
        if self == lock_file:
            raise OSError(errno.EROFS, "Read-only file system")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", read_only)
    ran = []
    with file_lock(lock_file):
        ran.append(True)
    assert ran == [True] and not lock_file.exists()

    def full(self, *args, **kwargs):
        if self == lock_file:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", full)
    with pytest.raises(OSError, match="No space"), file_lock(lock_file):
        pass  # a lock that is needed and cannot be made is an error
    with file_lock(lock_file, optional=True):  # unless it only saves repeated work
        ran.append(True)
    assert ran == [True, True]


# --- atomic writes -------------------------------------------------------------------------


def fsync_failing_with(monkeypatch, code: int, text: str) -> None:
    def fail(fd):
        raise OSError(code, text)

    monkeypatch.setattr(fileio.os, "fsync", fail)


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    atomic_write(path, "old")
    fsync_failing_with(monkeypatch, errno.EIO, "Input/output error")
    with pytest.raises(OSError, match="Input/output error"):
        atomic_write(path, b"new")
    assert path.read_text() == "old"
    with pytest.raises(RuntimeError), atomic_file(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer died")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


@pytest.mark.parametrize(
    ("code", "text", "fix"),
    [
        (errno.ENOSPC, "No space left on device", "free some space"),
        (errno.EROFS, "Read-only file system", "make it writable"),
    ],
)
def test_a_full_or_read_only_disk_is_one_line(tmp_path, monkeypatch, code, text, fix):
    path = tmp_path / "checkpoint.pt"
    fsync_failing_with(monkeypatch, code, text)
    with pytest.raises(StudyError) as err:
        atomic_write(path, b"weights")
    message = str(err.value)
    assert "\n" not in message
    assert f"cannot write {path} ({text}): {fix}" in message
    assert "rerun the same command" in message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert not path.exists() and not list(tmp_path.glob(".*.tmp"))


def test_move_renames_a_folder_in_one_step(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.csv").write_text("epoch\n1\n")
    fileio.move(tmp_path / "run", tmp_path / ".run.replaced")
    assert not (tmp_path / "run").exists()
    assert (tmp_path / ".run.replaced" / "metrics.csv").read_text() == "epoch\n1\n"
