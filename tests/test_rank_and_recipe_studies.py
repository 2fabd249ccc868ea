"""The rank and recipe studies: their inputs, the reports' numbers, and tiny real studies."""

import json
import statistics

import numpy as np
import pytest

from benchmarks import rank_study, recipe_study
from benchmarks.common import in_space
from fashion_tuning.errors import UserError
from helpers import HPS
from summaries import fake_summary, one_error_line, write_summary


def trial(trial_id, hps, scores, status="completed"):
    return {"trial_id": trial_id, "status": status, "hyperparameters": hps,
            "val_accuracy": None if status == "failed" else max(scores),
            "epochs_run": len(scores), "best_epoch": 1, "seconds": 1.0, "peak_rss_mb": None,
            "worker": None, "message": "", "history": {"val_accuracy": scores},
            "pruned_at_epoch": len(scores) if status == "pruned" else None}


def run(strategy, trials=(), trained=HPS[0], **settings):
    """A whole summary of a `strategy` run at seed 40 of 12-epoch trials with `trials`, whose
    final training trained `trained`, with other `settings`."""
    summary = fake_summary(strategy, seed=40)
    trials = list(trials) or summary["trials"]
    top = max((t for t in trials if t["val_accuracy"] is not None),
              key=lambda t: t["val_accuracy"])
    summary.update(trials=trials, trained_hyperparameters=trained,
                   trained_trial_id=trials[0]["trial_id"], top_trial_id=top["trial_id"],
                   top_val_accuracy=top["val_accuracy"])
    summary["settings"].update({"trial_epochs": 12, **settings})
    return summary


def summaries():
    """Two runs sharing their first trial; the second run's other trial was pruned early."""
    return [run("random_search", [trial("00", HPS[0], [0.5] * 11 + [0.80]),
                                  trial("01", HPS[1], [0.6] * 12),
                                  trial("02", HPS[2], [0.1], status="failed")]),
            run("bayesian_optimization", [trial("00", HPS[0], [0.5] * 11 + [0.80]),
                                          trial("01", HPS[2], [0.7] * 6, status="pruned")])]


def test_configurations_are_distinct_with_their_trial_seed_and_reference():
    configs = rank_study.configurations(summaries())
    assert [(c["key"], c["seed"], c["reference"]) for c in configs] == [
        ("random_search/00", 40, 0.80), ("random_search/01", 41, 0.6),
        ("bayesian_optimization/01", 41, None)]
    plan = rank_study.plan(configs, [3, 4])
    assert [(c["key"], h) for c, h in plan[:1]] == [("bayesian_optimization/01", 12)]
    assert len(plan) == 1 + 2 * 3


def test_runs_without_one_trial_schedule_are_refused():
    summary = run("random_search", trial_epochs=None)
    with pytest.raises(UserError, match="random_search run at seed 40 records no trial_epochs"):
        rank_study.configurations([summary])


def test_report_gives_rho_the_best_ones_rank_and_the_regret():
    configs = [{"key": k, "reference": r, "schedule": 12}
               for k, r in (("a", 0.93), ("b", 0.92), ("c", 0.91), ("d", None))]
    runs = {(k, 3): {"history": {"val_accuracy": [0.1, s]}, "seconds": 10.0}
            for k, s in (("a", 0.88), ("b", 0.90), ("c", 0.87), ("d", 0.86))}
    runs["d", 12] = {"history": {"val_accuracy": [0.90]}, "seconds": 40.0}
    result = rank_study.report(configs, runs, [3])
    row, = result["horizons"]
    assert result["reference_best"] == "a" and result["reference"]["d"] == 0.90
    assert row["configurations"] == 4 and row["pick"] == "b"
    assert row["reference_best_rank"] == 2
    assert row["regret"] == pytest.approx(0.01) and row["top3_regret"] == 0
    assert row["rho"] == pytest.approx(0.8)  # Ranks (1,2,3,4) against (2,1,3,4).
    assert row["seconds"] == 40.0


@pytest.mark.slow
def test_a_tiny_study_trains_resumes_and_reports(tiny_data, tmp_path, capsys):
    paths = []
    for i, summary in enumerate(summaries()):
        # Schedules of 2 epochs: the pruned trial's reference trains 2, not 12.
        summary["settings"].update(val_fraction=0.2, train_limit=None, batch_size=64,
                                   trial_epochs=2)
        paths.append(tmp_path / f"run_{i}" / "summary.json")
        write_summary(paths[-1].parent, summary)
    out = tmp_path / "runs.jsonl"
    argv = [*map(str, paths), "--horizons", "1", "--out", str(out), "--data-dir", str(tiny_data)]
    assert rank_study.main(argv) == 0
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["key"], r["horizon"]) for r in runs] == [
        ("bayesian_optimization/01", 2), ("random_search/00", 1), ("random_search/01", 1),
        ("bayesian_optimization/01", 1)]
    assert len(runs[0]["history"]["val_accuracy"]) == 2  # The whole schedule, not cut.
    assert runs[0]["machine"]["cores"] >= 1 and runs[0]["seconds"] > 0
    assert rank_study.main(argv) == 0  # Resumed: nothing left to train.
    assert len(out.read_text().splitlines()) == 4
    assert "0 trainings to go" in capsys.readouterr().out
    report = json.loads(out.with_suffix(".json").read_text())
    assert [r["horizon"] for r in report["horizons"]] == [1]
    assert "| 1 | 3 |" in out.with_suffix(".md").read_text()


@pytest.mark.slow
def test_a_tiny_recipe_study_trains_scores_resumes_and_reports(tiny_data, tmp_path, capsys):
    summary = tmp_path / "summary.json"
    write_summary(tmp_path, run("random_search", batch_size=64))
    out = tmp_path / "runs.jsonl"
    argv = [str(summary), "--epochs", "2", "--seeds", "1,2", "--recipes",
            "base,flip_lr2,alt_flip", "--out", str(out), "--data-dir", str(tiny_data)]
    assert recipe_study.main(argv) == 0
    runs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["recipe"], r["seed"]) for r in runs] == [
        ("base", 1), ("flip_lr2", 1), ("alt_flip", 1), ("base", 2), ("flip_lr2", 2),
        ("alt_flip", 2)]
    alternating = runs[2]["history"]
    assert len(alternating["loss"]) == 2 and len(alternating["val_accuracy"]) == 2
    assert all(0 <= r[k] <= 1 for r in runs
               for k in ("val_accuracy", "val_accuracy_flip_tta", "val_accuracy_views"))
    assert runs[1]["hyperparameters"] == {**HPS[0], "learning_rate": 2e-3}
    assert runs[1]["arguments"] == {"flip": True}
    assert recipe_study.main(argv) == 0
    assert len(out.read_text().splitlines()) == 6
    assert "0 trainings to go" in capsys.readouterr().out
    rows = json.loads(out.with_suffix(".json").read_text())
    assert [(r["recipe"], r["seeds"]) for r in rows] == [
        ("base", [1, 2]), ("flip_lr2", [1, 2]), ("alt_flip", [1, 2])]
    assert rows[0]["val_accuracy"]["minus_reference"] == 0 and rows[0]["time_over_reference"] == 1
    gain = rows[1]["val_accuracy"]
    assert gain["minus_reference"] == pytest.approx(
        statistics.fmean(gain["per_seed"]) - rows[0]["val_accuracy"]["mean"])
    assert "| flip_lr2 | 2 | 2 |" in out.with_suffix(".md").read_text()


def test_multi_view_scoring_moves_images_by_one_pixel_with_a_black_border():
    image = np.arange(1, 10).reshape(1, 3, 3)
    assert recipe_study.shifted(image, 1, 0).tolist() == [[[0, 0, 0], [1, 2, 3], [4, 5, 6]]]
    assert recipe_study.shifted(image, 0, -1).tolist() == [[[2, 3, 0], [5, 6, 0], [8, 9, 0]]]
    assert recipe_study.shifted(image, 0, 0).tolist() == image.tolist()


def test_an_unknown_recipe_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        recipe_study.main([str(tmp_path / "s.json"), "--recipes", "base,mixup"])
    assert e.value.code == 2 and "unknown recipe(s): mixup" in capsys.readouterr().err


def test_a_configuration_of_another_trunk_is_refused_before_the_data(tmp_path, capsys):
    summary = tmp_path / "summary.json"
    write_summary(tmp_path, run("random_search", trained={**HPS[0], "filters": 16,
                                                          "stage2_convs": 2}))
    # No data folder exists: the configuration is refused first.
    argv = [str(summary), "--recipes", "base", "--out", str(tmp_path / "runs.jsonl"),
            "--data-dir", str(tmp_path / "absent")]
    assert recipe_study.main(argv) == 2
    assert "filters=16, but the trunk is fixed at filters=32" in one_error_line(capsys)


def test_older_summaries_naming_the_fixed_trunk_train_it():
    assert in_space({**HPS[0], "filters": 32, "stage2_convs": 2}) == HPS[0]
    assert in_space(HPS[0]) == HPS[0]
    with pytest.raises(UserError, match="'batch_norm' is not in this search space"):
        in_space({**HPS[0], "batch_norm": True})
