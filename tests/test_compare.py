"""The comparison report, from synthetic summaries."""

import dataclasses
import errno
import hashlib
import os

import pytest

from fashion_tuning import compare
from fashion_tuning.results import RunResult, read_summary
from fashion_tuning.trials import TrialRecord
from summaries import (SUMMARY_DAMAGE, damaged, fake_summary, one_error_line, png_size, train_first,
                       write_summary)


def test_fake_summary_is_whole_as_a_run_writes_it(tmp_path):
    summary = fake_summary("random_search")
    assert {f.name for f in dataclasses.fields(RunResult)} == set(summary)
    assert {f.name for f in dataclasses.fields(TrialRecord)} == set(summary["trials"][0])
    write_summary(tmp_path, summary)
    assert read_summary(tmp_path) == summary


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
    header, _, *rows = md.split("## Results summary")[1].strip().splitlines()[:13]
    assert "Random Search" in header and "Bayesian Optimisation" in header
    table = {r.split("|")[1].strip(): [c.strip() for c in r.split("|")[2:4]] for r in rows}
    assert table["Test accuracy"] == ["**0.9123**", "**0.9234**"]
    assert table["Trained trial"] == ["1: val accuracy 0.8500", "1: val accuracy 0.8800"]
    assert table["Top trial"] == table["Trained trial"]
    kept = train_first(fake_summary("random_search", scores=(0.84, 0.843)))
    kept_table = compare.comparison_markdown({"random_search": kept})
    assert kept_table.count(
        "| Trained trial | 0: val accuracy 0.8400 (the hand-picked first trial: trial 1 scored "
        "0.0030 higher, within --hand-picked-margin 0.0055) |") == 1
    assert "| Top trial | 1: val accuracy 0.8430 |" in kept_table
    assert "Best" not in md and "Best" not in kept_table
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


def test_after_the_quickstart_it_says_how_to_compare_the_quick_runs(tmp_path, capsys,
                                                                   monkeypatch):
    # `--quick` wrote to results-quick/; the user runs compare with its default folder.
    write_summary(tmp_path / "results-quick" / "random_search", fake_summary("random_search"))
    (tmp_path / "results").mkdir()
    monkeypatch.chdir(tmp_path)
    assert compare.main([]) == 2
    assert "python -m fashion_tuning.compare --results-dir results-quick" in one_error_line(
        capsys)


def test_learning_curves_set_the_trained_and_the_pruned_trials_apart():
    summary = fake_summary("random_search", scores=(0.8, 0.85, None, 0.84))
    for t, history in zip(summary["trials"], ([0.7, 0.8], [0.8, 0.85], [], [0.84])):
        t["history"] = {"val_accuracy": history}
    summary["trials"][3]["status"] = "pruned"
    curves = compare.learning_curves(summary)
    assert [(c[0], c[1], c[3]) for c in curves] == [
        ("0", [1, 2], "completed"), ("1", [1, 2], "trained"), ("3", [1], "pruned")]
    assert compare.CURVE_STYLES["pruned"]["linestyle"] == "--"


def test_a_class_without_test_images_shows_n_a(tmp_path):
    summary = fake_summary("random_search")
    summary["per_class_accuracy"]["Bag"] = None
    md = compare.comparison_markdown({"random_search": summary})
    assert "| Bag | n/a |" in md and "| Ankle boot | 0.590 |" in md


@pytest.mark.parametrize("damage", ["{}", '{"strategy": "random_search"}', "[1, 2]", "{"])
def test_a_damaged_summary_exits_2_with_one_line(tmp_path, capsys, damage):
    write_summary(tmp_path / "bayesian_optimization", fake_summary("bayesian_optimization"))
    (tmp_path / "random_search").mkdir()
    (tmp_path / "random_search" / "summary.json").write_text(damage)
    assert compare.main(["--results-dir", str(tmp_path)]) == 2
    err = one_error_line(capsys)
    assert "random_search/summary.json" in err


@pytest.mark.parametrize("how, change, problem", SUMMARY_DAMAGE,
                         ids=[d[0] for d in SUMMARY_DAMAGE])
def test_a_summary_missing_or_malforming_a_field_exits_2_with_one_line(
        tmp_path, capsys, how, change, problem):
    write_summary(tmp_path / "random_search", fake_summary("random_search"))
    damaged(tmp_path / "random_search", change)
    assert compare.main(["--results-dir", str(tmp_path)]) == 2
    err = one_error_line(capsys)
    assert f"random_search/summary.json: damaged ({problem}" in err
    assert "run the same tuning command again to rebuild it" in err
    assert not (tmp_path / "comparison.md").exists()


def test_strategies_run_on_different_data_are_refused_in_one_line(tmp_path, capsys):
    other = fake_summary("bayesian_optimization")
    other["data"]["sha256"] = "fedcba9876543210"
    write_summary(tmp_path / "random_search", fake_summary("random_search"))
    write_summary(tmp_path / "bayesian_optimization", other)
    assert compare.main(["--results-dir", str(tmp_path)]) == 2
    err = one_error_line(capsys)
    assert (f"{tmp_path}: the strategies ran on different data: Random Search on "
            '{"sha256": "0123456789abcdef", "train_images": 300, "test_images": 100}, '
            'Bayesian Optimisation on {"sha256": "fedcba9876543210"') in err
    assert "run one again on the other's data (--data-dir, --overwrite)" in err
    assert not (tmp_path / "comparison.md").exists()


def test_a_model_that_is_not_the_summarys_is_refused_with_the_fix(tmp_path, capsys):
    folder = tmp_path / "random_search"
    write_summary(folder, fake_summary("random_search"))
    (folder / "final_model.keras").write_bytes(b"PK another model")
    assert compare.main(["--results-dir", str(tmp_path)]) == 2
    assert ("random_search/final_model.keras: not the model that summary.json describes; run "
            "the same tuning command again: it retrains and reports that model"
            ) in one_error_line(capsys)
    # The summary's own model, or none (an archived summary), is reported.
    summary = fake_summary("random_search")
    summary["model_sha256"] = hashlib.sha256(b"PK another model").hexdigest()
    write_summary(folder, summary)
    assert compare.main(["--results-dir", str(tmp_path)]) == 0
    (folder / "final_model.keras").unlink()
    assert compare.main(["--results-dir", str(tmp_path)]) == 0


def test_a_folder_it_cannot_write_into_exits_2_with_one_line(tmp_path, capsys):
    write_summary(tmp_path / "random_search", fake_summary("random_search"))
    (tmp_path / "comparison.png").mkdir()  # Renaming the finished figure onto it fails.
    assert compare.main(["--results-dir", str(tmp_path)]) == 2
    err = one_error_line(capsys)
    assert f"cannot write into {tmp_path} (Is a directory)" in err and "--results-dir" in err
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_a_full_disk_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    write_summary(tmp_path / "random_search", fake_summary("random_search"))

    def no_space(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr(os, "replace", no_space)
    assert compare.main(["--results-dir", str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert f"no space left on the device of {tmp_path}" in line and "free some space" in line
