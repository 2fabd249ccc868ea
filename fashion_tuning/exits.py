"""How a command ends on an error a user can cause: its exit code and its one line on stderr,
for the scripts (`cli.main`) and the helper tools (`report.run_tool`) alike."""

import signal

from fashion_tuning.errors import (TRIALS_KEPT, NoCompletedTrial, NotTheTrials, UserError,
                                   cannot_write, refused_write)
from fashion_tuning.flags import EXIT_USAGE
from fashion_tuning.interrupt import Interrupted
from fashion_tuning.results_folder import what_is_kept

EXIT_NO_TRIAL = 1


def ending(error, folder=None, flag="--results-dir", kept=TRIALS_KEPT, any_os_error=False):
    """How `error` ends the command that writes into `folder`.

    Args:
        error: what the command raised.
        folder: the folder it writes into; None where it writes nowhere, and then no OSError
            is the user's.
        flag: the flag that names another such folder.
        kept: what running the same command again keeps, for the line of a failed write.
        any_os_error: whether every OSError is a failed write into `folder` (a helper tool,
            whose readers raise UserError), not only one the store refused (`refused_write`).

    Returns:
        `(exit code, what to print on stderr)`, or None for an error that is a bug: the
        caller lets its traceback through.
    """
    if type(error) is NotTheTrials:  # A user's error that a trial met: said as it is.
        error = error.error
    if isinstance(error, UserError):
        return EXIT_USAGE, f"error: {error}"
    if isinstance(error, Interrupted):
        return error.exit_code, (f"\ninterrupted by {signal.Signals(error.signum).name}; "
                                 f"{what_is_kept(folder)}")
    if isinstance(error, NoCompletedTrial):
        return EXIT_NO_TRIAL, (f"error: {error}; see the messages in {folder}/trial_*/trial.json. "
                               "No final model was trained.")
    if folder is not None and (refused_write(error)
                               or any_os_error and isinstance(error, OSError)):
        # A write KerasTuner or TensorBoard failed knows its own folder and flag.
        return EXIT_USAGE, "error: " + cannot_write(
            error, getattr(error, "where", None) or folder, getattr(error, "flag", flag), kept)
    return None
