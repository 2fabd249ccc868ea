"""The exceptions that end a run with a message of its own rather than a traceback."""

import re


# The fix for a results folder that cannot be resumed.
FRESH_START = "pass --overwrite to start afresh or choose another --results-dir"


class UserError(Exception):
    """A problem with the user's flags, data or folders; the CLI prints it and exits 2."""


class NoCompletedTrial(Exception):
    """The search ended without a single completed trial; no final model can be trained."""


class DiskFull(BaseException):
    """The disk ran full during a trial. A BaseException, so that KerasTuner's `except
    Exception` around a trial cannot record it as a failed trial and carry on."""

    def __init__(self, error):
        super().__init__(str(error))
        # h5py names the file only in its message: "..., filename = '/x/y.h5', ...".
        named = re.search(r"filename = '([^']+)'", str(error))
        self.filename = getattr(error, "filename", None) or (named and named.group(1))


def disk_full(error):
    """Whether `error`, or an error it was raised from, is "no space left on device" (h5py
    reports it as an OSError without errno, in its message)."""
    while error is not None:
        if isinstance(error, DiskFull) or (isinstance(error, OSError) and error.errno == 28):
            return True
        if "No space left on device" in str(error) or "errno = 28" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False
