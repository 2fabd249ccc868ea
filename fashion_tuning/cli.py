"""The command line of both scripts: parse the flags, run, turn errors into exit codes."""

import os
import shlex
import sys
import time

from fashion_tuning import distributed, interrupt
from fashion_tuning.errors import refused_write, store_errno
from fashion_tuning.exits import ending
from fashion_tuning.flags import parse_config
from fashion_tuning.results import utc_now

USER_TF_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")  # Before we set a default.
_ended = {"write_failed": False}


def main(strategy, argv=None, description=""):
    """Run one strategy end to end. Returns the process exit code."""
    config = parse_config(strategy, argv, description)
    start = time.perf_counter()
    arguments = sys.argv[1:] if argv is None else [str(a) for a in argv]
    invocation = {"started_at": utc_now(), "command_line": shlex.join(sys.argv),
                  "arguments": arguments}
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Hide TF's C++ chatter.
    sys.stdout.reconfigure(line_buffering=True)  # Progress shows up promptly under tee or nohup.
    interrupt.install()
    folder = config.strategy_folder(strategy)
    role, tuner_id = distributed.role(), distributed.tuner_id()  # Decided here, once.
    try:
        if config.workers and role == "single":
            return distributed.launch(strategy, arguments, config.workers, folder)
        # Deferred: TensorFlow takes seconds to import; --help and flag errors should not wait.
        from fashion_tuning import pipeline

        # Quiet unless the user asked for TensorFlow's INFO or WARNING lines (level 0 or 1).
        pipeline.run(strategy, config, role, tuner_id, invocation, start,
                     quiet_tensorflow=USER_TF_LOG_LEVEL not in ("0", "1"))
    except BaseException as e:
        ended = ending(e, folder)
        if ended is None:
            raise
        if refused_write(e):
            _quiet_write_failure_echoes()
            _ended["write_failed"] = True
        code, line = ended
        print(line, file=sys.stderr)
        return code
    return 0


def _quiet_write_failure_echoes():
    """Keep stderr to our one line: h5py reports the failed write again, as a traceback and
    as "Exception ignored", while it frees the objects of the file it could not write."""
    default_unraisable = sys.unraisablehook

    def unraisable(info):
        if not isinstance(info.exc_value, OSError) and not store_errno(info.exc_value):
            default_unraisable(info)

    def excepthook(kind, value, traceback):
        if not isinstance(value, OSError) and not store_errno(value):
            sys.__excepthook__(kind, value, traceback)

    sys.unraisablehook, sys.excepthook = unraisable, excepthook


def run_script(strategy, description=""):
    """The entry scripts' `__main__`: run `main` and exit with its code.

    After a failed write the process ends without the interpreter's teardown, in which h5py,
    freeing a weights file it could not finish writing, prints tracebacks and can segfault.
    """
    code = main(strategy, description=description)
    if _ended["write_failed"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
