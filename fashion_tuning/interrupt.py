"""Ctrl-C, SIGTERM, SIGHUP and Ctrl-Break that end a run cleanly, even in the middle of `model.fit`.

Raising from a signal handler while TensorFlow is inside C code can surface as another
exception type (a SystemError, for one), which KerasTuner would record as a failed trial and carry
on. So while Keras is training, evaluating or predicting, the handler only records the signal,
and `check()` (called from a callback at the next batch end) raises it from plain Python.
Outside Keras the handler raises at once, but records the signal too: where Python swallows
an exception raised in a handler ("Exception ignored in ..."), the next batch end raises it.
"""

import signal

from fashion_tuning import system

# {signal: exit code}, 128 + its number, of those this platform has (`system.STOP_SIGNALS`).
EXIT_CODES = system.stop_signals()

_state = {"in_keras": 0, "pending": None}


class Interrupted(BaseException):
    """A BaseException, so KerasTuner's `except Exception` around a trial cannot swallow it."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum
        self.exit_code = EXIT_CODES[signum]


def _handler(signum, frame):
    _state["pending"] = signum
    if not _state["in_keras"]:
        raise Interrupted(signum)


def install():
    """Route the signals of `EXIT_CODES` through `Interrupted`."""
    _state.update(pending=None, in_keras=0)
    for signum in EXIT_CODES:
        signal.signal(signum, _handler)


def enter_keras():
    _state["in_keras"] += 1


def leave_keras():
    _state["in_keras"] = max(0, _state["in_keras"] - 1)


def check():
    """Raise `Interrupted` if a signal arrived while Keras was running."""
    signum = _state["pending"]
    if signum is not None:
        _state.update(pending=None, in_keras=0)
        raise Interrupted(signum)
