"""The one exception users see: a problem and its fix, in one line, without a traceback."""


class StudyError(Exception):
    """A problem with the user's input, data or outputs that the user can fix.

    The message names the problem and the fix; entry points print it as one line.
    """
