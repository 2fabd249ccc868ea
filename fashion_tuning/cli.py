"""Command line shared by both scripts: flags generated from `Config`, errors as exit 2."""

import argparse
import contextlib
import os
import shlex
import signal
import sys
import textwrap
import time

from fashion_tuning import distributed, interrupt
from fashion_tuning import folder as results_folder
from fashion_tuning.config import Config, fields_for, flag_name, quick_preset
from fashion_tuning.data import SOURCE_ORDER
from fashion_tuning.errors import DiskFull, NoCompletedTrial, UserError, disk_full
from fashion_tuning.results import utc_now

USER_TF_LOG_LEVEL = os.environ.get("TF_CPP_MIN_LOG_LEVEL")  # Before we set a default.
EXIT_USAGE = 2
EXIT_NO_TRIAL = 1
_ended = {"disk_full": False}


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, not argparse's usage block: the problem and where to look.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class _DefaultsFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout and adds "(default: X)" where a default means something."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or "default" in action.help:
            return action.help
        return action.help + " (default: %(default)s)"


def tool_parser(description):
    """The argument parser of a helper tool (compare, study, benchmark), help from `description`."""
    return argparse.ArgumentParser(description=description, formatter_class=_DefaultsFormatter)


def _typed(kind):
    """An argparse `type` whose error names the expected kind."""
    def convert(text):
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n' if kind is int else ''} "
                                             f"{kind.__name__}") from None
    return convert


def make_parser(strategy, description):
    """The argument parser of `strategy`'s script; defaults and help come from `Config`."""
    parser = _Parser(
        description=description,
        epilog=textwrap.fill(f"Data is loaded from: {SOURCE_ORDER}. Re-running into an "
                             "existing results folder resumes the search."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # default=None everywhere, so that --quick can tell "not given" from "given".
    for f in fields_for(strategy):
        flag = flag_name(f.name)
        if f.type is bool:
            preset = quick_preset(strategy) if f.name == "quick" else {}
            extra = "".join(f" {flag_name(k)} {v}" for k, v in preset.items())
            # A switch that is on by default also gets its --no- form.
            action = argparse.BooleanOptionalAction if f.default else "store_true"
            parser.add_argument(flag, action=action, default=None,
                                help=f.metadata["help"] + extra
                                + (" (default: on)" if f.default else ""))
            continue
        parser.add_argument(flag, type=_typed(f.type), choices=f.metadata.get("choices"),
                            default=None, metavar=f.metadata.get("metavar"),
                            help=f.metadata["help"] + (f" (default: {f.default})"
                                                       if f.default is not None else ""))
    return parser


def parse_config(strategy, argv, description=""):
    """Parse `argv` into a validated `Config`; bad values exit 2 with one line."""
    parser = make_parser(strategy, description)
    args = vars(parser.parse_args(argv))
    given = {k: v for k, v in args.items() if v is not None}
    preset = quick_preset(strategy) if given.get("quick") else {}
    try:
        return Config(**{**preset, **given})
    except UserError as e:
        parser.error(str(e))


@contextlib.contextmanager
def _native_stderr_silenced(enabled):
    """Hide what C++ code writes to stderr (TensorFlow's import-time INFO lines, which
    TF_CPP_MIN_LOG_LEVEL no longer reaches); Python exceptions still surface afterwards."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _wants_quiet_tf():
    """Quiet unless the user asked for TensorFlow's INFO or WARNING lines (level 0 or 1)."""
    return USER_TF_LOG_LEVEL not in ("0", "1")


def resume_line(folder, max_trials):
    """What a resumed search will do, from the trials recorded in `folder`."""
    recorded = len(list(folder.glob("trial_*/trial.json")))
    if recorded > max_trials:
        return (f"Resuming the search in {folder}: {recorded} trials recorded, more than "
                f"--max-trials {max_trials}, so no new trial runs; the best of all {recorded} "
                "is reported")
    return (f"Resuming the search in {folder}: {recorded} of {max_trials} trials recorded "
            "(--overwrite starts afresh)")


def tune_in_folder(strategy, config, folder, start, invocation):
    """Check the folder, load the data, search, train the final model, report. Raises on user
    errors.

    A distributed worker shares the chief's folder: it neither locks nor clears it, and it
    only runs trials; the chief trains the final model and reports once all workers are done.
    """
    role = distributed.role()
    results_folder.check_writable(folder)
    with results_folder.lock(folder) if role != "worker" else contextlib.nullcontext():
        if config.overwrite and role != "worker":
            results_folder.clear(folder)
        # Deferred: TensorFlow takes seconds to import; --help and flag errors should not wait.
        with _native_stderr_silenced(_wants_quiet_tf()):
            from fashion_tuning import pipeline, report, results
            from fashion_tuning.hypermodel import search_space

            space = search_space()  # The first TF op, which probes for a GPU.
        from fashion_tuning.data import load_fashion_mnist

        dataset = load_fashion_mnist(config.data_dir)
        if not config.overwrite and role != "worker":  # The chief checks for its workers.
            results_folder.check_resumable(folder)
        # Only now, with the data validated: a failed start must not pin the settings.
        results_folder.check_or_record_settings(
            folder, results_folder.fixed_settings(config, space, dataset.fingerprint()),
            config.overwrite, record=role != "worker")
        print(f"Data: {dataset.source} ({len(dataset.y_train):,} train / "
              f"{len(dataset.y_test):,} test images); ready after "
              f"{time.perf_counter() - start:.1f} s (imports and validation)")
        if role == "worker":
            print(f"{distributed.tuner_id()}: asking the chief at "
                  f"{os.environ[distributed.ORACLE_IP]}:{os.environ[distributed.ORACLE_PORT]} "
                  "for trials")
        elif (folder / results_folder.ORACLE_FILE).is_file():
            print(resume_line(folder, config.max_trials))
        else:
            print(f"Starting a new search in {folder}")
        result = pipeline.tune_and_evaluate(strategy, config, dataset, folder, invocation)
        if result is None:
            print(f"{distributed.tuner_id()}: no trials left; the chief trains the final model and reports")
            return
        paths = results.write_results(result, folder)
    print(report.summary_table(result.to_dict()))
    print("Wrote " + ", ".join(str(p) for p in (*paths, folder / results.MODEL_FILE)))


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
    try:
        if config.workers and distributed.role() == "single":
            return distributed.launch(strategy, arguments, config.workers)
        tune_in_folder(strategy, config, folder, start, invocation)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, DiskFull) as e:
        if not disk_full(e):
            raise
        _quiet_disk_full_echoes()
        print(f"error: no space left on the device of {folder} while writing "
              f"{e.filename or 'the results'}; free some space and run the same command again "
              "(completed trials are kept), or pass another --results-dir", file=sys.stderr)
        _ended["disk_full"] = True
        return EXIT_USAGE
    except interrupt.Interrupted as e:
        print(f"\ninterrupted by {signal.Signals(e.signum).name}; completed trials are saved in "
              f"{folder}: run the same command again to resume", file=sys.stderr)
        return e.exit_code
    except NoCompletedTrial as e:
        print(f"error: {e}; see the messages in {folder}/trial_*/trial.json. "
              "No final model was trained.", file=sys.stderr)
        return EXIT_NO_TRIAL
    return 0


def _quiet_disk_full_echoes():
    """Keep stderr to our one line: h5py reports the failed write again, as a traceback and
    as "Exception ignored", while it frees the objects of the file it could not write."""
    default_unraisable = sys.unraisablehook

    def unraisable(info):
        if not disk_full(info.exc_value):
            default_unraisable(info)

    def excepthook(kind, value, traceback):
        if not disk_full(value):
            sys.__excepthook__(kind, value, traceback)

    sys.unraisablehook, sys.excepthook = unraisable, excepthook


def run_script(strategy, description=""):
    """The entry scripts' `__main__`: run `main` and exit with its code.

    After a full disk the process ends without the interpreter's teardown, in which h5py,
    freeing a weights file it could not finish writing, prints tracebacks and can segfault.
    """
    code = main(strategy, description=description)
    if _ended["disk_full"]:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
