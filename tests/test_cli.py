"""Errors a user can cause: one line on stderr, exit 2, nothing trained."""

import pytest

from helpers import refused, run_script
from fashion_tuning.flags import parse_config
from fashion_tuning.config import QUICK, Config


@pytest.mark.parametrize("argv, message", [
    (["--max-trials", "0"], "--max-trials must be at least 1"),
    (["--epochs", "-3"], "--epochs must be at least 1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--patience", "0"], "--patience must be at least 1"),
    (["--seed", "-1"], "--seed must be between 0 and 2147483647, got -1"),
    (["--seed", str(2**31)], f"--seed must be between 0 and 2147483647, got {2**31}"),
    (["--val-fraction", "0"], "--val-fraction must be between 0 and 1"),
    (["--val-fraction", "1.5"], "--val-fraction must be between 0 and 1"),
    (["--train-limit", "5"], "--train-limit must be at least 100"),
    (["--initial-points", "0"], "--initial-points must be at least 1"),
    (["--time-budget", "0"], "--time-budget must be a finite, positive number of minutes"),
    (["--time-budget", "inf"], "--time-budget must be a finite, positive number of minutes, "
                               "got inf"),
    (["--time-budget", "nan"], "--time-budget must be a finite, positive number of minutes, "
                               "got nan"),
    (["--workers", "0"], "--workers must be from 1 to"),
    (["--workers", "2", "--max-trials", "1"], "--workers must be from 1 to 1: a process needs "
                                              "a CPU core"),
    (["--data-dir", ""], "--data-dir is empty"),
    (["--hand-picked-margin", "-0.01"], "--hand-picked-margin must be at least 0 and below 1"),
    (["--hand-picked-margin", "nan"], "--hand-picked-margin must be at least 0 and below 1"),
    (["--hand-picked-margin", "1"], "--hand-picked-margin must be at least 0 and below 1, got 1"),
    (["--hand-picked-margin", "inf"], "--hand-picked-margin must be at least 0 and below 1"),
    (["--final-epochs", "0"], "--final-epochs must be at least 1, got 0"),
    (["--trial-epochs", "0"], "--trial-epochs must be at least 1, got 0"),
    (["--final-recipe", "flip,mixup"], "--final-recipe: unknown part 'mixup'; give none"),
    (["--epochs", "ten"], "'ten' is not an int"),
    (["--val-fraction", "x"], "'x' is not a float"),
    (["--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_bad_flags_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        parse_config("bayesian_optimization", argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_workers_are_at_most_one_a_cpu_core(capsys, monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    assert parse_config("random_search", ["--workers", "4"]).workers == 4
    with pytest.raises(SystemExit):
        parse_config("random_search", ["--workers", "5"])
    assert ("--workers must be from 1 to 4: a process needs a CPU core (4 here) and a trial "
            "(--max-trials 10), got 5") in capsys.readouterr().err


def test_initial_points_is_bayesian_only(capsys):
    with pytest.raises(SystemExit):
        parse_config("random_search", ["--initial-points", "3"])
    assert "unrecognized arguments" in capsys.readouterr().err
    assert parse_config("bayesian_optimization", []).initial_points == 3


def test_epochs_caps_both_schedules():
    config = parse_config("random_search", ["--epochs", "10", "--trial-epochs", "12",
                                            "--final-epochs", "20"])
    assert (config.trial_epochs, config.final_epochs) == (10, 10)
    assert parse_config("random_search", ["--quick"]).final_epochs == QUICK["epochs"]


def test_quick_preset_yields_to_explicit_flags():
    config = parse_config("random_search", ["--quick", "--epochs", "5"])
    assert config.epochs == 5
    assert config.max_trials == QUICK["max_trials"]
    assert config.train_limit == QUICK["train_limit"]
    assert config.results_dir == QUICK["results_dir"]
    bayes = parse_config("bayesian_optimization", ["--quick"])
    assert bayes.initial_points == QUICK["initial_points"] < bayes.max_trials
    assert parse_config("bayesian_optimization", ["--quick", "--initial-points", "3"]
                        ).initial_points == 3
    assert parse_config("random_search", []) == Config()  # Without --quick, no preset.


@pytest.mark.slow
def test_missing_data_dir_exits_2(tmp_path):
    # As a user sees a refusal: the one subprocess test of this file.
    proc = run_script("random_search_tuning.py", "--data-dir", tmp_path / "nope",
                      "--results-dir", tmp_path / "out")
    refused(proc, "nope: data directory does not exist")
    assert proc.stderr.startswith("error: ")


def test_corrupt_data_exits_2(tiny_data, tmp_path, run_in_process):
    (tiny_data / "train-images-idx3-ubyte.gz").write_bytes(b"garbage")
    proc = run_in_process("--data-dir", tiny_data, "--results-dir", tmp_path / "out",
                          strategy="bayesian_optimization")
    refused(proc, "train-images-idx3-ubyte.gz: cannot be read")


def test_env_var_names_the_data_dir(tmp_path, run_in_process, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "from-env"))
    proc = run_in_process("--results-dir", tmp_path / "out")
    refused(proc, "from-env: data directory does not exist",
            "set $FASHION_MNIST_DIR to another folder")  # The cause is named.


def test_results_folder_that_is_a_file_exits_2_before_loading_data(tmp_path, run_in_process):
    blocker = tmp_path / "taken"
    blocker.write_text("a file, not a folder")
    # The data dir does not exist either: the folder check must come first.
    proc = run_in_process("--results-dir", blocker, "--data-dir", tmp_path / "nope")
    refused(proc, "taken: is a file, not a folder", "--results-dir")
