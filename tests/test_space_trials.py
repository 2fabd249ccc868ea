"""The real trials for a surrogate: the plan, its draws, its record, and tiny real runs that
resume, repair a cut line, stop on a signal and train what a default trial trains."""

import json
import math
import os
import signal
import statistics

import pytest

from benchmarks import space_plan, space_trials
from benchmarks.common import read_lines
from fashion_tuning.config import HAND_PICKED, Config
from fashion_tuning.errors import UserError
from helpers import write_idx_dir
from summaries import one_error_line

TINY_PLAN = ("--configs", "3", "--noise-configs", "1", "--hand-picked-repeats", "0")


def test_the_plan_is_deterministic_interleaved_and_its_prefix_is_a_smaller_plan():
    configs, space = space_plan.draw_configurations(40, 7)
    plan = space_plan.make_plan(configs, 4, 2, 7, space)
    assert space_plan.draw_configurations(20, 7) == (configs[:20], space)
    smaller = space_plan.make_plan(configs[:20], 2, 1, 7, space)
    assert plan[:len(smaller)] == smaller
    assert space_plan.make_plan(configs, 4, 2, 7, space) == plan
    assert [e["index"] for e in plan] == list(range(1 + 40 + 4 * 2 + 2))
    first = plan[0]
    assert (first["config"], first["trial_seed"], first["hyperparameters"]) == (
        "hand-picked", 42, HAND_PICKED)
    # Ten uniform draws, the repeats of one of them, a hand-picked repeat; and so on.
    assert [e["config"] for e in plan[1:11]] == [f"uniform-{i:03d}" for i in range(10)]
    assert [e["kind"] for e in plan[11:14]] == ["repeat"] * 3
    assert plan[11]["config"] == plan[12]["config"] in {e["config"] for e in plan[1:11]}
    assert plan[13]["config"] == "hand-picked" and plan[14]["config"] == "uniform-010"
    assert [e["repeat"] for e in plan if e["config"] == plan[11]["config"]] == [0, 1, 2]
    seeds = [e["trial_seed"] for e in plan]
    assert len(set(seeds)) == len(seeds)
    assert space_plan.make_plan(configs, 4, 2, 8, space)[1]["trial_seed"] != seeds[1]


def test_the_draws_follow_the_space():
    configs, space = space_plan.draw_configurations(400, 3)
    assert [p["config"]["name"] for p in space] == list(HAND_PICKED)
    assert {c["units"] for c in configs} == set(range(64, 513, 32))
    assert {round(c["dropout"], 6) for c in configs} == {0.1, 0.2, 0.3, 0.4, 0.5}
    assert {c["optimizer"] for c in configs} == {"adam", "rmsprop"}
    assert 0.4 < statistics.fmean(c["optimizer"] == "adam" for c in configs) < 0.6
    at = [(math.log10(c["learning_rate"]) + 4) / 2 for c in configs]  # 0..1 on a log scale.
    assert min(at) >= 0 and max(at) <= 1
    for quarter in range(4):  # Uniform on the log scale: a quarter in each quarter.
        assert 0.18 < statistics.fmean(quarter <= 4 * a < quarter + 1 for a in at) < 0.32
    assert space_plan.draw_configurations(5, 4)[0] != configs[:5]


def test_the_noise_configurations_cover_the_learning_rate_range_for_each_optimizer():
    configs, space = space_plan.draw_configurations(200, 1)
    plan = space_plan.make_plan(configs, 20, 4, 1, space)
    noisy = [e["hyperparameters"] for e in plan if e["repeat"] == 1 and e["kind"] == "repeat"
             and e["config"] != "hand-picked"]
    assert len(noisy) == 20 and len(plan) == 1 + 200 + 20 * 2 + 4
    for optimizer in ("adam", "rmsprop"):
        at = [(math.log10(h["learning_rate"]) + 4) / 2 for h in noisy
              if h["optimizer"] == optimizer]
        assert len(at) == 10 and min(at) < 0.15 and max(at) > 0.85, at
    assert [round(space_plan.spread_point(n), 3) for n in range(4)] == [0.5, 0.118, 0.736, 0.354]


def test_a_cut_last_line_is_left_out_and_cut_with_a_handle(tmp_path):
    path = tmp_path / "trials.jsonl"
    path.write_bytes(b'{"plan_index": 0}\n{"plan_index": 1}\n{"plan_ind')
    assert read_lines(path) == [{"plan_index": 0}, {"plan_index": 1}]
    assert path.read_bytes().endswith(b"ind")
    with open(path, "ab") as handle:
        assert len(read_lines(path, handle)) == 2
    assert path.read_bytes() == b'{"plan_index": 0}\n{"plan_index": 1}\n'
    path.write_bytes(b'{"plan_index": 0}\nnot json\n')
    with pytest.raises(UserError, match="not JSON"):
        read_lines(path)


def recorded_plan(out, data_dir, **flags):
    """The plan file a run of `flags` on `data_dir` would start, with one entry and no space."""
    from fashion_tuning.data import load_idx_dir

    plan = {"flags": {"configs": 3, "noise_configs": 1, "hand_picked_repeats": 0,
                      "plan_seed": 1, **flags},
            "trial": {k: getattr(Config(), k) for k in space_trials.TRIAL_SETTINGS},
            "data": load_idx_dir(data_dir).fingerprint(), "space": [],
            "entries": [{"kind": "hand-picked"}]}
    space_plan.record_plan(out, plan)
    return plan


def test_another_plan_or_dataset_is_refused_with_one_line(tiny_data, tmp_path, capsys):
    out = tmp_path / "trials.jsonl"
    recorded_plan(out, tiny_data)
    line = json.dumps(record("hand-picked", "hand-picked", 42, 0.9)) + "\n"
    out.write_text(line)
    args = ["--out", str(out), "--data-dir", str(tiny_data)]
    assert space_trials.main([*args, "--configs", "4", "--noise-configs", "1",
                              "--hand-picked-repeats", "0"]) == 2
    assert "follows the plan of --configs 3 --noise-configs 1" in one_error_line(capsys)
    assert space_trials.main([*args, "--report-only"]) == 0  # Of the plan recorded.
    assert capsys.readouterr().out.startswith("1 of 1 trainings: hand-picked 1 of 1\n")
    other = write_idx_dir(tmp_path / "other", n_train=200)
    assert space_trials.main(["--out", str(out), "--data-dir", str(other), *TINY_PLAN]) == 2
    assert "was planned with other dataset" in one_error_line(capsys)
    assert out.read_text() == line


def test_what_a_user_can_get_wrong_is_one_line_and_exit_2(tiny_data, tmp_path, capsys):
    out = tmp_path / "trials.jsonl"
    for argv, fragment in (
            (["--data-dir", str(tmp_path / "none")], "data directory does not exist"),
            (["--noise-configs", "5", "--configs", "3"], "--noise-configs <= --configs"),
            (["--report-only"], "no plan recorded"),
            (["--out", str(tmp_path / "file" / "x.jsonl")], "cannot write into")):
        (tmp_path / "file").write_text("")
        assert space_trials.main(["--out", str(out), *argv]) == 2, argv
        assert fragment in one_error_line(capsys)
    out.write_text('{"plan_index": 0}\n')
    assert space_trials.main(["--out", str(out), "--data-dir", str(tiny_data)]) == 2
    assert "plan.json is missing" in one_error_line(capsys)


def record(kind, config, seed, score):
    """A line of --out with what the summary reads."""
    return {"plan_index": seed, "kind": kind, "config": config, "trial_seed": seed,
            "score": score, "seconds": 60.0 + seed, "cpu_seconds": 100.0,
            "loadavg_start": 1.0 + seed, "hyperparameters": HAND_PICKED}


def test_the_summary_counts_ranks_and_measures_the_noise():
    entries = [{"kind": k} for k in ("hand-picked", "uniform", "uniform", "repeat", "repeat")]
    records = [record(*fields) for fields in (
        ("uniform", "u0", 1, 0.90), ("repeat", "u0", 2, 0.92), ("uniform", "u1", 3, 0.95),
        ("repeat", "u1", 4, 0.93), ("hand-picked", "hp", 5, None))]
    text = space_trials.summarize(entries, records, top=2)
    assert text.splitlines()[0] == ("5 of 5 trainings: hand-picked 1 of 1, uniform 2 of 2, "
                                    "repeat 2 of 2; 1 failed (non-finite loss)")
    best = text.split("Noise")[0]
    assert "0.9500  u1 (trial seed 3)" in best and "0.9300  u1" in best and "0.92" not in best
    assert f"u0: 0.9100 ± {statistics.stdev([0.90, 0.92]):.4f} over 2 seeds" in text
    assert f"pooled sd within a configuration: {math.sqrt(0.0002):.4f} (2 degrees" in text
    assert "median 63 s, 100 s of CPU; 1-minute load average at its start 2.0 to 6.0" in text


def lines(out):
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.mark.slow
def test_a_tiny_plan_trains_stops_resumes_and_repairs(tiny_data, tmp_path, in_process, capsys,
                                                       monkeypatch):
    import keras

    from fashion_tuning import callbacks

    out = tmp_path / "verdict" / "trials.jsonl"
    args = ["--out", str(out), "--data-dir", str(tiny_data), *TINY_PLAN]
    assert space_trials.main([*args, "--limit", "1"]) == 0
    first, = lines(out)
    plan = json.loads(space_plan.plan_path(out).read_text())
    assert len(plan["entries"]) == 6 and plan["data"]["train_images"] == 300
    assert (first["plan_index"], first["config"], first["trial_seed"]) == (0, "hand-picked", 42)
    assert set(first["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(v) == 3 for v in first["history"].values())  # Unpruned: every epoch.
    assert len(first["epoch_seconds"]) == len(first["epoch_cpu_seconds"]) == 3
    assert first["score"] == max(first["history"]["val_accuracy"]) and first["outcome"] == \
        "completed"
    assert first["seconds"] >= sum(first["epoch_seconds"]) > 0 and first["cpu_seconds"] > 0
    assert first["trial"]["batch_size"] == 128 and first["machine"]["cores"] >= 1
    assert first["code_version"] and first["versions"]["keras_tuner"]

    def stop(batch, logs):  # In the second training, while Keras runs.
        if batch == 1:
            os.kill(os.getpid(), signal.SIGTERM)

    trial_callbacks = callbacks.trial_callbacks
    with monkeypatch.context() as patch:
        patch.setattr(callbacks, "trial_callbacks", lambda *a: [
            *trial_callbacks(*a), keras.callbacks.LambdaCallback(on_train_batch_end=stop)])
        assert space_trials.main(args) == 143
    assert "interrupted by SIGTERM" in capsys.readouterr().err
    assert len(lines(out)) == 1

    with open(out, "ab") as f:  # What a kill in the middle of a write leaves.
        f.write(b'{"plan_index": 1, "config": "unif')
    assert space_trials.main([*args, "--limit", "1"]) == 0
    assert "cut the unfinished last line" in capsys.readouterr().out
    assert [r["plan_index"] for r in lines(out)] == [0, 1]
    assert space_trials.main(args) == 0
    records = lines(out)
    assert [r["plan_index"] for r in records] == list(range(6))
    assert [(r["config"], r["trial_seed"]) for r in records] == [
        (e["config"], e["trial_seed"]) for e in plan["entries"]]
    assert space_trials.main(args) == 0 and len(lines(out)) == 6
    assert "6 of 6 trainings recorded" in capsys.readouterr().out
    assert space_trials.main([*args, "--report-only"]) == 0
    assert "over 3 seeds" in capsys.readouterr().out


@pytest.mark.slow
def test_the_hand_picked_training_is_the_default_searchs_trial_00(tiny_data, tmp_path,
                                                                  run_in_process):
    out = tmp_path / "trials.jsonl"
    assert space_trials.main(["--out", str(out), "--data-dir", str(tiny_data), *TINY_PLAN,
                              "--limit", "1"]) == 0
    proc = run_in_process("--data-dir", tiny_data, "--results-dir", tmp_path / "results",
                          "--max-trials", "1", "--final-epochs", "1", "--final-recipe", "none")
    assert proc.returncode == 0, proc.stderr
    log = json.loads((tmp_path / "results" / "random_search" / "trial_0" /
                      "trial_log.json").read_text())
    assert lines(out)[0]["history"] == log["history"]


def test_a_file_replaced_under_a_running_study_is_refused_and_the_training_kept(tmp_path):
    from benchmarks.common import keep_line, locked_lines, read_lines
    from fashion_tuning.errors import UserError

    out = tmp_path / "lines.jsonl"
    with locked_lines(out) as (handle, records):
        keep_line(handle, {"plan_index": 0})
        # What git stash does: a new file in the old one's place, here without the last line.
        (tmp_path / "new").write_text("")
        (tmp_path / "new").replace(out)
        with pytest.raises(UserError, match="was replaced while this run wrote to it"):
            keep_line(handle, {"plan_index": 1})
    assert read_lines(out) == [{"plan_index": 1}]
