"""The final-training check: its plan from the surrogate's report, its resumable record and
its report, with the product's final training replaced by a stand-in (the product's own
tests train it for real)."""

import json

import pytest

from benchmarks import final_check
from fashion_tuning import final_training
from fashion_tuning.config import HAND_PICKED
from summaries import one_error_line

TOP = [{"units": 512, "dropout": 0.2, "learning_rate": 0.003, "optimizer": "adam",
        "mean": 0.925},
       {"units": 448, "dropout": 0.3, "learning_rate": 0.002, "optimizer": "adam",
        "mean": 0.924}]


@pytest.fixture
def surrogate(tmp_path):
    path = tmp_path / "surrogate.json"
    path.write_text(json.dumps({"hand_picked_mean": 0.912, "top_configurations": TOP}))
    return path


@pytest.fixture
def trainings(monkeypatch):
    """The final trainings asked for, as (units, seed); each scores by its units."""
    asked = []

    def final_model(hyperparameters, config, pool, test, precision, callbacks=(), verbose=0):
        asked.append((hyperparameters["units"], config.seed))
        assert len(pool[1]) == 300 and len(test[1]) == 100  # All training images; the test.
        return None, {"test_accuracy": 0.9 + hyperparameters["units"] / 1e5 + config.seed / 1e6,
                      "test_loss": 0.3}, 1.0
    monkeypatch.setattr(final_training, "final_model", final_model)
    return asked


def test_the_plan_goes_seed_by_seed_from_the_hand_picked_configuration():
    entries = final_check.plan_entries({"hand_picked_mean": 0.912, "top_configurations": TOP},
                                       2, [42, 1])
    assert [(e["config"], e["seed"]) for e in entries] == [
        ("hand-picked", 42), ("surrogate-1", 42), ("surrogate-2", 42),
        ("hand-picked", 1), ("surrogate-1", 1), ("surrogate-2", 1)]
    assert entries[0]["hyperparameters"] == HAND_PICKED
    assert entries[1]["hyperparameters"] == {k: TOP[0][k] for k in HAND_PICKED}
    assert [e["trial_length_mean"] for e in entries[:3]] == [0.912, 0.925, 0.924]


def test_a_check_trains_resumes_keeps_its_plan_and_reports(tiny_data, tmp_path, surrogate,
                                                          trainings, capsys):
    out = tmp_path / "check.jsonl"
    args = ["--out", str(out), "--surrogate", str(surrogate), "--data-dir", str(tiny_data),
            "--top", "1", "--seeds", "42,1"]
    assert final_check.main(args) == 0
    assert trainings == [(256, 42), (512, 42), (256, 1), (512, 1)]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["plan_index"] for r in lines] == [0, 1, 2, 3]
    report = json.loads(out.with_suffix(".json").read_text())["configurations"]
    assert report[1]["config"] == "surrogate-1" and report[1]["seeds"] == [42, 1]
    assert report[1]["minus_hand_picked"]["mean"] == pytest.approx(256 / 1e5)
    assert "minus hand-picked" in out.with_suffix(".md").read_text()
    # A second run trains nothing; the plan holds even if the surrogate changes.
    surrogate.write_text(json.dumps({"hand_picked_mean": 0.9, "top_configurations": TOP[1:]}))
    assert final_check.main(args) == 0 and len(trainings) == 4
    capsys.readouterr()
    assert final_check.main([*args[:-1], "42,1,2"]) == 2
    assert "follows the plan of --top 1 --seeds 42,1" in one_error_line(capsys)


def test_what_a_user_can_get_wrong_is_one_line_and_exit_2(tiny_data, tmp_path, capsys):
    out = tmp_path / "check.jsonl"
    for argv, fragment in ((["--surrogate", str(tmp_path / "none.json")], "space_fit"),
                           (["--top", "0"], "--top must be at least 1"),
                           (["--seeds", ","], "--seeds a list")):
        assert final_check.main(["--out", str(out), "--data-dir", str(tiny_data), *argv]) == 2
        assert fragment in one_error_line(capsys)
    out.write_text('{"plan_index": 0}\n')
    (tmp_path / "s.json").write_text(json.dumps({"hand_picked_mean": 0.9,
                                                 "top_configurations": TOP}))
    assert final_check.main(["--out", str(out), "--data-dir", str(tiny_data),
                             "--surrogate", str(tmp_path / "s.json")]) == 2
    assert "plan.json is missing" in one_error_line(capsys)


def test_the_studys_hand_picked_final_trainings_count_at_the_seeds_the_check_lacks(tmp_path):
    from fashion_tuning.config import Config
    from summaries import fake_summary, train_first

    def run(strategy, seed, test, first=True, **settings):
        summary = fake_summary(strategy, seed=seed, test=test)
        summary["trials"][0]["hyperparameters"] = dict(HAND_PICKED)
        summary["settings"] = Config(seed=seed, max_trials=4, **settings).settings()
        return train_first(summary) if first else summary
    study = final_check.study_hand_picked([
        run("random_search", 42, 0.9387), run("bayesian_optimization", 3, 0.9375),
        run("random_search", 4, 0.9400, first=False),  # Trained another trial.
        run("random_search", 5, 0.9410, final_epochs=15),  # Another final training.
        {**run("random_search", 6, 0.9410), "data": {"sha256": "other"}}],  # Other data.
        {"sha256": "0123456789abcdef"})
    assert study == {42: 0.9387, 3: 0.9375}
    records = [{"config": c, "hyperparameters": HAND_PICKED, "trial_length_mean": 0.91,
                "seed": seed, "test_accuracy": acc}
               for c, seed, acc in (("hand-picked", 42, 0.9387), ("surrogate-1", 42, 0.9420),
                                    ("hand-picked", 1, 0.9401), ("surrogate-1", 1, 0.9430))]
    report = final_check.summarize(records, study)
    hand = report["configurations"][0]
    assert hand["seeds"] == [42, 1, 3]
    assert hand["mean"] == pytest.approx((0.9387 + 0.9401 + 0.9375) / 3)
    assert report["configurations"][1]["minus_hand_picked"]["mean"] == pytest.approx(
        0.9425 - hand["mean"])
    assert report["study_hand_picked"] == {
        "seeds_added": [3], "reproduced": [{"seed": 42, "check": 0.9387, "study": 0.9387}]}
    assert ("at seed 3; at seed 42 this check reproduced" in
            final_check.report_markdown(report))
