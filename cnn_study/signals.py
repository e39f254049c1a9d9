"""A graceful stop: SIGTERM (a scheduler, `kill`) ends a run like Ctrl-C does, by unwinding.

Unwinding runs every `finally` and `with` on the way out: a write in progress removes its
temporary file, the run folder's lock is released, and the last checkpoint stays as it was.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Stopped(SystemExit):
    """The run was stopped by a signal. A SystemExit, so that no `except Exception` turns a
    stop into a failure, and the process exits with 128 + the signal's number."""

    def __init__(self, signum: int):
        super().__init__(128 + signum)
        self.signal_name = signal.Signals(signum).name


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise Stopped.

    Only handlers still at Python's defaults are replaced: under submitit, whose own
    handlers requeue a pre-empted job, theirs are kept. Signals can only be handled in the
    main thread; elsewhere the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise Stopped(signum)

    defaults = {signal.SIGINT: signal.default_int_handler, signal.SIGTERM: signal.SIG_DFL}
    replaced = {}
    for signum, default in defaults.items():
        if signal.getsignal(signum) is default:
            replaced[signum] = signal.signal(signum, stop)
    try:
        yield
    finally:
        for signum, previous in replaced.items():
            signal.signal(signum, previous)
