"""The run's log file, as Hydra's job logging opens it (conf/hydra/default.yaml)."""

from __future__ import annotations

import logging


class RunLogFile(logging.FileHandler):
    """A FileHandler opened at the run's first log line, not before the run starts; where
    the run folder cannot be written (a read-only archive of finished runs), the lines go to
    the console only, instead of every log call raising."""

    def __init__(self, filename: str, mode: str = "a", encoding: str | None = None) -> None:
        super().__init__(filename, mode, encoding, delay=True)
        self.unwritable = False

    def emit(self, record: logging.LogRecord) -> None:
        if self.unwritable:
            return
        try:
            super().emit(record)
        except OSError:  # opening the file failed: nothing could be written there
            self.unwritable = True
