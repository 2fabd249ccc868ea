"""The benchmark runs end to end on tiny data and reports what it measured."""

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from fashion_tuning import cli
from fashion_tuning.results import setting
from helpers import SCRIPTS, read_summary
from summaries import fake_summary, one_error_line, write_summary


@pytest.mark.slow
def test_benchmark_reports_throughput_ratio_startup_and_bf16(tiny_data, capsys):
    from benchmarks import benchmark

    assert benchmark.main(["--data-dir", str(tiny_data), "--reps", "1", "--timed-epochs", "3",
                           "--precision"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out[out.index("\n{") + 1:])
    assert report["machine"]["cores"] >= 1
    # Start-up is timed in a new process, once per rep.
    assert len(report["startup_s"]["runs"]) == 1 and report["startup_s"]["median"] > 0
    tp = report["throughput"]
    assert set(tp) == {"plain", "tuner", "plain_bf16"}
    for run in tp.values():
        # 1 rep x (3 epochs - the dropped first one), each timed, none of them zero.
        assert run["epochs_timed"] == 2 == len(run["epoch_s_all"])
        assert min(run["epoch_s_all"]) > 0
        assert min(run["epoch_s_all"]) <= run["epoch_s"] <= max(run["epoch_s_all"])
    assert report["tuner_over_plain_epoch_time"] > 0 and report["bf16_speedup_plain"] > 0
    assert "Tuner epoch / plain epoch:" in out


def scripts_in_process(monkeypatch, runs):
    """Make the scripts that `runs` starts run as `cli.main` in this process (the
    `in_process` fixture restores the signal handlers): (command, exit code) of each."""
    started = []

    def run(command, **kwargs):
        strategy = {script: s for s, script in SCRIPTS.items()}[Path(command[1]).name]
        started.append((command, cli.main(strategy, command[2:])))
        return subprocess.CompletedProcess(command, started[-1][1], "", "")

    monkeypatch.setattr(runs, "subprocess", SimpleNamespace(run=run))
    return started


@pytest.mark.slow
def test_pruning_compare_keeps_both_runs_of_each_seed(tiny_data, tmp_path, monkeypatch,
                                                      in_process):
    from benchmarks import runs

    started = scripts_in_process(monkeypatch, runs)
    monkeypatch.setattr(runs, "PRUNING_RUN", ("--max-trials", "1", "--epochs", "1"))
    result = runs.pruning_compare(1, tmp_path / "bench", str(tiny_data))
    assert [(Path(command[1]).name, code) for command, code in started] == [
        ("random_search_tuning.py", 0)] * 2
    assert [r["seed"] for r in result["runs"]["on"]] == [1] == [
        r["seed"] for r in result["runs"]["off"]]
    assert result["search_time_on_over_off"] > 0
    for label, pruning in (("on", True), ("off", False)):
        summary = read_summary(tmp_path / "bench" / "pruning" / "seed_1" / label / "random_search")
        assert setting(summary, "pruning") is pruning and setting(summary, "max_trials") == 1


def test_benchmark_without_the_data_gives_the_scripts_one_line(tmp_path, capsys, monkeypatch):
    from benchmarks import benchmark

    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "nope"))
    assert benchmark.main(["--reps", "1"]) == 2
    err = one_error_line(capsys)
    assert "nope: data directory does not exist" in err and "FASHION_MNIST_DIR" in err


def test_pruning_replay_reads_summaries_as_every_reader_does(tmp_path, capsys):
    from benchmarks import pruning_replay

    write_summary(tmp_path / "run", fake_summary("random_search"))
    assert pruning_replay.main([str(tmp_path / "run" / "summary.json"),
                                "--judged-from-epochs", "1", "--min-completed", "2"]) == 0
    assert "epochs kept" in capsys.readouterr().out
    assert pruning_replay.main([str(tmp_path / "none" / "summary.json")]) == 2
    assert "none/summary.json: no summary.json there" in one_error_line(capsys)
    (tmp_path / "run" / "summary.json").write_text("[]")
    assert pruning_replay.main([str(tmp_path / "run")]) == 2
    assert "run/summary.json" in one_error_line(capsys)


def test_pruning_replay_prunes_what_the_rule_would_and_counts_epochs_and_seconds():
    from benchmarks.pruning_replay import replay

    def trial(i, scores, seconds):
        return {"trial_id": str(i), "history": {"val_accuracy": scores}, "seconds": seconds}

    trials = [trial(0, [0.5, 0.7, 0.8], 30), trial(1, [0.6, 0.7, 0.8], 30),
              # Below the median of 0 and 1 (0.55) at epoch 1: pruned there, 1 of 4 epochs run.
              trial(2, [0.4, 0.9, 0.9, 0.9], 40),
              # Never below it before its last epoch; pruning stops no trial at its last epoch.
              trial(3, [0.6, 0.7, 0.1], 15)]
    kept, total, kept_s, total_s, pruned = replay(trials, judged_from_epoch=1, min_completed=2)
    assert pruned == ["2"]
    assert (kept, total) == (1 + 3 + 3 + 3, 13)
    assert (kept_s, total_s) == (10 + 30 + 30 + 15, 115)
    assert replay(trials, judged_from_epoch=1, min_completed=3)[4] == []  # Only 2 completed before it.
    assert replay(trials, judged_from_epoch=2, min_completed=2)[4] == []  # Epoch 2: 0.9 above 0.7.


def test_pruning_replay_at_a_horizon_takes_the_rank_studys_trainings():
    from benchmarks.pruning_replay import at_horizon

    hps = [{"units": 64}, {"units": 96}]
    summary = {"top_trial_id": "0", "trials": [
        {"trial_id": str(i), "hyperparameters": h, "history": {"val_accuracy": [0.1] * 12},
         "seconds": 120.0} for i, h in enumerate(hps)]}
    runs = [{"hyperparameters": hps[0], "horizon": 3, "history": {"val_accuracy": [.5, .6, .7]},
             "seconds": 30.0},
            {"hyperparameters": hps[1], "horizon": 3, "history": {"val_accuracy": [.6, .7, .8]},
             "seconds": 33.0},
            {"hyperparameters": hps[1], "horizon": 4, "history": {"val_accuracy": [.9] * 4},
             "seconds": 44.0}]
    short = at_horizon(summary, runs, 3)
    assert [(t["history"]["val_accuracy"][-1], t["seconds"]) for t in short["trials"]] == [
        (0.7, 30.0), (0.8, 33.0)]
    assert short["top_trial_id"] == "1"  # The top one at that horizon.



def test_pairs_runs_the_quick_pair_then_the_default_pair_each_from_scratch(tiny_data):
    from benchmarks import runs

    plan = runs.pair_plan("out", str(tiny_data))
    assert [(pair, script) for pair, script, _, _ in plan] == [
        ("quick", "random_search_tuning.py"), ("quick", "bayesian_tuning.py"),
        ("default", "random_search_tuning.py"), ("default", "bayesian_tuning.py")]
    for pair, _, folder, flags in plan:
        assert folder == f"out/{pair}" and "--overwrite" in flags
        assert ("--quick" in flags) == (pair == "quick")
        assert flags[flags.index("--data-dir") + 1] == str(tiny_data)
    # Every flag is one the scripts take.
    from fashion_tuning.flags import parse_config

    for pair, script, folder, flags in plan:
        strategy = "random_search" if script.startswith("random") else "bayesian_optimization"
        config = parse_config(strategy, ["--results-dir", folder, *flags])
        assert (config.results_dir, config.max_trials) == (folder, 3 if pair == "quick" else 10)


def test_a_runs_images_per_second_are_the_images_trained_over_each_phases_time(tmp_path,
                                                                                monkeypatch):
    from benchmarks import runs

    summary = {**fake_summary("random_search", scores=(0.8, 0.9)), "train_images": 1000,
               "final_images": 1200}  # 2 trials of 3 epochs; 2 final epochs.

    def fake_script(command, **kwargs):
        write_summary(tmp_path / "random_search", summary)

    monkeypatch.setattr(runs.subprocess, "run", fake_script)
    run = runs.full_run("random_search_tuning.py", str(tmp_path), "--quick")
    assert run["search_images_per_s"] == 6 * 1000 / 126.0
    assert run["final_training_images_per_s"] == 2 * 1200 / 20.0
    assert (run["search_s"], run["final_training_s"], run["test_accuracy"]) == (126.0, 20.0, 0.9)


def test_the_old_spelling_of_timed_epochs_is_named(capsys):
    from benchmarks import benchmark

    with pytest.raises(SystemExit) as exit_:
        benchmark.main(["--epochs", "2"])
    assert exit_.value.code == 2
    assert "--epochs is now --timed-epochs" in capsys.readouterr().err
