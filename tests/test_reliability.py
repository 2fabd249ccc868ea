"""Resume rules, folder locking, failed and NaN trials."""

import csv
import json
import os
import shutil
from pathlib import Path

import keras
import pytest

from fashion_tuning import cli, folder, hypermodel
from fashion_tuning.recipe import Recipe
from helpers import (assert_completed_and_distinct, folder_files, read_summary, refused,
                     reload_accuracy, run_script,
                     tiny_args, write_idx_dir)


def test_changed_settings_on_resume_exit_2(tiny_data, tmp_path):
    assert run_script("random_search_tuning.py", *tiny_args(tiny_data, tmp_path)).returncode == 0
    proc = run_script("random_search_tuning.py",
                      *tiny_args(tiny_data, tmp_path, "--epochs", 2, "--seed", 7))
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert "\n" not in err  # One line, nothing else.
    assert "--epochs (was 1, now 2)" in err and "--seed (was 42, now 7)" in err
    assert "--overwrite" in err and "--results-dir" in err
    # --overwrite accepts the new settings and starts afresh.
    proc = run_script("random_search_tuning.py",
                      *tiny_args(tiny_data, tmp_path, "--epochs", 2, "--seed", 7, "--overwrite"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Starting a new search" in proc.stdout
    summary = read_summary(tmp_path / "random_search")
    assert (summary["epochs"], summary["seed"]) == (2, 7)


def test_finished_search_is_reported_then_extended(tiny_data, tmp_path):
    args = tiny_args(tiny_data, tmp_path)
    assert run_script("bayesian_tuning.py", *args).returncode == 0
    summary_path = tmp_path / "bayesian_optimization" / "summary.json"
    first = json.loads(summary_path.read_text())

    again = run_script("bayesian_tuning.py", *args)
    assert again.returncode == 0
    assert "The search and the final training had finished" in again.stdout
    assert "Running Trial" not in again.stdout and "Epoch 1/" not in again.stdout
    second = json.loads(summary_path.read_text())
    assert second["test_accuracy"] == first["test_accuracy"]
    assert second["trials"] == first["trials"]

    more = run_script("bayesian_tuning.py", *args, "--max-trials", 3)
    assert more.returncode == 0, more.stderr[-2000:]
    assert "Resuming the search" in more.stdout
    extended = json.loads(summary_path.read_text())
    assert [t["trial_id"] for t in extended["trials"]] == ["0", "1", "2"]
    assert extended["trials"][0] == first["trials"][0]
    assert_completed_and_distinct(extended, 3)


def test_the_final_training_runs_its_own_schedule_and_recipe_and_a_change_redoes_only_it(
        tiny_data, tmp_path):
    args = tiny_args(tiny_data, tmp_path, "--trial-epochs", 2, "--patience", 5, trials=2,
                     epochs=3)
    first = run_script("random_search_tuning.py", *args, "--final-epochs", 3,
                       "--final-recipe", "flip,shift,flip-tta")
    assert first.returncode == 0, first.stderr[-2000:]
    assert "training images: 3 epochs with flip, shift, flip-tta" in first.stdout
    assert "Epoch 1/2" in first.stdout and "Epoch 1/3" in first.stdout  # Trials, then final.
    assert "3 epochs on 300 images with flip, shift, flip-tta" in first.stdout
    folder = tmp_path / "random_search"
    summary = read_summary(folder)
    assert (summary["trial_epochs"], summary["final_epochs"], summary["final_images"]) == (
        2, 3, 300)
    assert summary["final_recipe"] == {"flip": True, "shift": 2, "label_smoothing": 0.0,
                                       "ema": False, "flip_tta": True, "first_stage_convs": 1}
    assert all(t["epochs_run"] == 2 for t in summary["trials"])
    assert summary["total_seconds"] == pytest.approx(
        summary["search_seconds"] + summary["final_seconds"], abs=0.2)
    # The saved model holds the flip average: Keras alone reproduces the reported accuracy.
    assert reload_accuracy(folder / "best_model.keras", tiny_data) == pytest.approx(
        summary["test_accuracy"])
    trials = summary["trials"]

    other = run_script("random_search_tuning.py", *args, "--final-epochs", 2,
                       "--final-recipe", "none")
    assert other.returncode == 0, other.stderr[-2000:]
    assert "Running Trial" not in other.stdout
    assert "training images: 2 epochs\n" in other.stdout
    again = read_summary(folder)
    assert again["trials"] == trials and again["final_epochs"] == 2
    assert not Recipe(**again["final_recipe"]).changes()
    same = run_script("random_search_tuning.py", *args, "--final-epochs", 2,
                      "--final-recipe", "none")
    assert "The search and the final training had finished" in same.stdout


def test_busy_folder_is_refused_and_a_dead_runs_lock_is_taken(tiny_data, tmp_path):
    target = tmp_path / "random_search"
    target.mkdir()
    held = folder.lock(target)
    try:
        proc = run_script("random_search_tuning.py", *tiny_args(tiny_data, tmp_path))
        assert proc.returncode == 2
        assert f"in use by process {os.getpid()}" in proc.stderr
    finally:
        held.close()
    # The lock file (with our pid in it) stays behind, as after a kill; nothing holds it now.
    assert (target / folder.LOCK_FILE).is_file()
    proc = run_script("random_search_tuning.py", *tiny_args(tiny_data, tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_write_check_is_safe_when_processes_start_together(tmp_path):
    # A --workers chief and its workers all check the shared folder at once; with one shared
    # probe name, one process deleted another's probe and a worker exited 2 at random.
    from concurrent.futures import ThreadPoolExecutor

    target = tmp_path / "shared"
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: folder.check_writable(target), range(400)))
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


def test_nan_trial_is_failed_and_never_best(tiny_data, tmp_path, monkeypatch, in_process):
    # build_model runs once for the search space, once to declare it, then once per trial.
    monkeypatch.setattr(hypermodel, "build_model", exploding({2}))
    code = cli.main("random_search", [str(a) for a in tiny_args(
        tiny_data, tmp_path, trials=2, epochs=2)])
    assert code == 0
    summary = read_summary(tmp_path / "random_search")
    statuses = [t["status"] for t in summary["trials"]]
    assert statuses == ["failed", "completed"], summary["trials"]
    assert "non-finite" in summary["trials"][0]["message"]
    assert summary["trials"][0]["val_accuracy"] is None
    assert summary["best_trial_id"] == "1"
    with open(tmp_path / "random_search" / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[0]["status"] == "failed" and "non-finite" in rows[0]["message"]


def test_no_completed_trial_exits_1_without_a_final_training(tiny_data, tmp_path, monkeypatch, in_process,
                                                    capsys):
    monkeypatch.setattr(hypermodel, "build_model", exploding(set(range(100))))
    code = cli.main("random_search", [str(a) for a in tiny_args(tiny_data, tmp_path, trials=2)])
    assert code == 1
    assert "none of the 2 trials completed" in capsys.readouterr().err
    assert not (tmp_path / "random_search" / "best_model.keras").exists()
    assert not (tmp_path / "random_search" / "summary.json").exists()


FIXTURE = Path(__file__).parent / "fixtures" / "results-0.1"


def test_a_folder_of_an_earlier_version_is_refused_on_resume(tmp_path):
    # tests/fixtures/results-0.1 is a finished 2-trial search on write_idx_dir()'s data,
    # written by commit 36eb470 with `random_search_tuning.py --max-trials 2 --epochs 1
    # --batch-size 64`, less the weights: another format and another search space.
    data_dir = write_idx_dir(tmp_path / "data")
    shutil.copytree(FIXTURE, tmp_path / "results")
    before = folder_files(tmp_path / "results")
    proc = run_script("random_search_tuning.py", *tiny_args(data_dir, tmp_path / "results",
                                                            trials=3))
    refused(proc, "another version of this tool", "--overwrite", "--results-dir")
    assert folder_files(tmp_path / "results") == before  # Nothing written, nothing lost.
