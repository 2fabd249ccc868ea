"""Each script, run as a user would on tiny generated data, and on real data when installed."""

import csv
import dataclasses
import json
import re
import subprocess
from datetime import datetime, timedelta, timezone

import keras
import pytest

from fashion_tuning import cli
from fashion_tuning.config import HAND_PICKED_MARGIN, Config
from fashion_tuning.data import CLASS_NAMES, load_idx_dir
from fashion_tuning.environment import resolve_precision
from fashion_tuning.results import setting
from helpers import (ROOT, SCRIPTS, model_accuracy, read_summary, requires_debian_data,
                     start_script, tiny_args, write_idx_dir)

# Every test here reads a run of the scripts, or trains on real data.
pytestmark = pytest.mark.slow


def documented_summary_keys():
    """The keys docs/summary.md documents: the backticked names in its table's first column."""
    rows = [line.split("|")[1] for line in (ROOT / "docs" / "summary.md").read_text().splitlines()
            if line.startswith("| `")]
    return {key for row in rows for key in re.findall(r"`(\w+)`", row)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each script run once as a user would (2 trials of 2 epochs on tiny data), both at once
    into one --results-dir and one --tensorboard-dir: `({strategy: run}, the TensorBoard
    folder)`."""
    tmp = tmp_path_factory.mktemp("runs")
    data_dir = write_idx_dir(tmp / "data")
    args = tiny_args(data_dir, tmp / "results", "--tensorboard-dir", tmp / "tb", trials=2,
                     epochs=2, batch_size=32)
    # As from two terminals: their imports and searches overlap on the machine's cores.
    started = {strategy: start_script(script, *args) for strategy, script in SCRIPTS.items()}
    done = {}
    for strategy, proc in started.items():
        stdout, stderr = proc.communicate(timeout=600)
        done[strategy] = (strategy, subprocess.CompletedProcess(proc.args, proc.returncode,
                                                                stdout, stderr),
                          tmp / "results" / strategy, data_dir, args)
    return done, tmp / "tb"


@pytest.fixture(params=list(SCRIPTS))
def tiny_run(request, runs):
    """One script's run of `runs`: (strategy, its process, its folder, data folder, flags)."""
    return runs[0][request.param]


def test_run_succeeds_and_prints_the_summary(tiny_run):
    strategy, proc, folder, _, _ = tiny_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Starting a new search" in proc.stdout
    for label in ("Trained trial", "Top trial", "Test accuracy", "Trained hyperparameters",
                  "Trials run", "Elapsed time"):
        assert label in proc.stdout
    # "Best" is KerasTuner's word for the top score ("Best val_accuracy So Far"), never ours.
    assert not re.search(r"Best (trial |val accuracy|hyperparameters)", proc.stdout)


def test_summary_json_has_every_field(tiny_run):
    strategy, proc, folder, data_dir, _ = tiny_run
    summary = read_summary(folder)
    assert set(summary) == documented_summary_keys()
    assert summary["strategy"] == strategy
    assert [setting(summary, k) for k in ("max_trials", "epochs", "batch_size", "seed")] == [
        2, 2, 32, 42]
    assert summary["oracle_seed"] == Config(seed=42).oracle_seed
    assert summary["data_source"] == f"directory {data_dir}"
    assert summary["data"] == load_idx_dir(data_dir).fingerprint()
    assert summary["data"] == json.loads((folder / "settings.json").read_text())["data"]
    assert set(summary["per_class_accuracy"]) == set(CLASS_NAMES)
    assert all(0 <= v <= 1 for v in summary["per_class_accuracy"].values())
    assert 0 <= summary["test_accuracy"] <= 1 and summary["test_loss"] > 0
    assert set(summary["versions"]) >= {"python", "tensorflow", "keras", "keras_tuner"}
    assert len(summary["trials"]) == 2
    for t in summary["trials"]:
        assert set(t) >= {"trial_id", "status", "hyperparameters", "val_accuracy",
                          "epochs_run", "seconds"}
        assert t["status"] == "completed" and 1 <= t["epochs_run"] <= 2 and t["seconds"] > 0
    top, first = max(summary["trials"], key=lambda t: t["val_accuracy"]), summary["trials"][0]
    trained = first if top["val_accuracy"] - first["val_accuracy"] <= HAND_PICKED_MARGIN else top
    assert summary["trained_trial_id"] == trained["trial_id"]
    assert summary["trained_val_accuracy"] == trained["val_accuracy"]
    assert summary["trained_hyperparameters"] == trained["hyperparameters"]
    assert (summary["top_trial_id"], summary["top_val_accuracy"]) == (
        top["trial_id"], top["val_accuracy"])
    # --epochs 2 caps both schedules.
    assert setting(summary, "trial_epochs") == setting(summary, "final_epochs") == 2
    assert summary["search_seconds"] > 0 and summary["final_seconds"] > 0
    assert summary["total_seconds"] >= summary["final_seconds"]
    if strategy == "bayesian_optimization":
        assert summary["oracle"]["num_initial_points"] == 3
    # The precision is recorded as the Keras policy it resolved to on this machine.
    assert summary["precision_used"] == resolve_precision(Config().precision)
    assert f"Precision: {summary['precision_used']}" in proc.stdout


def test_summary_says_where_it_came_from(tiny_run):
    strategy, _, folder, _, args = tiny_run
    summary = read_summary(folder)
    version = summary["code_version"]
    assert len(version.get("git_commit", "")) == 40 or version.get("package_version")
    started, finished = (datetime.fromisoformat(summary[k]) for k in ("started_at", "finished_at"))
    assert started.utcoffset() == finished.utcoffset() == timedelta(0)
    assert started <= finished <= datetime.now(timezone.utc)
    assert SCRIPTS[strategy] in summary["command_line"]
    assert summary["arguments"] == [str(a) for a in args]
    settings = summary["settings"]
    assert set(settings) == {f.name for f in dataclasses.fields(Config)} | {
        "pruning_min_completed", "judged_from_epoch"}
    assert (settings["max_trials"], settings["trial_epochs"], settings["pruning"]) == (
        2, 2, True)
    recorded = json.loads((folder / "settings.json").read_text())
    assert recorded["pruning_min_completed"] == settings["pruning_min_completed"] == 5
    assert recorded["judged_from_epoch"] == settings["judged_from_epoch"] == 1


def test_trials_csv_has_one_row_per_trial(tiny_run):
    _, _, folder, _, _ = tiny_run
    summary = read_summary(folder)
    with open(folder / "trials.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["trial_id"] for r in rows] == [t["trial_id"] for t in summary["trials"]]
    for row, trial in zip(rows, summary["trials"]):
        assert float(row["val_accuracy"]) == pytest.approx(trial["val_accuracy"])
        assert row["units"] == str(trial["hyperparameters"]["units"])
        assert row["optimizer"] == trial["hyperparameters"]["optimizer"]


def test_saved_model_reproduces_test_accuracy_with_keras_alone(tiny_run):
    _, _, folder, data_dir, _ = tiny_run
    summary = read_summary(folder)
    # Keras loads only its own classes by name: a layer of this package would fail to load.
    model = keras.saving.load_model(folder / "final_model.keras")
    assert {type(layer).__module__.split(".")[0] for layer in model._flatten_layers()} == {
        "keras"}
    assert model_accuracy(folder / "final_model.keras", data_dir) == pytest.approx(
        summary["test_accuracy"], abs=1e-6)


def test_rerun_resumes_without_new_trials(tiny_run, in_process, capsys, monkeypatch):
    from fashion_tuning import environment

    strategy, _, folder, _, args = tiny_run
    before = read_summary(folder)
    # A commit since: the saved result is still the code's that trained it.
    monkeypatch.setattr(environment, "code_version", lambda: {"git_commit": "a later one"})
    code = cli.main(strategy, [str(a) for a in args])
    out, err = capsys.readouterr()
    assert code == 0, err[-3000:]
    assert "Resuming the search" in out and "reporting the saved result" in out
    summary = read_summary(folder)
    assert len(summary["trials"]) == 2
    made_by = ("code_version", "started_at", "finished_at", "machine", "versions")
    assert [summary[k] for k in made_by] == [before[k] for k in made_by]


def test_summary_names_the_code_the_run_started_with(tmp_path, monkeypatch, run_in_process):
    # A commit made while a long run goes on must not be recorded as the code that ran it.
    from fashion_tuning import environment

    folder = tmp_path / "results" / "random_search"
    monkeypatch.setattr(environment, "code_version", lambda: {
        "git_commit": "after the search" if list(folder.glob("trial_*")) else "at the start"})
    proc = run_in_process(*tiny_args(write_idx_dir(tmp_path / "data"), tmp_path / "results"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_summary(folder)["code_version"] == {"git_commit": "at the start"}


@requires_debian_data
def test_short_real_data_run_learns(tmp_path, monkeypatch, in_process, capsys):
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)  # The default search order.
    # The one trial is the hand-picked configuration.
    code = cli.main("random_search", ["--results-dir", str(tmp_path), "--max-trials", "1",
                                      "--epochs", "3", "--train-limit", "4000", "--seed", "10"])
    assert code == 0, capsys.readouterr().err[-3000:]
    summary = read_summary(tmp_path / "random_search")
    assert "dataset-fashion-mnist" in summary["data_source"]
    assert summary["train_images"] == 3200 and summary["val_images"] == 800
    # Chance is 0.10: three epochs on 3,200 images must do far better.
    assert summary["test_accuracy"] > 0.6


def test_tensorboard_logs_of_two_runs_stay_apart(runs):
    # One --tensorboard-dir for a Bayesian and a random run: each run's trials get their own
    # folder, so the HParams tab never shows one run's hyperparameters with the other's scores.
    done, tensorboard = runs
    for _, proc, _, _, _ in done.values():
        assert proc.returncode == 0, proc.stderr[-2000:]
    logged = sorted(p.name for p in tensorboard.iterdir())
    assert [name.split("-")[0] for name in logged] == ["bayesian_optimization", "random_search"]
    for run in logged:
        for trial in ("0", "1"):
            logs = tensorboard / run / trial / "execution0"
            events = list(logs.glob("events.out.tfevents.*"))
            assert events, f"no HParams event file for trial {trial} of {run}"
            assert b"hparams" in events[0].read_bytes()
            assert list((logs / "train").glob("events.*"))
