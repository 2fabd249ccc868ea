"""Resume rules, folder locking, failed and NaN trials."""

import csv
import os
import shutil
from pathlib import Path

import keras
import pytest

from fashion_tuning import hypermodel, results_folder
from fashion_tuning.results import final_recipe, setting
from helpers import (SCRIPT, folder_files, model_accuracy, progress_lines, read_summary, refused,
                     run_script, tiny_args, write_idx_dir)


@pytest.mark.slow
def test_changed_search_flags_are_refused_and_changed_final_flags_redo_only_the_final_training(
        copy, run_in_process):
    data_dir, results, target = copy
    before = folder_files(target)
    args = tiny_args(data_dir, results, "--trial-epochs", 2, "--patience", 5, "--seed", 7,
                     trials=1, epochs=3)
    final = ("--final-epochs", 3, "--final-recipe", "flip,flip-tta,wide")
    # As a user sees it, after TensorFlow's import: one line, and nothing else on stderr.
    refused(run_script(SCRIPT, *args, *final), "--epochs (was 1, now 3)",
            "--seed (was 42, now 7)", "--overwrite", "--results-dir")
    assert folder_files(target) == before

    # --overwrite accepts the new settings and starts afresh; the final training runs its own
    # schedule and recipe.
    first = run_in_process(*args, *final, "--overwrite")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "Starting a new search" in first.stdout
    assert "training images: 3 epochs with flip, flip-tta, wide" in first.stdout
    assert "Epoch 1/2" in first.stdout and "Epoch 1/3" in first.stdout  # Trials, then final.
    assert "3 epochs on 300 images with flip, flip-tta, wide" in first.stdout
    summary = read_summary(target)
    assert (setting(summary, "epochs"), setting(summary, "seed")) == (3, 7)
    assert (setting(summary, "trial_epochs"), setting(summary, "final_epochs"),
            summary["final_images"]) == (2, 3, 300)
    assert setting(summary, "final_recipe") == {"flip": True, "flip_tta": True,
                                                "first_stage_convs": 2}
    assert all(t["epochs_run"] == 2 for t in summary["trials"])
    assert summary["total_seconds"] == pytest.approx(
        summary["search_seconds"] + summary["final_seconds"], abs=0.2)
    # The saved model holds the flip average (test_precision reloads one in a fresh process).
    assert model_accuracy(target / "final_model.keras", data_dir) == pytest.approx(
        summary["test_accuracy"])

    # Other final-training flags redo the final training only.
    other = run_in_process(*args, "--final-epochs", 2, "--final-recipe", "none")
    assert other.returncode == 0, other.stderr[-2000:]
    assert "Running Trial" not in other.stdout
    assert "training images: 2 epochs\n" in other.stdout
    again = read_summary(target)
    assert again["trials"] == summary["trials"] and setting(again, "final_epochs") == 2
    assert not final_recipe(again).changes()
    same = run_in_process(*args, "--final-epochs", 2, "--final-recipe", "none")
    assert "The search and the final training had finished" in same.stdout


def test_busy_folder_is_refused_and_a_dead_runs_lock_is_taken(copy, run_in_process):
    data_dir, results, target = copy
    held = results_folder.lock(target)
    try:  # Two processes: this one holds the lock, the script's is refused.
        refused(run_script(SCRIPT, *tiny_args(data_dir, results, trials=2)),
                f"in use by process {os.getpid()}")
    finally:
        held.close()
    # The lock file (with our pid in it) stays behind, as after a kill; nothing holds it now.
    assert (target / results_folder.LOCK_FILE).is_file()
    proc = run_in_process(*tiny_args(data_dir, results, trials=2))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "reporting the saved result" in proc.stdout


def test_write_check_is_safe_when_processes_start_together(tmp_path):
    # A --workers chief and its workers all check the shared folder at once; with one shared
    # probe name, one process deleted another's probe and a worker exited 2 at random.
    from concurrent.futures import ThreadPoolExecutor

    target = tmp_path / "shared"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: results_folder.check_writable(target), range(400)))
    assert [p.name for p in target.iterdir()] == []


def exploding(trial_ids):
    """A build_model that gives the trials in `trial_ids` a step size of NaN, which makes the
    weights, then the loss, NaN (a huge finite step can instead leave every ReLU dead and the
    loss finite)."""
    real = hypermodel.build_model
    calls = {"n": -1}

    def build(hp, **kwargs):
        model = real(hp, **kwargs)
        calls["n"] += 1
        if calls["n"] in trial_ids:
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=float("nan")),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
    return build


@pytest.mark.slow
def test_a_nan_trial_fails_exits_1_while_no_trial_completed_and_is_never_best(
        tiny_data, tmp_path, monkeypatch, run_in_process):
    # build_model runs once for the search space, once to declare it, then once per trial:
    # the first trial (build 2) diverges; on the resume (builds 3, 4, then 5) the next one
    # learns.
    monkeypatch.setattr(hypermodel, "build_model", exploding({2}))
    target = tmp_path / "random_search"
    args = tiny_args(tiny_data, tmp_path, trials=1, epochs=2)
    proc = run_in_process(*args)
    assert proc.returncode == 1  # No trial completed: no final training.
    assert "none of the 1 trials completed" in proc.stderr
    assert not (target / "final_model.keras").exists()
    assert not (target / "summary.json").exists()

    # A larger --max-trials runs only the new trial: the failed one is not run again.
    proc = run_in_process(*args, "--max-trials", 2)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert progress_lines(proc.stdout) == [("2", "2")]
    summary = read_summary(target)
    statuses = [t["status"] for t in summary["trials"]]
    assert statuses == ["failed", "completed"], summary["trials"]
    assert "non-finite" in summary["trials"][0]["message"]
    assert summary["trials"][0]["val_accuracy"] is None
    assert summary["trained_trial_id"] == summary["top_trial_id"] == "1"
    with open(target / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["status"] == "failed" and "non-finite" in rows[0]["message"]


FIXTURE = Path(__file__).parent / "fixtures" / "results-0.1"


def test_a_folder_of_an_earlier_version_is_refused_on_resume(tmp_path, run_in_process):
    # tests/fixtures/results-0.1 is a finished 2-trial search on write_idx_dir()'s data,
    # written by commit 36eb470 with `random_search_tuning.py --max-trials 2 --epochs 1
    # --batch-size 64`, less the weights: another format and another search space.
    data_dir = write_idx_dir(tmp_path / "data")
    shutil.copytree(FIXTURE, tmp_path / "results")
    before = folder_files(tmp_path / "results")
    refused(run_in_process(*tiny_args(data_dir, tmp_path / "results", trials=3)),
            "another version of this tool", "--overwrite", "--results-dir")
    assert folder_files(tmp_path / "results") == before  # Nothing written, nothing lost.
