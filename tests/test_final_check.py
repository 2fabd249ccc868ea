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
