"""The comparison report and the multi-seed study, from synthetic summaries and a tiny real run."""

import json
import struct

import pytest

from conftest import write_idx_dir
from fashion_tuning import compare, study
from fashion_tuning.data import CLASS_NAMES


def fake_summary(strategy, seed=1, test=0.9, scores=(0.8, 0.85, None, 0.84)):
    trials = [{"trial_id": str(i), "status": "failed" if s is None else "completed",
               "hyperparameters": {"units": 64 + 32 * i, "optimizer": "adam"},
               "val_accuracy": s, "epochs_run": 3, "best_epoch": 2, "seconds": 30.0 + i,
               "message": ""} for i, s in enumerate(scores)]
    best = max((t for t in trials if t["val_accuracy"] is not None),
               key=lambda t: t["val_accuracy"])
    return {
        "strategy": strategy, "seed": seed, "max_trials": len(scores), "epochs": 3,
        "batch_size": 128, "patience": 3, "train_limit": None, "val_fraction": 0.2,
        "precision": "float32", "best_trial_id": best["trial_id"], "best_hyperparameters": best["hyperparameters"],
        "best_val_accuracy": best["val_accuracy"], "retrain_epochs": 2, "test_accuracy": test,
        "test_loss": 0.3, "per_class_accuracy": {c: 0.5 + i / 100 for i, c in
                                                 enumerate(CLASS_NAMES)},
        "confusion_matrix": [[100 if i == j else 1 for j in range(10)] for i in range(10)],
        "search_seconds": 126.0, "retrain_seconds": 20.0, "total_seconds": 146.0,
        "machine": {"cpu": "Test CPU", "cores": 2, "gpus": 0}, "trials": trials,
    }


def write_summary(folder, summary):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary))


def png_size(path):
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def test_best_so_far_skips_failed_trials():
    rows = compare.best_so_far(fake_summary("random_search")["trials"])
    assert [r[2] for r in rows] == [0.8, 0.85, 0.85, 0.85]
    assert [r[1] for r in rows] == [0.8, 0.85, None, 0.84]
    assert rows[-1][3] == pytest.approx(30 + 31 + 32 + 33)


def test_markdown_table_has_the_summaries_numbers(tmp_path):
    write_summary(tmp_path / "random_search", fake_summary("random_search", test=0.9123))
    write_summary(tmp_path / "bayesian_optimization",
                  fake_summary("bayesian_optimization", test=0.9234, scores=(0.7, 0.88)))
    summaries, paths = compare.write_comparison(tmp_path)
    md = (tmp_path / "comparison.md").read_text()
    header, _, *rows = md.split("## Results summary")[1].strip().splitlines()[:12]
    assert "Random Search" in header and "Bayesian Optimisation" in header
    table = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:4]] for r in rows}
    assert table["Test accuracy"] == ["**0.9123**", "**0.9234**"]
    assert table["Best val accuracy"] == ["0.8500 (trial 1)", "0.8800 (trial 1)"]
    assert table["Trials run"] == ["3 completed of 4", "2 completed of 2"]
    assert table["Total time"] == ["2 min 26 s", "2 min 26 s"]
    assert "| Ankle boot | 0.590 | 0.590 |" in md
    for name in ("comparison.png", "confusion_random_search.png",
                 "confusion_bayesian_optimization.png"):
        width, height = png_size(tmp_path / name)
        assert width >= 500 and height >= 400


def test_cli_with_one_strategy_says_what_is_missing(tmp_path, capsys):
    write_summary(tmp_path / "bayesian_optimization", fake_summary("bayesian_optimization"))
    assert compare.main(["--results-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "no results for random_search" in out
    assert (tmp_path / "confusion_bayesian_optimization.png").is_file()
    assert not (tmp_path / "confusion_random_search.png").exists()


def test_cli_with_no_results_exits_2(tmp_path, capsys):
    assert compare.main(["--results-dir", str(tmp_path)]) == 2
    assert "run random_search_tuning.py" in capsys.readouterr().err


def test_study_aggregates_paired_seeds(tmp_path):
    for seed, (r, b) in {1: (0.90, 0.91), 2: (0.92, 0.91), 3: (0.91, 0.93)}.items():
        write_summary(tmp_path / f"seed_{seed}" / "random_search",
                      fake_summary("random_search", seed, test=r))
        write_summary(tmp_path / f"seed_{seed}" / "bayesian_optimization",
                      fake_summary("bayesian_optimization", seed, test=b))
    assert study.main(["--report-only", "--results-dir", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "study.json").read_text())
    assert result["seeds"] == [1, 2, 3]
    rnd = result["strategies"]["random_search"]["test_accuracy"]
    assert rnd["mean"] == pytest.approx(0.91) and rnd["std"] == pytest.approx(0.01)
    md = (tmp_path / "study.md").read_text()
    assert "| 2 | +0.0000 | -0.0100 |" in md
    assert "| mean ± sd | +0.0000 ± 0.0000 | +0.0067 ± 0.0153 |" in md
    assert "Bayesian ahead on test accuracy in 2 of 3 seeds, behind in 1." in md
    assert "precision=float32" in md
    assert png_size(tmp_path / "study.png")[0] >= 500


def test_strategy_argv_drops_flags_the_strategy_lacks():
    argv = ["--epochs", "2", "--initial-points", "2", "--overwrite"]
    assert study.strategy_argv("bayesian_optimization", argv) == [
        "--epochs", "2", "--overwrite", "--initial-points", "2"]
    assert study.strategy_argv("random_search", argv) == ["--epochs", "2", "--overwrite"]


def test_study_runs_both_strategies_on_tiny_data(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    data_dir = write_idx_dir(tmp_path / "data")
    code = study.main(["--seeds", "2", "--results-dir", str(tmp_path / "study"),
                       "--data-dir", str(data_dir), "--max-trials", "2", "--epochs", "1",
                       "--batch-size", "64"])
    assert code == 0
    result = json.loads((tmp_path / "study" / "study.json").read_text())
    assert result["seeds"] == [1, 2]
    assert result["budget"]["max_trials"] == 2 and result["budget"]["epochs"] == 1
    for stats in result["strategies"].values():
        assert len(stats["test_accuracy"]["per_seed"]) == 2
    # The report of a tiny real run, too.
    assert compare.main(["--results-dir", str(tmp_path / "study" / "seed_1")]) == 0
    assert png_size(tmp_path / "study" / "seed_1" / "comparison.png")[0] >= 500
