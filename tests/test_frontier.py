"""The frontier report: each setting's runs, their accuracy over seeds against their minutes."""

import json

import pytest

from benchmarks import frontier
from summaries import fake_summary, one_error_line, png_size, write_summary


def runs(folder, accuracies, seconds):
    for seed, (test, total) in enumerate(zip(accuracies, seconds), start=1):
        summary = fake_summary("random_search", seed=seed, test=test)
        summary["total_seconds"] = total
        write_summary(folder / f"seed_{seed}" / "random_search", summary)


def test_each_point_gives_mean_sd_and_median_minutes(tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    runs(tmp_path / "untuned", [0.93, 0.94, 0.935], [600, 660, 540])
    runs(tmp_path / "tuned", [0.938], [1500])
    out = tmp_path / "report" / "frontier"
    assert frontier.main([f"untuned default={tmp_path}/untuned/seed_*/random_search",
                          f"tuned={tmp_path}/tuned/seed_*/random_search/summary.json",
                          "--out", str(out)]) == 0
    untuned, tuned = json.loads(out.with_suffix(".json").read_text())["points"]
    assert untuned["seeds"] == [1, 2, 3]
    assert untuned["mean"] == pytest.approx(0.935) and untuned["sd"] == pytest.approx(0.005)
    assert untuned["median_minutes"] == 10 and untuned["minutes"] == [10, 11, 9]
    assert tuned["sd"] is None and tuned["median_minutes"] == 25
    table = out.with_suffix(".md").read_text()
    assert "| untuned default | 3 | 0.9350 ± 0.0050 | 0.9300–0.9400 | 10.0 | 9.0–11.0 |" in table
    assert "| tuned | 1 | 0.9380 | 0.9380–0.9380 | 25.0 |" in table
    assert png_size(out.with_suffix(".png"))[0] >= 500


@pytest.mark.parametrize("point, problem", [
    ("untuned", "is not NAME=PATTERN"),
    ("none={}/nothing/*", "no run matches"),
    ("twice={}/*/seed_1/random_search", "two runs of one seed")])
def test_a_bad_point_is_one_line_and_exit_2(tmp_path, capsys, point, problem):
    runs(tmp_path / "a", [0.93], [600])
    runs(tmp_path / "b", [0.94], [600])
    assert frontier.main([point.format(tmp_path), "--out", str(tmp_path / "f")]) == 2
    assert problem in one_error_line(capsys)
