"""Files on disk: writes that never leave half a file, locks between processes, and the small
JSON caches that parallel runs share.

Every file is written to a temporary name beside it and renamed into place, so a crash
mid-write leaves the old file or the new one, never a broken one. A lock is an flock on a file
that names its holder: the OS releases it when the holder dies, so a killed process never
leaves a stale lock, and a process that has to wait can say whom it waits for.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from cnn_study.errors import StudyError

log = logging.getLogger(__name__)

# Errors of a full or unwritable disk: the run stops with one line, its last checkpoint kept.
_NO_ROOM = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space (quota)"}
_NOT_WRITABLE = {errno.EROFS, errno.EACCES, errno.EPERM}
# What some cluster filesystems answer to a lock they do not support.
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}
# Lock files whose filesystem was found to have no locks: warned about once per process, so a
# cache updated every epoch does not repeat the warning.
_warned_unlocked: set[Path] = set()


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path beside path for the block to write; renamed to path when the block
    ends without an error, removed when it does not."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _write_through(path: Path, data: bytes | str) -> None:
    with atomic_file(path) as tmp, tmp.open("wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
        f.flush()
        os.fsync(f.fileno())  # on disk before the rename makes it the file


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write data to path through a temporary file and a rename.

    The file at path is either the old one or the new one, never a partial write. On any
    failure the temporary file is removed; a full or read-only disk becomes one StudyError.
    """
    try:
        _write_through(path, data)
    except OSError as exc:
        if exc.errno in _NO_ROOM or exc.errno in _NOT_WRITABLE:
            fix = _NO_ROOM.get(exc.errno, "make it writable")
            raise StudyError(
                f"cannot write {path} ({exc.strerror}): {fix}, or choose another "
                "paths.output_dir, then rerun the same command; what was already written "
                "(the last checkpoint) is kept"
            ) from None
        raise


def move(source: Path, target: Path) -> None:
    """Rename source (a file or a folder) to target in one step, on the same filesystem."""
    os.replace(source, target)


@contextlib.contextmanager
def file_lock(
    lock_file: Path,
    what: str | None = None,
    doing: str = "used",
    unguarded: str = "nothing stops two processes from writing at once",
    optional: bool = False,
) -> Iterator[bool]:
    """Hold an exclusive lock on lock_file (made, with its folder, where missing) for the block;
    yields whether it holds it (False where it went on without, as below).

    The file names the holder ("pid N on host since T"). Where another process holds it, this
    one waits: with a warning naming `what` ("<what> is being <doing> by <holder>: waiting for
    it") where what is given, quietly where not (a lock held for a moment). Where the filesystem
    has no locks (some cluster filesystems return ENOLCK or EOPNOTSUPP), the block runs
    unlocked, with one warning saying what is `unguarded`. A read-only folder needs no lock:
    nothing can write there, this process included. With optional, a lock file that cannot
    be made for any other reason is also gone without (the lock only saves repeated work).
    """
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        f = lock_file.open("a+")  # noqa: SIM115 (closed below)
    except OSError as exc:
        if exc.errno not in _NOT_WRITABLE and not optional:
            raise
        log.debug("%s: cannot be made (%s), going on without the lock", lock_file, exc.strerror)
        f = None
    if f is None:
        yield False
        return
    with f:
        locked = True
        try:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.seek(0)
                holder = f.read().strip() or "another process"
                if what is None:
                    log.debug("%s is held by %s: waiting for it", lock_file, holder)
                else:
                    log.warning("%s is being %s by %s: waiting for it", what, doing, holder)
                fcntl.flock(f, fcntl.LOCK_EX)
                if what is not None:
                    log.info("%s: the other process is done, going on", what)
        except OSError as exc:
            if exc.errno not in _NO_LOCKS:
                raise
            locked = False
            if lock_file not in _warned_unlocked:
                _warned_unlocked.add(lock_file)
                log.warning(
                    "%s: this filesystem has no file locks (%s); %s",
                    lock_file,
                    exc.strerror,
                    unguarded,
                )
        f.seek(0)
        f.truncate()
        stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
        f.write(f"pid {os.getpid()} on {socket.gethostname()} since {stamp}\n")
        f.flush()
        yield locked


class JsonCache:
    """A dict of entries in one JSON file, shared by the processes that run at once.

    An update re-reads the file under its lock, adds its entries and writes the whole through
    a rename, so two processes updating at once both keep their entries. A cache that cannot
    be read starts empty, and one that cannot be written only costs the work again next time:
    neither is ever an error.
    """

    def __init__(self, path: Path):
        self.path = path
        self.lock_file = path.with_name(f".{path.name}.lock")
        self.entries = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            entries = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> Any:
        return self.entries.get(key)

    def put(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, new: Mapping[str, Any]) -> None:
        """Add these entries to the file's, as the file is now, not as it was when read."""
        self.entries.update(new)
        try:
            with file_lock(self.lock_file, optional=True):
                entries = self._read()
                entries.update(new)
                with atomic_file(self.path) as tmp:
                    tmp.write_text(json.dumps(entries, indent=1))
            self.entries = entries
        except OSError as exc:
            log.debug("could not write the cache file %s: %s", self.path, exc)
