"""What the studies share: reading the summaries of earlier runs (archived ones too), their
split, training a configuration as the product does and timing its epochs, and the files a
study writes."""

import contextlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from fashion_tuning import atomic
from fashion_tuning.config import HAND_PICKED
from fashion_tuning.errors import UserError
from fashion_tuning.results import SUMMARY_FILE, read_summary, setting

ROOT = Path(__file__).resolve().parents[1]


def read_summary_at(path):
    """The summary in `path`, a summary.json or the folder holding one, as `read_summary`
    reads it.

    Raises:
        UserError: there is none, or it is damaged.
    """
    path = Path(path)
    summary = read_summary(path.parent if path.name == SUMMARY_FILE else path)
    if summary is None:
        raise UserError(f"{path}: no {SUMMARY_FILE} there; give the {SUMMARY_FILE} of a "
                        "finished run")
    return summary


def in_space(hyperparameters):
    """`hyperparameters` without the trunk's names where they name the fixed trunk, as archived
    summaries record it.

    Raises:
        UserError: they name another trunk, or a name the search space lacks: a model this
            version cannot build.
    """
    from fashion_tuning.model import FILTERS, STAGE2_CONVS  # Deferred: TensorFlow.

    # The fixed trunk, by the names of archived summaries whose space searched it.
    trunk = {"filters": FILTERS, "stage2_convs": STAGE2_CONVS}
    for name, fixed in trunk.items():
        if hyperparameters.get(name, fixed) != fixed:
            raise UserError(f"the configuration has {name}={hyperparameters[name]}, but the "
                            f"trunk is fixed at {name}={fixed}; take a configuration from a "
                            "run of this version")
    searched = {k: v for k, v in hyperparameters.items() if k not in trunk}
    unknown = sorted(set(searched) - set(HAND_PICKED))  # The space's names.
    if unknown:
        raise UserError(f"hyperparameter {unknown[0]!r} is not in this search space; the "
                        "configuration comes from another version of it: take one from a "
                        "run of this version")
    return searched


def split_of(summary, data_dir=None):
    """The train and validation images of the run that wrote `summary` (its seed's split)."""
    from fashion_tuning.config import Config
    from fashion_tuning.data import load_fashion_mnist, split

    config = Config(**{k: setting(summary, k) for k in ("seed", "val_fraction", "train_limit")})
    _, train_data, val_data = split(load_fashion_mnist(data_dir), config)
    return train_data, val_data


def train(hyperparameters, seed, epochs, train_data, val_data, batch_size, precision,
          recipe=None):
    """Train `hyperparameters` (`in_space`) as a trial is (seeded with `seed`, over an
    `epochs`-epoch schedule), with what `recipe` (a `recipe.Recipe`, or a
    `candidates.Candidate`) adds, scored on `val_data` after each epoch.

    Returns:
        `(model, {"seconds": ..., "history": per-epoch metrics})`.
    """
    from fashion_tuning.final_training import train_configuration
    from fashion_tuning.recipe import Recipe

    model, history, seconds = train_configuration(
        in_space(hyperparameters), seed, epochs, train_data, batch_size, precision,
        recipe or Recipe(), validation_data=val_data, verbose=0)
    return model, {"seconds": round(seconds, 1), "history": history}


def epoch_clock(epochs):
    """A Keras callback that appends each epoch's wall and process CPU seconds to `epochs`; the
    copies KerasTuner makes of it append to the same list."""
    import keras

    marks = {}

    def begin(epoch, logs=None):
        marks.update(wall=time.perf_counter(), cpu=time.process_time())

    def end(epoch, logs=None):
        epochs.append((time.perf_counter() - marks["wall"], time.process_time() - marks["cpu"]))
    return keras.callbacks.LambdaCallback(on_epoch_begin=begin, on_epoch_end=end)


def read_lines(path, handle=None):
    """The JSON objects, one a line, in `path` (none if it does not exist). A last line without
    its newline, which a kill mid-write leaves, is left out, and cut from the file through
    `handle` (open on `path` for appending) when given.

    Raises:
        UserError: a line is not JSON.
    """
    raw = Path(path).read_bytes() if Path(path).is_file() else b""
    whole = raw[:raw.rfind(b"\n") + 1]
    if handle and len(whole) < len(raw):
        handle.truncate(len(whole))
        print(f"{path}: cut the unfinished last line a stopped run left", flush=True)
    try:
        return [json.loads(line) for line in whole.decode().splitlines() if line.strip()]
    except ValueError as e:
        raise UserError(f"{path}: a line is not JSON ({e}); restore the file from git or "
                        "give another one") from None


def load_average():
    """The 1-minute load average, or None where the platform has none (Windows)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


@contextlib.contextmanager
def locked_lines(out):
    """`(handle, records)` of the JSON lines `out`, opened for appending and locked for as long
    as a resumable study trains into it (`read_lines` with the handle).

    Raises:
        UserError: another run holds the lock.
    """
    from fashion_tuning import system

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "ab") as handle:
        if not system.try_lock(handle):
            raise UserError(f"{out}: another run is training into it; wait for it to end or "
                            "pass another --out")
        yield handle, read_lines(out, handle)


def keep_line(handle, record):
    """Append `record` through `handle` (`locked_lines`) and sync it: kept once this returns.

    Raises:
        UserError: the file was replaced under the run (a `git stash`, `checkout` or `merge`
            writes a new file, and the handle would go on writing to the old, unlinked one);
            the record is appended to the file the path names now, and a rerun trains what
            that file lacks.
    """
    handle.write((json.dumps(record, allow_nan=False) + "\n").encode())
    handle.flush()
    os.fsync(handle.fileno())
    if replaced(handle):
        append_line(handle.name, record)
        raise UserError(f"{handle.name} was replaced while this run wrote to it (a git stash, "
                        "checkout or merge?); this training is kept in the new file: run the "
                        "same command again to train what it lacks")


def replaced(handle):
    """Whether the path `handle` was opened on now names another file, or none."""
    try:
        now = os.stat(handle.name)
    except FileNotFoundError:
        return True
    held = os.fstat(handle.fileno())
    return (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino)


def study_parser(doc, out):
    """The parser of a study that trains into the JSON lines `out`: its --out and --data-dir."""
    from fashion_tuning.flags import tool_parser

    parser = tool_parser(doc)
    parser.add_argument("--out", default=out, help="JSON lines, one per finished training")
    parser.add_argument("--data-dir", default=None, help="the Fashion-MNIST IDX files")
    return parser


def run_resumable(run, out, what="training"):
    """`run()` as a resumable study's main: a user's error is one line (exit 2); a signal
    stops it with a line saying what is kept and how to resume."""
    from fashion_tuning import interrupt
    from fashion_tuning.report import run_tool

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # Hide TF's C++ chatter.
    interrupt.install()
    try:
        return run_tool(run, Path(out).parent, "--out")
    except interrupt.Interrupted as e:
        print(f"\ninterrupted by {signal.Signals(e.signum).name}; every finished {what} is "
              f"in {out}: run the same command again to resume", file=sys.stderr)
        return e.exit_code


def append_line(path, record):
    """Append `record` to `path` as one JSON line: each finished training is kept at once."""
    with open(path, "a") as f:
        f.write(json.dumps(record, allow_nan=False) + "\n")  # Strict JSON, as atomic's.


def write_report(out, result, markdown):
    """Write `result` and `markdown` beside the JSON lines `out` (.json, .md); print `markdown`."""
    out = Path(out)
    atomic.write_json(out.with_suffix(".json"), result)
    atomic.write_text(out.with_suffix(".md"), markdown)
    print(markdown)
