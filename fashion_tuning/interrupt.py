"""Ctrl-C and SIGTERM that end a run cleanly, even in the middle of `model.fit`.

Raising from a signal handler while TensorFlow is inside C code can surface as another
exception type (seen: SystemError), which KerasTuner would record as a failed trial and carry
on. So while Keras is training, evaluating or predicting, the handler only records the signal,
and `check()` (called from a callback at the next batch end) raises it from plain Python.
"""

import signal

EXIT_CODES = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + signal number, as shells do.

_state = {"in_keras": 0, "pending": None}


class Interrupted(BaseException):
    """A BaseException, so KerasTuner's `except Exception` around a trial cannot swallow it."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum
        self.exit_code = EXIT_CODES[signum]


def _handler(signum, frame):
    if _state["in_keras"]:
        _state["pending"] = signum
    else:
        raise Interrupted(signum)


def install():
    """Route SIGINT and SIGTERM through `Interrupted`."""
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
