"""--time-budget, the search time recorded in a folder, and the progress line."""

import re

import pytest

from fashion_tuning.progress import progress_line
from fashion_tuning.trial_log import TrialLog, elapsed_search_seconds, write_trial_log
from helpers import read_summary, run_script, tiny_args


def test_elapsed_search_time_counts_overlapping_trials_once():
    runs = [TrialLog("completed", started_at, seconds, 1, "tuner0")
            for started_at, seconds in ((100.0, 10.0), (105.0, 10.0), (200.0, 5.0))]
    assert elapsed_search_seconds(runs) == pytest.approx(15 + 5)


def progress_lines(out):
    return re.findall(r"^\[trial (\d+)/(\d+)\] .*$", out, flags=re.M)


def test_budget_stops_new_trials_then_a_larger_one_extends(tiny_data, tmp_path):
    args = tiny_args(tiny_data, tmp_path, trials=3)
    # A budget far below one trial: the first trial starts (nothing is known yet), no other.
    proc = run_script("random_search_tuning.py", *args, "--time-budget", "0.001")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Time budget: 1 of 3 trials fit in 0.001 min" in proc.stdout
    assert progress_lines(proc.stdout) == [("1", "3")]
    folder = tmp_path / "random_search"
    summary = read_summary(folder)
    assert len(summary["trials"]) == 1
    assert summary["stopped_by_budget"] is True and summary["time_budget"] == 0.001
    assert (folder / "best_model.keras").is_file()  # The final training still ran.

    again = run_script("random_search_tuning.py", *args, "--time-budget", "0.001")
    assert again.returncode == 0
    assert "Running Trial" not in again.stdout and not progress_lines(again.stdout)
    assert "The search and the final training had finished" in again.stdout

    more = run_script("random_search_tuning.py", *args, "--time-budget", "30")
    assert more.returncode == 0, more.stderr[-2000:]
    assert progress_lines(more.stdout) == [("2", "3"), ("3", "3")]
    extended = read_summary(folder)
    assert len(extended["trials"]) == 3 and extended["stopped_by_budget"] is False
    assert extended["trials"][0] == summary["trials"][0]


def test_progress_line_once_per_trial_with_best_and_time_left(tiny_data, tmp_path):
    proc = run_script("bayesian_tuning.py", *tiny_args(tiny_data, tmp_path, trials=2))
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[trial ")]
    assert [line.split("]")[0] for line in lines] == ["[trial 1/2", "[trial 2/2"]
    for line in lines:
        assert re.search(r"val_accuracy \d\.\d{4}, completed \| best \d\.\d{4} \(trial_\d\) \| "
                         r"search \d+ min \d\d s \| left ~\d+ min \d\d s \(search ~", line), line
    assert "(search ~0 min 00 s, final training ~" in lines[1]  # No trial left to run.


def test_the_time_left_counts_the_final_training_on_all_training_images(tmp_path):
    # One trial of 4 epochs in 40 s: 10 s an epoch on 80 % of the images, 12.5 s on all.
    (tmp_path / "trial_0").mkdir()
    write_trial_log(tmp_path / "trial_0", TrialLog(
        outcome="completed", started_at=0.0, seconds=40.0, epochs_run=4, worker="tuner0",
        history={"val_accuracy": [0.5, 0.7, 0.6, 0.6]}))
    line = progress_line(tmp_path, "0", 1, final_epochs=8, final_images_ratio=1.25)
    assert line.endswith("left ~1 min 40 s (search ~0 min 00 s, final training ~1 min 40 s)")
