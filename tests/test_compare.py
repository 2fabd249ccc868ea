"""The comparison report, from synthetic summaries."""

import pytest

from fashion_tuning import compare
from helpers import fake_summary, png_size, write_summary


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
    assert table["Trials run"] == ["3 completed, 1 failed of 4", "2 completed of 2"]
    assert table["Total time"] == ["2 min 26 s", "2 min 26 s"]
    assert "| Ankle boot | 0.590 | 0.590 |" in md
    for name in ("comparison.png", "learning_curves.png", "confusion_random_search.png",
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


def test_learning_curves_set_the_best_and_the_pruned_trials_apart():
    summary = fake_summary("random_search", scores=(0.8, 0.85, None, 0.84))
    for t, history in zip(summary["trials"], ([0.7, 0.8], [0.8, 0.85], [], [0.84])):
        t["history"] = {"val_accuracy": history}
    summary["trials"][3]["status"] = "pruned"
    curves = compare.learning_curves(summary)
    assert [(c[0], c[1], c[3]) for c in curves] == [
        ("0", [1, 2], "completed"), ("1", [1, 2], "best"), ("3", [1], "pruned")]
    assert compare.CURVE_STYLES["pruned"]["linestyle"] == "--"
