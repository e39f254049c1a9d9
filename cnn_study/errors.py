"""The one exception users see: a problem and its fix, in one line, without a traceback.

And the one a failed run ends with, carrying where it recorded its failure.
"""

from __future__ import annotations

from pathlib import Path


class StudyError(Exception):
    """A problem with the user's input, data or outputs that the user can fix.

    The message names the problem and the fix; entry points print it as one line. Where the
    two are given apart, they stay apart as data: force=true logs the reason alone.
    """

    def __init__(self, reason: str, fix: str = "", *, separator: str = ": "):
        super().__init__(f"{reason}{separator}{fix}" if fix else reason)
        self.reason = reason
        self.fix = fix


class RunFailed(Exception):
    """A run failed after it began and recorded its failure in failure_file.

    Raised from the original exception (its __cause__), whose message it repeats, so that a
    sweep's failure report can point at the record without guessing which file is this one.
    """

    def __init__(self, message: str, failure_file: Path):
        super().__init__(message)
        self.failure_file = failure_file

    @property
    def cause(self) -> BaseException | None:
        return self.__cause__

    def __reduce__(self):  # a joblib or submitit worker sends it back pickled
        return type(self), (str(self), self.failure_file)
