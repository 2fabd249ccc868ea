"""A store that refuses a write (full, over quota, read-only, failing) or a TensorBoard folder
that cannot take logs ends the run with one line and exit 2, and never marks a trial failed."""

import errno
import io
import json
import os
import shutil
import sys
import types

import pytest

from fashion_tuning import cli, errors, tuner
from helpers import read_summary, refused, tiny_args

# What the line says for each errno.
REASONS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "the disk quota is exceeded",
           errno.EFBIG: "a file grew past the size limit", errno.EROFS: "on a read-only file",
           errno.EIO: "failed a write (input/output error)",
           errno.ESTALE: f"({os.strerror(errno.ESTALE)})"}


def refuse_write(monkeypatch, target, nth, number):
    """Make the `nth` opening for writing of a file named `target` fail with `number`."""
    seen, real_open = [0], io.open

    def open_or_fail(file, mode="r", *args, **kwargs):
        if "w" in mode and os.path.basename(str(file)).endswith(target):
            seen[0] += 1
            if seen[0] == nth:
                raise OSError(number, os.strerror(number), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", open_or_fail)


def statuses(folder):
    return [json.loads(p.read_text())["status"] for p in folder.glob("trial_*/trial.json")]


def same_trials(folder, reference_results):
    """The resumed run in `folder` scored every trial as the uninterrupted reference did."""
    reference = read_summary(reference_results / "random_search")
    assert [(t["trial_id"], t["status"], t["val_accuracy"]) for t in read_summary(folder)[
        "trials"]] == [(t["trial_id"], t["status"], t["val_accuracy"])
                       for t in reference["trials"]]


@pytest.mark.parametrize("number", sorted(set(REASONS) - {errno.ESTALE}))
def test_each_store_error_is_one_line_with_its_fix(number):
    error = OSError(number, os.strerror(number), "/r/random_search/oracle.json")
    line = errors.cannot_write(error, "/r/random_search")
    assert REASONS[number] in line and "/r/random_search/oracle.json" in line
    assert "run the same command again (completed trials are kept)" in line
    # h5py and TensorFlow carry the errno only in their messages.
    wrapped = RuntimeError(f"Unable to synchronously create file (errno = {number}, "
                           f"error message = '{os.strerror(number)}')")
    assert errors.store_errno(wrapped) == number
    assert errors.store_errno(RuntimeError("loss is nan")) is None


def test_after_a_failed_write_of_any_errno_its_echoes_stay_off_stderr(monkeypatch):
    # h5py, freeing what it could not write, raises the failure again where no caller sees it:
    # an OSError of any errno, or an error whose message names a store's errno.
    shown = []
    monkeypatch.setattr(sys, "unraisablehook", lambda info: shown.append(info.exc_value))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # Put back after the test.
    monkeypatch.setattr(sys, "__excepthook__", lambda kind, value, tb: shown.append(value))
    cli._quiet_write_failure_echoes()
    stale = OSError(errno.ESTALE, os.strerror(errno.ESTALE))  # Not a store's errno.
    full = RuntimeError(f"Unable to close file (errno = {errno.ENOSPC}, error message = "
                        f"'{os.strerror(errno.ENOSPC)}')")
    bug = ValueError("a bug of ours")
    for error in (stale, full, bug):
        sys.unraisablehook(types.SimpleNamespace(exc_value=error))
        sys.excepthook(type(error), error, None)
    assert shown == [bug, bug]


@pytest.mark.slow
@pytest.mark.parametrize("target, nth, number", [
    ("trial_log.json", 1, errno.EDQUOT),  # The first trial had trained to its end.
    ("oracle.json", 3, errno.EDQUOT),
    ("trial.json", 3, errno.EROFS),
    ("trial_log.json", 2, errno.EIO),
    # Not a store errno but a write that failed all the same (NFS): the same ending.
    ("trial_log.json", 1, errno.ESTALE),
    ("trial.json", 3, errno.ESTALE),
])
def test_a_refused_write_keeps_the_trained_trial_for_the_resume(
        finished, tmp_path, monkeypatch, run_in_process, target, nth, number):
    data_dir, reference_results = finished
    args = tiny_args(data_dir, tmp_path, trials=2)
    with monkeypatch.context() as patch:
        refuse_write(patch, target, nth, number)
        refused(run_in_process(*args), REASONS[number], target,
                "run the same command again (completed trials are kept)")
    folder = tmp_path / "random_search"
    assert "FAILED" not in statuses(folder) and "INVALID" not in statuses(folder)
    proc = run_in_process(*args)
    assert proc.returncode == 0, proc.stderr
    same_trials(folder, reference_results)


@pytest.mark.slow
def test_an_unusable_tensorboard_folder_is_refused_before_the_search(
        tiny_data, tmp_path, run_in_process):
    blocker = tmp_path / "logs"
    blocker.write_text("a file, not a folder")
    refused(run_in_process(*tiny_args(tiny_data, tmp_path / "results", "--tensorboard-dir",
                                      blocker / "tb")),
            "cannot hold TensorBoard logs", "--tensorboard-dir")
    assert not list((tmp_path / "results").rglob("trial_*"))


def test_a_log_writer_failure_names_the_tensorboard_folder(tmp_path, monkeypatch):
    import copy

    import keras

    from fashion_tuning.callbacks import TensorBoard

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(keras.callbacks.TensorBoard, "on_epoch_end", full)
    logs = tmp_path / "tb"
    board = copy.deepcopy(TensorBoard(logs / "random_search-1", logs))  # As KerasTuner does.
    board.log_dir = str(logs / "random_search-1" / "0" / "execution0")  # A trial's folder.
    with pytest.raises(errors.WriteFailed) as failed:
        board.on_epoch_end(0)
    line = errors.cannot_write(failed.value, failed.value.where, failed.value.flag)
    assert line.startswith(f"no space left on the device of {logs}; free some space")
    assert line.endswith("or pass another --tensorboard-dir")


@pytest.mark.slow
def test_a_log_writer_failing_mid_search_is_one_line_and_poisons_nothing(
        finished, tmp_path, monkeypatch, run_in_process):
    data_dir, reference_results = finished
    logs = tmp_path / "logs"
    real_end = tuner.Tuner.on_trial_end

    def end_then_break_logs(self, trial):
        real_end(self, trial)
        shutil.rmtree(logs)
        logs.write_text("the log folder became a file")  # The next trial cannot log.

    with monkeypatch.context() as patch:
        patch.setattr(tuner.Tuner, "on_trial_end", end_then_break_logs)
        refused(run_in_process(*tiny_args(data_dir, tmp_path, "--tensorboard-dir", logs,
                                          trials=2)),
                f"cannot write into {logs} (", "--tensorboard-dir",
                "run the same command again (completed trials are kept)")
    folder = tmp_path / "random_search"
    assert "FAILED" not in statuses(folder) and "INVALID" not in statuses(folder)
    proc = run_in_process(*tiny_args(data_dir, tmp_path, trials=2))  # Without the flag.
    assert proc.returncode == 0, proc.stderr
    same_trials(folder, reference_results)


@pytest.mark.slow
def test_a_full_disk_under_the_log_folder_names_the_log_folder(
        finished, tmp_path, monkeypatch, run_in_process):
    import keras

    data_dir, _ = finished
    logs = tmp_path / "logs"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # Where Keras' TensorBoard callback writes an epoch's scalars.
    monkeypatch.setattr(keras.callbacks.TensorBoard, "_log_epoch_metrics", full)
    refused(run_in_process(*tiny_args(data_dir, tmp_path, "--tensorboard-dir", logs, trials=2)),
            f"no space left on the device of {logs};", "--tensorboard-dir")
    assert "FAILED" not in statuses(tmp_path / "random_search")
