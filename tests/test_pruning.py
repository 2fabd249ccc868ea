"""Median stopping: the rule on plain numbers, and a forced decision in a real tiny search; which
trial the final training trains (the hand-picked margin)."""

import csv
import json
import re

import keras
import pytest

from fashion_tuning import hypermodel, pruning, report
from fashion_tuning.results import setting
from fashion_tuning.trials import TrialRecord, top_trial, trained_trial
from helpers import progress_lines, read_summary, tiny_args


def test_rule_waits_for_warmup_and_completed_trials_then_compares_best_so_far():
    completed = [[0.5, 0.7, 0.8], [0.6, 0.65, 0.9], [0.4, 0.8, 0.85]]
    # At epoch 2 the completed trials' best so far are 0.7, 0.65, 0.8: median 0.7.
    assert pruning.median_to_beat([0.3, 0.69], completed, judged_from_epoch=2, min_completed=3) == 0.7
    assert pruning.median_to_beat([0.3, 0.70], completed, judged_from_epoch=2, min_completed=3) is None
    assert pruning.median_to_beat([0.72, 0.3], completed, judged_from_epoch=2, min_completed=3) is None
    assert pruning.median_to_beat([0.3], completed, judged_from_epoch=2, min_completed=3) is None
    assert pruning.median_to_beat([0.3, 0.3], completed[:2], judged_from_epoch=2, min_completed=3) is None
    # A completed trial shorter than the epoch counts with its best over all its epochs.
    assert pruning.median_to_beat([0.1] * 5, completed, judged_from_epoch=2, min_completed=3) == 0.85


@pytest.mark.parametrize("trial_epochs, pruned_at", [(4, 3), (3, None)])
def test_a_trial_is_not_pruned_at_the_last_epoch_of_its_schedule(monkeypatch, trial_epochs,
                                                                  pruned_at):
    monkeypatch.setattr(pruning, "completed_histories", lambda folder: [[0.9] * 4] * 5)
    stopper = pruning.MedianStopping("unused", judged_from_epoch=3, trial_epochs=trial_epochs, min_completed=5)
    model = keras.Sequential()
    model.stop_training = False
    stopper.set_model(model)
    for epoch in range(3):
        stopper.on_epoch_end(epoch, {"val_accuracy": 0.1})
    assert stopper.pruned_at == pruned_at
    assert model.stop_training is (pruned_at is not None)


def record(trial_id, status, score):
    return TrialRecord(trial_id=trial_id, status=status, hyperparameters={}, val_accuracy=score,
                       epochs_run=3, best_epoch=3, seconds=1.0)


def test_a_pruned_trial_is_the_top_one_only_with_the_highest_score():
    for pick in (top_trial, trained_trial):
        assert pick([record("0", "completed", 0.9), record("1", "pruned", 0.8)]).trial_id == "0"
        assert pick([record("0", "completed", 0.7), record("1", "pruned", 0.8)]).trial_id == "1"
        assert pick([record("0", "failed", None)]) is None


def test_the_first_trial_stays_unless_a_trial_beats_it_by_more_than_the_margin():
    trials = [record("0", "completed", 0.910), record("1", "completed", 0.913),
              record("2", "pruned", 0.85)]
    assert trained_trial(trials, margin=0.004).trial_id == "0"
    assert top_trial(trials).trial_id == "1"
    assert trained_trial(trials, margin=0.002).trial_id == "1"
    assert trained_trial(trials).trial_id == "1"
    # A first trial that failed, or scored highest, changes nothing.
    assert trained_trial([record("0", "failed", None), *trials[1:]], margin=0.5).trial_id == "1"
    assert trained_trial([record("0", "completed", 0.92), *trials[1:]], margin=0.5
                         ).trial_id == "0"
    # A lead equal to the margin keeps it (values exact in binary).
    exact = [record("0", "completed", 0.5), record("1", "completed", 0.75)]
    assert trained_trial(exact, margin=0.25).trial_id == "0"
    assert trained_trial(exact, margin=0.125).trial_id == "1"


def test_the_note_says_why_the_hand_picked_trial_was_trained():
    assert report.kept_note("0", "1", 0.25, 0.25) == (
        "the hand-picked first trial: trial 1 scored 0.2500 higher, within "
        "--hand-picked-margin 0.25")
    assert report.kept_note("1", "1", 0.0, 0.25) == ""  # It trained the top trial.


@pytest.mark.slow
def test_the_margin_picks_the_final_trainings_trial_and_a_new_one_redoes_only_that(
        tiny_data, tmp_path, monkeypatch, run_in_process):
    # The first (hand-picked) trial stays at chance; the second learns the tiny data.
    monkeypatch.setattr(hypermodel, "build_model", rigged({0: 0.0, 1: 3e-3}))
    args = tiny_args(tiny_data, tmp_path, "--trial-epochs", 2, "--final-epochs", 1, trials=2,
                     epochs=2, batch_size=32)
    proc = run_in_process(*args, "--hand-picked-margin", 0.99)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = read_summary(tmp_path / "random_search")
    first, second = summary["trials"]
    lead = second["val_accuracy"] - first["val_accuracy"]
    assert lead > 0 and summary["trained_trial_id"] == "0" and summary["top_trial_id"] == "1"
    assert (summary["trained_val_accuracy"], summary["top_val_accuracy"]) == (
        first["val_accuracy"], second["val_accuracy"])
    note = (f"(the hand-picked first trial: trial 1 scored {lead:.4f} higher, within "
            "--hand-picked-margin 0.99)")
    assert f"Trained trial 0 {note}: val_accuracy" in proc.stdout
    # The closing table.
    assert re.search(rf"^Trained trial +0: val accuracy {first['val_accuracy']:.4f} "
                     rf"{re.escape(note)}$", proc.stdout, flags=re.M), proc.stdout
    assert re.search(rf"^Top trial +1: val accuracy {second['val_accuracy']:.4f}$",
                     proc.stdout, flags=re.M)

    # A margin that changes the pick redoes the final training; one that keeps it, nothing.
    proc = run_in_process(*args, "--hand-picked-margin", 0)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Running Trial" not in proc.stdout and "Trained trial 1:" in proc.stdout
    again = read_summary(tmp_path / "random_search")
    assert again["trained_trial_id"] == "1" and again["trials"] == summary["trials"]
    proc = run_in_process(*args, "--hand-picked-margin", lead / 2)
    assert "The search and the final training had finished" in proc.stdout


def rigged(learning_rates):
    """A build_model that compiles trial n (0-based) with Adam at `learning_rates[n]`."""
    real = hypermodel.build_model
    # build_model runs once for the settings check, once when the tuner declares the space,
    # then once per trial.
    calls = {"n": -2}

    def build(hp, **kwargs):
        model = real(hp, **kwargs)
        trial = calls["n"]
        calls["n"] += 1
        if trial in learning_rates:
            model.compile(optimizer=keras.optimizers.Adam(learning_rates[trial]),
                          loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
    return build


@pytest.mark.slow
def test_a_trial_that_cannot_learn_is_pruned_recorded_and_never_rerun(
        tiny_data, tmp_path, monkeypatch, run_in_process):
    monkeypatch.setattr(pruning, "MIN_COMPLETED", 1)
    # Trial 0 learns the tiny data; trial 1 has a learning rate of 0 and stays at chance.
    # A 4-epoch schedule: judged from epoch 2 on.
    monkeypatch.setattr(hypermodel, "build_model", rigged({0: 3e-3, 1: 0.0}))
    args = tiny_args(tiny_data, tmp_path, "--patience", 4, "--trial-epochs", 4,
                     "--final-epochs", 1, trials=2, epochs=4, batch_size=32)
    proc = run_in_process(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    folder = tmp_path / "random_search"
    summary = read_summary(folder)
    first, second = summary["trials"]
    assert first["status"] == "completed" and first["epochs_run"] == 4
    assert second["status"] == "pruned"
    assert second["pruned_at_epoch"] == 2 and second["epochs_run"] == 2
    assert second["val_accuracy"] == max(second["history"]["val_accuracy"])
    assert summary["trained_trial_id"] == "0" and setting(summary, "pruning") is True
    assert "[trial 2/2] trial_1: val_accuracy" in out and "pruned at epoch 2" in out
    assert progress_lines(out) == [("1", "2"), ("2", "2")]  # One line per trial.
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows[1]["status"] == "pruned" and rows[1]["pruned_at_epoch"] == "2"
    # KerasTuner, and so the Bayesian oracle, keeps it as a scored trial: its score so far.
    kept = json.loads((folder / "trial_1" / "trial.json").read_text())
    assert kept["status"] == "COMPLETED"
    assert kept["score"] == pytest.approx(second["val_accuracy"])

    # A resume runs no trial again (KerasTuner would rerun a trial it had not seen end);
    # test_reliability extends a search past a failed trial with a larger --max-trials.
    proc = run_in_process(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not progress_lines(proc.stdout) and "Running Trial" not in proc.stdout
    assert "The search and the final training had finished" in proc.stdout
    assert read_summary(folder)["trials"] == summary["trials"]


@pytest.mark.slow
def test_no_pruning_runs_every_trial_to_its_end(tiny_data, tmp_path, monkeypatch,
                                                run_in_process):
    monkeypatch.setattr(pruning, "MIN_COMPLETED", 1)
    monkeypatch.setattr(hypermodel, "build_model", rigged({0: 3e-3, 1: 0.0}))
    proc = run_in_process(*tiny_args(tiny_data, tmp_path, "--patience", 4, "--no-pruning",
                                     "--trial-epochs", 4, "--final-epochs", 1, trials=2,
                                     epochs=4, batch_size=32))
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = read_summary(tmp_path / "random_search")
    assert [t["status"] for t in summary["trials"]] == ["completed", "completed"]
    assert summary["trials"][1]["epochs_run"] == 4 and setting(summary, "pruning") is False


def test_a_lead_of_exactly_the_margin_keeps_the_hand_picked_trial_whatever_the_rounding():
    import numpy as np

    # 66 of 12,000 validation images is the default margin; float32 scores round either way.
    for k in range(10_900, 11_000):
        first, top = (float(np.float32(n / 12_000)) for n in (k, k + 66))
        trials = [record("0", "completed", first), record("1", "completed", top)]
        assert trained_trial(trials, margin=66 / 12_000).trial_id == "0"
        trials[1].val_accuracy = float(np.float32((k + 67) / 12_000))
        assert trained_trial(trials, margin=66 / 12_000).trial_id == "1"
