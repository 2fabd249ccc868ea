"""Ctrl-C, SIGTERM, SIGHUP: exit 130/143/129 with a resume hint; the same command then finishes
the run."""

import json
import signal
import time

import pytest

from fashion_tuning import interrupt
from helpers import assert_completed_and_distinct, read_summary, start_script, wait_for


LONG_TRIALS = ("--epochs", 40, "--patience", 40, "--trial-epochs", 40, "--batch-size", 32)


@pytest.mark.parametrize("signum, code, during, resume", [
    (signal.SIGINT, 130, 1, True), (signal.SIGTERM, 143, 1, True),
    (signal.SIGHUP, 129, 1, False), (signal.SIGINT, 130, 0, True)])
def test_signal_mid_trial_then_resume(tiny_data, tmp_path, signum, code, during, resume):
    # Long trials (patience = epochs) so the signal lands inside trial `during`'s training.
    args = ("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 2, *LONG_TRIALS)
    folder = tmp_path / "random_search"
    proc = start_script("random_search_tuning.py", *args)
    wait_for(folder / f"trial_{during}" / "trial.json", proc)
    time.sleep(1.0)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-2000:]
    assert "run the same command again to resume" in err.strip().splitlines()[-1]
    assert "Traceback" not in err
    assert not (folder / "summary.json").exists()
    kept = [json.loads((folder / f"trial_{i}" / "trial.json").read_text()) for i in range(during)]
    assert all(t["status"] == "COMPLETED" for t in kept)
    if not resume:
        return

    again = start_script("random_search_tuning.py", *args)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-2000:]
    assert "Resuming the search" in out
    summary = read_summary(folder)
    assert_completed_and_distinct(summary, 2)
    # Completed trials were kept, not re-run: hyperparameters and scores unchanged.
    for before, after in zip(kept, summary["trials"]):
        assert after["hyperparameters"] == before["hyperparameters"]["values"]
        assert after["val_accuracy"] == pytest.approx(before["score"])


def test_sigkill_mid_trial_is_survived(tiny_data, tmp_path):
    args = ("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 2, *LONG_TRIALS)
    folder = tmp_path / "random_search"
    proc = start_script("random_search_tuning.py", *args)
    wait_for(folder / "trial_1" / "trial.json", proc)
    time.sleep(1.0)
    proc.kill()
    proc.communicate(timeout=60)
    again = start_script("random_search_tuning.py", *args)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-2000:]
    assert_completed_and_distinct(read_summary(folder), 2)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_a_stop_during_the_final_training_then_resume_runs_only_it(tiny_data, tmp_path, signum,
                                                                   code):
    args = ("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 1,
            "--epochs", 4, "--trial-epochs", 2, "--final-epochs", 4, "--batch-size", 16)
    folder = tmp_path / "random_search"
    proc = start_script("random_search_tuning.py", *args)
    for line in proc.stdout:  # The CLI flushes every line.
        if "final training on all" in line:
            break
    # At once: building and tracing the final model alone takes well over a second.
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err[-2000:]
    assert not (folder / "summary.json").exists()
    assert not (folder / "best_model.keras").exists()
    trial_files = {p: p.read_bytes() for p in folder.glob("trial_*/*")}
    again = start_script("random_search_tuning.py", *args)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-2000:]
    assert "Running Trial" not in out and "final training on all" in out
    assert {p: p.read_bytes() for p in folder.glob("trial_*/*")} == trial_files
    summary = read_summary(folder)
    assert len(summary["trials"]) == 1 and (folder / "best_model.keras").is_file()
    assert summary["final_epochs"] == 4


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
