"""Shapes this Linux Python's standard library as Windows has it, before a script starts.

On PYTHONPATH, Python imports this at start-up (tests/test_portable.py): fcntl, resource and
termios cannot be imported, the POSIX-only signals and process-group calls are gone, Windows'
SIGBREAK appears (21, Linux's SIGTTIN), and a `msvcrt` with Windows' byte locks, built on the
real fcntl, stands in so that the Windows branch of the folder lock really runs.
"""

import errno
import fcntl as _real_fcntl
import os
import signal
import subprocess  # noqa: F401 -- before the fake msvcrt: it takes the platform to be Windows if that imports.
import sys
import types

WINDOWS_SIGNALS = {"SIGABRT", "SIGBREAK", "SIGFPE", "SIGILL", "SIGINT", "SIGSEGV", "SIGTERM"}


def _locking(fd, mode, nbytes):
    """msvcrt.locking: lock or unlock `nbytes` from the file position; OSError if taken."""
    start = os.lseek(fd, 0, os.SEEK_CUR)
    if mode == msvcrt.LK_UNLCK:
        _real_fcntl.lockf(fd, _real_fcntl.LOCK_UN, nbytes, start)
        return
    try:
        _real_fcntl.lockf(fd, _real_fcntl.LOCK_EX | _real_fcntl.LOCK_NB, nbytes, start)
    except BlockingIOError:
        raise PermissionError(errno.EACCES, "Permission denied") from None


msvcrt = types.ModuleType("msvcrt")
msvcrt.LK_UNLCK, msvcrt.LK_LOCK, msvcrt.LK_NBLCK = 0, 1, 2
msvcrt.locking = _locking
sys.modules["msvcrt"] = msvcrt
for name in ("fcntl", "resource", "termios"):
    sys.modules[name] = None  # `import name` now raises ImportError.

signal.SIGBREAK = 21
for name in [n for n in dir(signal) if n.startswith("SIG") and not n.startswith("SIG_")]:
    if name not in WINDOWS_SIGNALS:
        delattr(signal, name)
for name in ("alarm", "pause", "setitimer", "getitimer", "siginterrupt", "pthread_kill",
             "pthread_sigmask", "sigwait"):
    if hasattr(signal, name):
        delattr(signal, name)
for name in ("killpg", "setsid", "getpgid", "setpgid", "getpgrp", "getsid", "setpgrp", "fork"):
    if hasattr(os, name):
        delattr(os, name)
