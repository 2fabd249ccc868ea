"""Ctrl-C, SIGTERM, SIGHUP: exit 130/143/129 saying what is kept, mid-trial or in the final
training; a SIGKILL there too; the same command then finishes the run, every completed trial
kept. (A worker killed mid-trial, in test_distributed.py.)"""

import json
import os
import signal

import pytest

from fashion_tuning import cli, interrupt
from fashion_tuning.results import setting
from fashion_tuning.config import Config
from helpers import (SCRIPT, assert_completed_and_distinct, folder_files, nothing_kept,
                     read_summary, read_until, refused, start_script)

# Trials of 6 epochs, none stopped early: a stop sent at a trial's second epoch lands mid-trial,
# while TensorFlow runs.
TRIALS = ("--max-trials", 2, "--epochs", 6, "--patience", 6, "--trial-epochs", 6,
          "--batch-size", 32, "--final-epochs", 1, "--final-recipe", "none")
MID_TRIAL = "Epoch 2/"
FINAL = "final training on all"
RESUME = "run the same command again to resume"


# What the subprocess tests of test_interrupt, test_distributed and test_portable share
# (candidates for helpers.py).
def stopped(proc, signum, code):
    """Send `signum` to `proc` and check that it ended as a stop should: exit `code`, for a stop
    signal the resume hint as stderr's last line, never a traceback. Returns stderr."""
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-2000:]
    if signum != signal.SIGKILL:
        assert RESUME in err.strip().splitlines()[-1]
    assert "Traceback" not in err
    return err


def main_in_process(args, capsys):
    """`cli.main` of the random search in this process: (exit code, stdout, stderr)."""
    code = cli.main("random_search", [str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def signalled_in_process(args, capsys, monkeypatch, signum, where, kept, fit=1):
    """`cli.main` in this process, sent a real `signum` in this run's `fit`-th trial's `fit`
    (`where` "trial": the handler defers it to the next batch end) or as the final training
    starts ("final": it raises at once); checks the exit code and that the message says
    `kept`. Returns stdout."""
    import keras

    from fashion_tuning import callbacks, final_training

    fits = []

    def send(batch, logs):  # At the end of the fit's second batch, as a user would.
        if batch == 1 and len(fits) == fit:
            os.kill(os.getpid(), signum)

    with monkeypatch.context() as patch:
        if where == "trial":
            trial_callbacks = callbacks.trial_callbacks
            patch.setattr(callbacks, "trial_callbacks", lambda *a: [
                *trial_callbacks(*a), keras.callbacks.LambdaCallback(
                    on_train_begin=lambda logs: fits.append(1), on_train_batch_end=send)])
        else:
            train = final_training.train_configuration

            def signalled(*a, **k):
                os.kill(os.getpid(), signum)
                return train(*a, **k)

            patch.setattr(final_training, "train_configuration", signalled)
        code, out, err = main_in_process(args, capsys)
    assert code == interrupt.EXIT_CODES[signum], err
    assert err.strip().splitlines()[-1] == f"interrupted by {signal.Signals(signum).name}; {kept}"
    assert "Traceback" not in err
    return out


def trial_files(folder):
    return {p: p.read_bytes() for p in folder.glob("trial_*/*")}


def assert_unfinished(folder):
    assert not (folder / "summary.json").exists()
    assert not (folder / "final_model.keras").exists()


@pytest.mark.slow
def test_stops_mid_trial_and_in_the_final_training_then_the_same_command_finishes(
        tiny_data, tmp_path, in_process, capsys, monkeypatch):
    # Subprocesses where only a process shows it (Ctrl-C while TensorFlow runs, SIGKILL), the
    # other stop signals in-process; each step resumes what the one before left.
    args = ("--data-dir", tiny_data, "--results-dir", tmp_path, *TRIALS)
    folder = tmp_path / "random_search"

    # SIGTERM in the middle of the first trial.
    signalled_in_process(args, capsys, monkeypatch, signal.SIGTERM, "trial",
                         nothing_kept(folder))
    assert json.loads((folder / "trial_0" / "trial.json").read_text())["status"] == "RUNNING"

    # Ctrl-C in the middle of the second trial: exit 130, the first trial kept as completed.
    second = start_script(SCRIPT, *args)
    read_until(second, "Resuming the search", "[trial 1/2] trial_0", MID_TRIAL)
    stopped(second, signal.SIGINT, 130)
    kept = json.loads((folder / "trial_0" / "trial.json").read_text())
    assert kept["status"] == "COMPLETED"
    assert_unfinished(folder)

    # SIGHUP as the final training starts.
    assert "[trial 2/2] trial_1" in signalled_in_process(
        args, capsys, monkeypatch, signal.SIGHUP, "final",
        f"2 trials that ran to their end are kept in {folder}: {RESUME}")
    assert_unfinished(folder)
    trials = trial_files(folder)

    # SIGKILL as the final training starts again ("at once": building its model takes seconds).
    third = start_script(SCRIPT, *args)
    assert "Running Trial" not in read_until(third, FINAL)
    stopped(third, signal.SIGKILL, -9)
    assert_unfinished(folder)

    # The same command (here in-process) trains only the final model; every trial is kept.
    code, out, err = main_in_process(args, capsys)
    assert code == 0, err
    assert "Resuming the search" in out and "Running Trial" not in out and FINAL in out
    assert trial_files(folder) == trials
    summary = read_summary(folder)
    assert_completed_and_distinct(summary, 2)
    assert summary["trials"][0]["hyperparameters"] == kept["hyperparameters"]["values"]
    assert summary["trials"][0]["val_accuracy"] == pytest.approx(kept["score"])
    assert (folder / "final_model.keras").is_file() and setting(summary, "final_epochs") == 1


@pytest.mark.slow
def test_a_stop_says_what_it_kept_and_settings_are_pinned_once_a_trial_ended(
        tiny_data, tmp_path, run_in_process, capsys, monkeypatch):
    folder = tmp_path / "random_search"
    args = ("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 2,
            "--epochs", 2, "--batch-size", 32, "--final-epochs", 1, "--final-recipe", "none")

    # Ctrl-C in the first trial, of a run with a mistyped --seed: nothing ran to its end.
    signalled_in_process([*args, "--seed", 3], capsys, monkeypatch, signal.SIGINT, "trial",
                         nothing_kept(folder))
    assert (folder / "trial_0" / "trial.json").is_file()  # Started, never ended.

    # So the corrected command starts afresh there, without --overwrite: its own oracle and
    # seed. Ctrl-C in its second trial keeps the first.
    out = signalled_in_process([*args, "--seed", 7], capsys, monkeypatch, signal.SIGINT,
                               "trial", f"1 trial that ran to its end is kept in {folder}: "
                               f"{RESUME}", fit=2)
    assert "Starting a new search" in out
    assert json.loads((folder / "oracle.json").read_text())["seed"] == Config(seed=7).oracle_seed
    assert json.loads((folder / "trial_0" / "trial.json").read_text())["status"] == "COMPLETED"

    # Now the folder's settings are pinned.
    before = folder_files(folder)
    refused(run_in_process(*args, "--seed", 3), "--seed (was 7, now 3)", "--overwrite")
    assert folder_files(folder) == before


def test_a_signal_whose_exception_python_swallowed_still_stops_keras(in_process):
    # Outside Keras the handler raises at once; where Python swallows that exception
    # ("Exception ignored in ..."), training went on. The next batch end raises it again.
    interrupt.install()
    try:
        interrupt._handler(signal.SIGTERM, None)
    except interrupt.Interrupted:
        pass  # Swallowed, as Python does for an exception raised in a __del__.
    interrupt.enter_keras()
    with pytest.raises(interrupt.Interrupted) as e:
        interrupt.check()
    assert e.value.exit_code == 143
    interrupt.install()  # Leave no pending signal to the tests that follow.
