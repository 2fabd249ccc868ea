"""--time-budget, the search time recorded in a folder, the progress line, a finished search
reported, then extended, and a damaged trial log that the chief's budget reads."""

import threading

import pytest

from fashion_tuning import distributed
from fashion_tuning.errors import UserError
from fashion_tuning.progress import budget_reached, progress_line
from fashion_tuning.results import setting
from fashion_tuning.trial_log import (LOG_FILE, TrialLog, elapsed_search_seconds,
                                      write_trial_log)
from helpers import assert_completed_and_distinct, progress_lines, read_summary, tiny_args


def test_elapsed_search_time_counts_overlapping_trials_once():
    logs = [TrialLog("completed", started_at, seconds, 1, "tuner0")
            for started_at, seconds in ((100.0, 10.0), (105.0, 10.0), (200.0, 5.0))]
    assert elapsed_search_seconds(logs) == pytest.approx(15 + 5)


@pytest.mark.slow
def test_budget_stops_new_trials_then_a_larger_one_extends(tiny_data, tmp_path, run_in_process):
    args = tiny_args(tiny_data, tmp_path, trials=2)
    bayesian = "bayesian_optimization"
    # A budget far below one trial: the first trial starts (nothing is known yet), no other.
    proc = run_in_process(*args, "--time-budget", "0.001", strategy=bayesian)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Time budget: 1 of 2 trials fit in 0.001 min" in proc.stdout
    assert progress_lines(proc.stdout) == [("1", "2")]
    folder = tmp_path / bayesian
    summary = read_summary(folder)
    assert len(summary["trials"]) == 1
    assert summary["stopped_by_budget"] is True and setting(summary, "time_budget") == 0.001
    assert (folder / "final_model.keras").is_file()  # The final training still ran.

    # The finished search is reported, with nothing trained again.
    again = run_in_process(*args, "--time-budget", "0.001", strategy=bayesian)
    assert again.returncode == 0
    assert "The search and the final training had finished" in again.stdout
    assert "Running Trial" not in again.stdout and "Epoch 1/" not in again.stdout
    assert not progress_lines(again.stdout)
    reported = read_summary(folder)
    assert reported["trials"] == summary["trials"]
    assert reported["test_accuracy"] == summary["test_accuracy"]

    more = run_in_process(*args, "--time-budget", "30", strategy=bayesian)
    assert more.returncode == 0, more.stderr[-2000:]
    assert "Resuming the search" in more.stdout
    assert progress_lines(more.stdout) == [("2", "2")]
    # After the last trial, only the final training is left.
    assert "(search ~0 min 00 s, final training ~" in more.stdout.split("[trial 2/2]")[1]
    extended = read_summary(folder)
    assert [t["trial_id"] for t in extended["trials"]] == ["0", "1"]
    assert extended["stopped_by_budget"] is False
    assert extended["trials"][0] == summary["trials"][0]
    assert_completed_and_distinct(extended, 2)


def test_the_time_left_counts_the_final_training_on_all_training_images(tmp_path):
    # One trial of 4 epochs in 40 s: 10 s an epoch on 80 % of the images, 12.5 s on all.
    (tmp_path / "trial_0").mkdir()
    write_trial_log(tmp_path / "trial_0", TrialLog(
        outcome="completed", started_at=0.0, seconds=40.0, epochs_run=4, worker="tuner0",
        history={"val_accuracy": [0.5, 0.7, 0.6, 0.6]}))
    line = progress_line(tmp_path, "0", 1, final_epochs=8, final_images_ratio=1.25)
    assert line.endswith("left ~1 min 40 s (search ~0 min 00 s, final training ~1 min 40 s)")


class Aborted(Exception):
    """What gRPC's `context.abort` raises."""


class Context:
    def abort(self, code, details):
        raise Aborted(details)


def test_a_damaged_trial_log_that_the_chiefs_budget_reads_ends_the_chief(tmp_path):
    # The chief's oracle reads the trial logs in a gRPC handler's thread, where gRPC would
    # answer the worker with the error and record its trial failed: the error is kept for
    # `serve_oracle`, which raises it in the chief's main thread (one line, exit 2).
    (tmp_path / "trial_0").mkdir()
    (tmp_path / "trial_0" / LOG_FILE).write_text('{"outcome": "completed"}')
    failed, woken = [], threading.Event()

    def create_trial(request, context):
        return budget_reached(tmp_path, time_budget=1)

    handler = distributed._kept_for_the_chief(create_trial, failed, woken, answer_after_s=0)
    with pytest.raises(Aborted, match="the chief stopped: .*not a trial log of this version"):
        handler("request", Context())
    assert woken.is_set() and [type(e) for e in failed] == [UserError]

    def buggy(request, context):  # A bug stays gRPC's to report, as KerasTuner's own are.
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        distributed._kept_for_the_chief(buggy, [], threading.Event(), 0)("request", Context())
