"""The multi-seed study: aggregation from synthetic summaries, and a tiny real study."""

import json
from dataclasses import asdict

import numpy as np
import pytest

from fashion_tuning import report, study
from fashion_tuning.config import HAND_PICKED
from fashion_tuning.recipe import Recipe
from helpers import write_idx_dir
from summaries import (SUMMARY_DAMAGE, damaged, fake_summary, one_error_line, png_size, train_first,
                       write_summary)


def write_seeds(folder, seeds, change=lambda seed, summary: None):
    """Both strategies' summaries for each of `seeds` under `folder`, as a study writes them;
    `change(seed, summary)` may alter each first."""
    for seed in seeds:
        for strategy in ("random_search", "bayesian_optimization"):
            summary = fake_summary(strategy, seed)
            change(seed, summary)
            write_summary(folder / f"seed_{seed}" / strategy, summary)


def test_study_aggregates_paired_seeds(tmp_path):
    tests = {1: (0.90, 0.91), 2: (0.92, 0.91), 3: (0.91, 0.93)}

    def change(seed, summary):
        summary["test_accuracy"] = tests[seed][summary["strategy"] == "bayesian_optimization"]
        if seed == 2:  # Where and how a seed ran may differ (results_dir does at every seed).
            summary["settings"].update(workers=2, overwrite=True, data_dir="elsewhere")
        if seed == 2:  # The same data, read from elsewhere.
            summary["data_source"] = "directory elsewhere"
        if seed == 3:  # It trained the first trial, the hand-picked one.
            train_first(summary)

    write_seeds(tmp_path, tests, change)
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "study.json").read_text())
    assert result["seeds"] == [1, 2, 3]
    assert result["strategies"]["random_search"]["top_val_accuracy"]["per_seed"] == [0.85] * 3
    rnd = result["strategies"]["random_search"]["test_accuracy"]
    assert rnd["mean"] == pytest.approx(0.91) and rnd["sd"] == pytest.approx(0.01)
    md = (tmp_path / "study.md").read_text()
    assert "| 2 | +0.0000 | -0.0100 |" in md
    assert "| mean ± sd | +0.0000 ± 0.0000 | +0.0067 ± 0.0153 |" in md
    # t(0.975, 2 df) = 4.303: 0.0067 ± 4.303 * 0.0153 / sqrt(3).
    assert ("| 95 % interval of the mean (paired t, 2 df) | +0.0000 to +0.0000 | "
            "-0.0313 to +0.0446 |") in md
    assert "Bayesian ahead on test accuracy in 2 of 3 seeds, behind in 1." in md
    test_diff = result["bayesian_minus_random"]["test_accuracy"]
    assert test_diff["per_seed"] == pytest.approx([0.01, -0.01, 0.02])
    assert test_diff["ci95"] == pytest.approx([-0.0313, 0.0446], abs=1e-4)
    assert "precision_used=float32" in md
    # (t(0.975, 2) + t(0.80, 2)) * 0.0153 / sqrt(3): the difference 3 seeds find 4 times in 5.
    assert test_diff["detectable"] == pytest.approx(0.0473, abs=1e-4)
    assert "test accuracy of 0.0473 or more would show" in md
    assert result["strategies"]["random_search"]["kept_hand_picked"] == 1
    assert "| Trained the hand-picked first trial | 1 of 3 | 1 of 3 |" in md
    # fake_summary draws the same four configurations at every seed; the first, as the
    # hand-picked trial, does not count.
    assert result["shared_trials"] == [[s, [1, 2, 3]] for s in (["random_search"] * 3 +
                                                              ["bayesian_optimization"] * 3)]
    assert "Configurations drawn at more than one seed: Random Search, seeds 1, 2, 3;" in md
    assert png_size(tmp_path / "study.png")[0] >= 1000  # By trial and by time.
    assert (tmp_path / "seed_2" / "learning_curves.png").is_file()


def test_one_seed_reports_means_without_a_spread(tmp_path):
    for strategy, test in (("random_search", 0.93), ("bayesian_optimization", 0.94)):
        write_summary(tmp_path / "seed_1" / strategy, fake_summary(strategy, 1, test=test))
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 0
    md = (tmp_path / "study.md").read_text()
    assert "## Multi-seed study (1 seed: 1)" in md
    assert "| Test accuracy (mean ± sd) | 0.9300 | 0.9400 |" in md
    assert "| 1 | +0.0000 | +0.0100 |" in md and "| mean ± sd | +0.0000 | +0.0100 |" in md
    result = json.loads((tmp_path / "study.json").read_text())
    assert result["strategies"]["random_search"]["test_accuracy"]["sd"] is None


def test_the_report_names_each_machine_with_its_seeds(tmp_path):
    def change(seed, summary):
        if seed == 3:  # Its seconds are another CPU's.
            summary["machine"].update(cpu="Other CPU", gpus=["GPU:0", "GPU:1"])
        if seed == 4:  # The same name, other vector extensions.
            summary["machine"]["cpu_flags"] = ["avx2"]
        if seed == 2:  # An archived summary counts its GPUs.
            summary["machine"]["gpus"] = 0

    write_seeds(tmp_path, (1, 3, 2, 4), change)
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 0
    md = (tmp_path / "study.md").read_text()
    assert ("Machines: Test CPU, 2 cores (seeds 1, 2); Other CPU, 2 cores, 2 GPUs (seed 3); "
            "Test CPU, 2 cores, avx2 (seed 4): the seconds compare only within one machine"
            ) in md
    for seed in (3, 4):
        write_seeds(tmp_path, (seed,))
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 0
    md = (tmp_path / "study.md").read_text()
    assert "Machines: Test CPU, 2 cores (seeds 1, 2, 3, 4)\n" in md


def test_strategy_argv_drops_flags_the_strategy_lacks():
    argv = ["--epochs", "2", "--initial-points", "2", "--overwrite"]
    assert study.strategy_argv("bayesian_optimization", argv) == [
        "--epochs", "2", "--overwrite", "--initial-points", "2"]
    assert study.strategy_argv("random_search", argv) == ["--epochs", "2", "--overwrite"]


@pytest.mark.slow
def test_study_runs_both_strategies_on_tiny_data(tmp_path, monkeypatch, in_process):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    data_dir = write_idx_dir(tmp_path / "data", n_train=100, n_test=50)
    code = study.main(["--seeds", "2", "--results-dir", str(tmp_path / "study"),
                       "--data-dir", str(data_dir), "--max-trials", "1", "--epochs", "1",
                       "--batch-size", "64", "--final-recipe", "none"])
    assert code == 0
    result = json.loads((tmp_path / "study" / "study.json").read_text())
    assert result["seeds"] == [1, 2]
    assert result["budget"]["max_trials"] == 1 and result["budget"]["epochs"] == 1
    for stats in result["strategies"].values():
        assert len(stats["test_accuracy"]["per_seed"]) == 2
    assert result["shared_trials"] == []  # The oracle seeds of seeds 1 and 2 are unrelated.
    assert ("No strategy drew the same configuration at two seeds, but the hand-picked first "
            "trial.") in (
        tmp_path / "study" / "study.md").read_text()
    # Each seed's pair gets compare's report of its tiny real runs, too.
    for seed in ("seed_1", "seed_2"):
        assert "## Results summary" in (tmp_path / "study" / seed / "comparison.md").read_text()
        assert png_size(tmp_path / "study" / seed / "comparison.png")[0] >= 500


def test_only_drawn_configurations_count_as_shared_between_seeds():
    hand_picked = dict(HAND_PICKED)
    drawn = {**hand_picked, "units": 64}
    per_seed = {seed: {"random_search": {"trials": [{"hyperparameters": hp} for hp in trials]}}
                for seed, trials in {1: [hand_picked, drawn], 2: [hand_picked],
                                     3: [hand_picked, drawn]}.items()}
    assert study.shared_trials(per_seed) == [("random_search", [1, 3])]


def test_mean_best_so_far_by_time_starts_once_every_run_has_a_trial():
    runs = [[(60.0, 0.90), (120.0, 0.92)], [(90.0, 0.80), (150.0, 0.80)]]
    rows = report.best_so_far_at(runs, np.array([30.0, 60.0, 100.0, 200.0]))
    mean, sd = report.mean_and_sd(rows)
    assert np.isnan(mean[:2]).all()  # Run 2 has no trial yet: no mean of run 1 alone.
    assert mean[2:] == pytest.approx([0.85, 0.86]) and sd[3] == pytest.approx(0.06)


def test_seeds_run_with_other_settings_are_refused_by_name(tmp_path, capsys):
    def change(seed, summary):
        if seed == 3:
            summary["settings"].update(max_trials=3, final_epochs=2, final_recipe=asdict(Recipe.parse("flip")))
        if seed == 1:  # Archived before the margin existed: its search trained the top trial.
            summary["settings"]["hand_picked_margin"] = 0.0

    write_seeds(tmp_path, (1, 2, 3), change)
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 2
    err = one_error_line(capsys)
    assert "max_trials 4 at seeds 1, 2 but 3 at seed 3" in err
    assert 'final_recipe "none" at seeds 1, 2 but "flip" at seed 3' in err
    assert "hand_picked_margin 0.0 at seed 1 but 0.0055 at seeds 2, 3" in err
    assert "final_epochs" not in err  # The same at every seed.
    assert not (tmp_path / "study.json").exists()


@pytest.mark.parametrize("fact, value, shown", [
    ("data", {"sha256": "fedcba9876543210", "train_images": 300, "test_images": 100},
     'data {"sha256": "0123456789abcdef", "train_images": 300, "test_images": 100} at seeds '
     '1, 2 but {"sha256": "fedcba9876543210", "train_images": 300, "test_images": 100} at '
     'seed 3'),
    ("train_images", 200, "train_images 240 at seeds 1, 2 but 200 at seed 3"),
    ("final_images", 250, "final_images 300 at seeds 1, 2 but 250 at seed 3"),
])
def test_a_seed_run_on_other_data_is_refused_by_name(tmp_path, capsys, fact, value, shown):
    def change(seed, summary):
        if seed == 3:
            summary[fact] = value

    write_seeds(tmp_path, (1, 2, 3), change)
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 2
    err = one_error_line(capsys)
    assert "the study's runs differ in settings or data: " + shown in err
    assert not (tmp_path / "study.json").exists()


@pytest.mark.parametrize("change, shown", [
    # One strategy at every seed on other data: it differs between the strategies alone.
    (lambda seed, s: s["data"].update(sha256="fedcba9876543210")
     if s["strategy"] == "bayesian_optimization" else None,
     'data {"sha256": "0123456789abcdef", "train_images": 300, "test_images": 100} in Random '
     'Search at seeds 1, 2, 3 but {"sha256": "fedcba9876543210", "train_images": 300, '
     '"test_images": 100} in Bayesian Optimisation at seeds 1, 2, 3'),
    # --precision auto resolved otherwise for one run.
    (lambda seed, s: s.update(precision_used="mixed_bfloat16")
     if (seed, s["strategy"]) == (2, "bayesian_optimization") else None,
     'precision_used "float32" at seeds 1, 3 and in Random Search at seed 2 but '
     '"mixed_bfloat16" in Bayesian Optimisation at seed 2'),
    (lambda seed, s: s["settings"].update(epochs=4) if s["strategy"] == "random_search" else None,
     "epochs 4 in Random Search at seeds 1, 2, 3 but 3 in Bayesian Optimisation at seeds 1, 2, 3"),
    # A setting of the Bayesian script alone: compared between its seeds, not with Random's.
    (lambda seed, s: s["settings"].update(initial_points=seed)
     if s["strategy"] == "bayesian_optimization" else None,
     "initial_points 1 at seed 1 but 2 at seed 2 but 3 at seed 3"),
])
def test_runs_that_differ_between_strategies_are_refused_by_name(tmp_path, capsys, change,
                                                                   shown):
    write_seeds(tmp_path, (1, 2, 3), change)
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 2
    err = one_error_line(capsys)
    assert "the study's runs differ in settings or data: " + shown + ";" in err
    assert err.count(" but ") == shown.count(" but ")  # Nothing else differs.
    assert not (tmp_path / "study.json").exists()


def test_a_setting_of_one_script_may_differ_between_the_strategies(tmp_path):
    write_seeds(tmp_path, (1, 2), lambda seed, s: s["settings"].update(initial_points=None)
                if s["strategy"] == "random_search" else None)
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 0


def test_a_damaged_summary_exits_2_with_one_line(tmp_path, capsys):
    write_seeds(tmp_path, (1, 2))
    (tmp_path / "seed_2" / "random_search" / "summary.json").write_text('{"trials": [')
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 2
    assert "seed_2/random_search/summary.json" in one_error_line(capsys)


@pytest.mark.parametrize("how, change, problem", SUMMARY_DAMAGE,
                         ids=[d[0] for d in SUMMARY_DAMAGE])
def test_a_summary_missing_or_malforming_a_field_exits_2_with_one_line(
        tmp_path, capsys, how, change, problem):
    write_seeds(tmp_path, (1, 2))
    damaged(tmp_path / "seed_2" / "bayesian_optimization", change)
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 2
    assert (f"seed_2/bayesian_optimization/summary.json: damaged ({problem}"
            in one_error_line(capsys))
    assert not (tmp_path / "study.json").exists()


def test_a_seed_whose_model_is_not_its_summarys_is_refused_by_name_with_the_fix(
        tmp_path, capsys):
    write_seeds(tmp_path, (1, 2))
    (tmp_path / "seed_1" / "random_search" / "final_model.keras").write_bytes(b"PK other")
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 2
    assert ("seed_1/random_search/final_model.keras: not the model that summary.json "
            "describes; run the same tuning command again: it retrains and reports that model"
            ) in one_error_line(capsys)
    assert not (tmp_path / "study.json").exists()


def test_a_folder_it_cannot_write_into_exits_2_with_one_line(tmp_path, capsys):
    write_seeds(tmp_path, (1,))
    (tmp_path / "study.json").mkdir()  # Renaming the finished report onto it fails.
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 2
    assert f"cannot write into {tmp_path}" in one_error_line(capsys)
