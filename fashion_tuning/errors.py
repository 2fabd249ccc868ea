"""The exceptions that end a run with a message of its own rather than a traceback, and the one
line that says a write failed."""

import errno
import os
import re

# The fix for a results folder that cannot be resumed.
FRESH_START = "pass --overwrite to start afresh or choose another --results-dir"
TRIALS_KEPT = " (completed trials are kept)"  # What a run's rerun keeps after a failed write.

# Errors of a store that refuses our writes, by errno: what happened and how to fix it. A
# quota (EDQUOT, shared servers) and a size limit (EFBIG) are a full disk to the user.
_SPACE = "free some space"
STORE_ERRORS = {
    errno.ENOSPC: ("no space left on the device of {where}", _SPACE),
    getattr(errno, "EDQUOT", 122): ("the disk quota is exceeded on the device of {where}", _SPACE),
    errno.EFBIG: ("a file grew past the size limit of the device of {where}", _SPACE),
    errno.EROFS: ("{where} is on a read-only file system", "make it writable"),
    errno.EACCES: ("no permission to write into {where}", "make it writable"),
    errno.EPERM: ("no permission to write into {where}", "make it writable"),
    errno.EIO: ("the device of {where} failed a write (input/output error)",
                "check the device"),
}
# Where Python frames write TensorBoard logs: Keras' callback and the HParams one KerasTuner adds.
LOG_WRITERS = tuple(os.path.join(*parts) for parts in (
    ("callbacks", "tensorboard.py"), ("hparams", "_keras.py"), ("ops", "summary_ops_v2.py")))


class UserError(Exception):
    """A problem with the user's flags, data or folders; the CLI prints it and exits 2."""


class NoCompletedTrial(Exception):
    """The search ended without a single completed trial; no final model can be trained."""


class NotTheTrials(BaseException):
    """What a trial raised that is not the trial's failure (`error`: a damaged file of another
    trial that pruning read, a write our bookkeeping could not make), carried past KerasTuner's
    `except Exception` around a trial, which would record the trial failed for good: the run
    ends, and a resume runs the trial again."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class WriteFailed(NotTheTrials):
    """A write of ours, KerasTuner's or TensorBoard's failed: the store refused it
    (`store_errno`), the OS failed it otherwise, or the log writer did.

    Args:
        error: what was raised.
        where: the folder written into, where known (the TensorBoard folder for logs).
        flag: the flag that names another such folder.
    """

    def __init__(self, error, where=None, flag="--results-dir"):
        super().__init__(error)
        self.where, self.flag = where, flag
        # h5py names the file only in its message: "..., filename = '/x/y.h5', ...".
        named = re.search(r"filename = '([^']+)'", str(error))
        self.filename = getattr(error, "filename", None) or (named and named.group(1))


def store_errno(error):
    """The errno of `STORE_ERRORS` that `error`, or an error it was raised from, carries
    (h5py and TensorFlow report it only in their messages), or None."""
    while error is not None:
        if isinstance(error, WriteFailed):
            return store_errno(error.error)
        if isinstance(error, OSError) and error.errno in STORE_ERRORS:
            return error.errno
        text = str(error)
        for number in STORE_ERRORS:
            if f"errno = {number}," in text or os.strerror(number) in text:
                return number
        error = error.__cause__ or error.__context__
    return None


def refused_write(error):
    """Whether `error` is a failed write of a run: one the store refused (`store_errno`), or
    a `WriteFailed` (a log writer's own error too)."""
    return isinstance(error, WriteFailed) or (isinstance(error, OSError)
                                              and store_errno(error) is not None)


def in_log_writer(error):
    """Whether `error` was raised while writing TensorBoard logs."""
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename.endswith(LOG_WRITERS):
            return True
        frame = frame.tb_next
    return False


def cannot_write(error, where, flag="--results-dir", kept=TRIALS_KEPT):
    """The one line for a failed write: what the store said, the file, the fix, and that the
    same command resumes (`kept`: what a rerun keeps)."""
    number, inner = store_errno(error), getattr(error, "error", error)
    filename = getattr(error, "filename", None)
    if number is None:  # Not the store's: the system's reason, or the error's first line.
        detail = getattr(inner, "strerror", None) or str(inner).strip().splitlines()[0]
        reason, fix = f"cannot write into {where} ({detail})", "fix it"
    else:
        reason, fix = STORE_ERRORS[number]
        reason = reason.format(where=where)
    return (reason + (f" while writing {filename}" if filename else "")
            + f"; {fix} and run the same command again{kept}, or pass another {flag}")
