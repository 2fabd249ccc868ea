"""The surrogate, its fit to real trials, and the simulated study, on synthetic trials whose
truth is known."""

import json
import math

import numpy as np
import pytest

from benchmarks import simulate, space_fit, surrogate, verdict
from fashion_tuning.hypermodel import space_hyperparameters
from synthetic_trials import NOISE, synthetic_records, truth

@pytest.fixture(scope="module")
def fitted():
    records = synthetic_records()
    return records, space_fit.fit(records)


def test_the_surrogate_recovers_the_truth_and_the_noise(fitted):
    records, model = fitted
    configs, x = surrogate.grid(lr_points=9)
    error = model.mean(x) - np.array([truth(c) for c in configs])
    assert np.sqrt((error ** 2).mean()) < 0.004
    assert 0.5 * NOISE < model.noise_sd(x[0])[0] < 1.6 * NOISE
    assert model.seconds(surrogate.features([{**configs[0], "units": 512}]))[0] == \
        pytest.approx(70, abs=1)


def test_validation_and_the_analysis_name_what_matters(fitted):
    records, model = fitted
    v = space_fit.validate(records, folds=5, subsets=200)
    assert v["spearman_rho"] > 0.8 and v["configurations"] == 80
    assert abs(v["best_of_10_error"]["mean"]) < 0.005
    a = space_fit.analyse(model, {"units": 256, "dropout": 0.3, "learning_rate": 1e-3,
                                  "optimizer": "adam"})
    assert a["anova"]["learning_rate"] > 0.5 > a["anova"]["dropout"]
    assert a["optimum_configuration"]["optimizer"] == "adam"
    assert math.isclose(math.log10(a["optimum_configuration"]["learning_rate"]), -2.9,
                        abs_tol=0.3)
    assert a["headroom"] == pytest.approx(a["optimum"] - a["hand_picked_mean"])
    assert 0 < a["share_within_one_noise_sd"] < 0.5


def test_the_product_picks_the_hand_picked_trial_within_the_margin():
    trials = [{"score": 0.910}, {"score": 0.914}, {"score": 0.900}]
    assert verdict.pick(trials, 0.0055) == 0 and verdict.pick(trials, 0.0) == 1


@pytest.mark.slow
def test_a_simulated_study_runs_the_products_oracles_paired_by_seed(fitted, tmp_path):
    records, model = fitted
    space = space_hyperparameters()
    runs = [simulate.simulate_run(s, seed, model, space, trials=5)
            for seed in (1, 2) for s in ("random_search", "bayesian_optimization")]
    for run in runs:
        assert len(run["trials"]) == 5
        assert run["trials"][0]["hyperparameters"] == {
            "units": 256, "dropout": 0.3, "learning_rate": 1e-3, "optimizer": "adam"}
    # The same seed: the same noise for the hand-picked trial under both strategies, and the
    # Bayesian search's initial random trials are the random search's.
    assert runs[0]["trials"][0]["score"] == runs[1]["trials"][0]["score"]
    assert runs[0]["trials"][1]["hyperparameters"] == runs[1]["trials"][1]["hyperparameters"]
    best_mean, _ = surrogate.optimum(model)
    report = verdict.summarize(runs, best_mean, budgets=(3, 5))
    assert report["seeds"] == 2 and set(report["budgets"]) == {3, 5}
    for row in report["budgets"].values():
        for s in ("random_search", "bayesian_optimization"):
            assert row[s]["regret@0.0055"] >= 0 and row[s]["true@0"] <= best_mean
    assert set(report["minutes"]) == set(verdict.MINUTES)
    # A trial takes 44-70 s here: two minutes hold two trials at most.
    assert verdict.trials_within(runs[0], 2) <= 2 and verdict.trials_within(runs[0], 0) == 1
    assert "B − R" in verdict.report_markdown(report)
    other = verdict.summarize(runs, best_mean, budgets=(3,), default_margin=0.008)
    assert "trained (margin 0.008)" in verdict.report_markdown(other)
    json.dumps(report)  # The report is saved as JSON.
    from benchmarks.verdict_plot import plot_simulation
    from summaries import png_size

    real = {"strategy": "random_search", "trials": [
        {"val_accuracy": v, "status": "completed", "seconds": 60.0}
        for v in (0.91, 0.915, 0.905)]}
    plot_simulation(runs, [real], tmp_path / "simulation.png")
    assert png_size(tmp_path / "simulation.png")[0] > 500


def test_a_few_repeats_give_a_flat_noise_and_many_a_bounded_slope():
    hps = {k: {"units": 256, "dropout": 0.3, "learning_rate": 10 ** (-4 + i / 4),
               "optimizer": "adam"} for i, k in enumerate("abcdefghi")}
    few = {k: [0.9, 0.91] for k in "ab"}
    assert surrogate.noise_model(few, hps)[1] == 0
    # The spread grows a hundredfold over the learning rates: the slope stops at its bound.
    many = {k: [0.9, 0.9 + 1e-4 * 10 ** (i / 4)] for i, k in enumerate("abcdefghi")}
    assert surrogate.noise_model(many, hps)[1] == pytest.approx(surrogate.MAX_SLOPE)
    assert surrogate.noise_model(many, hps)[2] == 0  # Adam alone: no optimizer term.


def test_the_noise_of_each_optimizer_is_its_own():
    hps = {k: {"units": 256, "dropout": 0.3, "learning_rate": 10 ** (-4 + i / 4),
               "optimizer": ("adam", "rmsprop")[i % 2]} for i, k in enumerate("abcdefgh")}
    spread = {"adam": 0.002, "rmsprop": 0.006}  # Three times the spread, at every rate.
    repeats = {k: [0.9 - spread[h["optimizer"]], 0.9 + spread[h["optimizer"]]]
               for k, h in hps.items()}
    a, b, c = surrogate.noise_model(repeats, hps)
    assert b == pytest.approx(0, abs=0.05) and c == pytest.approx(np.log(3), abs=0.05)
    x = surrogate.features([hps["a"], hps["b"]])
    assert surrogate.column_sd((a, b, c), x) == pytest.approx([0.002 * 2 ** .5, 0.006 * 2 ** .5],
                                                              rel=0.05)


def test_the_noise_correlation_is_positive_definite_or_the_identity():
    hp = {"units": 256, "dropout": 0.3, "learning_rate": 1e-3, "optimizer": "adam"}
    noise = [(math.log(0.002), 0.0, 0.0)] * 3
    # Two configurations at two seeds: four rows, but two degrees of freedom for three columns.
    few = {k: (hp, [[0.88, 0.90, 0.91], [0.881 + d, 0.899, 0.912 - d]])
           for k, d in (("a", 0.0), ("b", 0.002))}
    assert (surrogate.noise_correlation(few, noise) == np.eye(3)).all()
    # A column that never deviates is uncorrelated with the others, not nan.
    flat = {k: (hp, [[0.9, 0.9 + 0.001 * i, 0.91 + 0.002 * i], [0.9, 0.905, 0.92 - 0.001 * i],
                     [0.9, 0.899, 0.915]]) for i, k in enumerate("abc")}
    r = surrogate.noise_correlation(flat, noise)
    assert r[0, 1] == r[0, 2] == 0 and 0 < r[1, 2] < 1
    np.linalg.cholesky(r)


def test_median_stopping_is_replayed_on_simulated_curves(fitted):
    records, model = fitted
    assert model.correlation.shape == (3, 3)
    space = space_hyperparameters()
    pruned = simulate.simulate_run("random_search", 3, model, space, trials=12)["trials"]
    unpruned = simulate.simulate_run("random_search", 3, model, space, trials=12,
                                     pruning=False)["trials"]
    # The same trials; the first five complete before the median judges any.
    assert [t["hyperparameters"] for t in pruned] == [t["hyperparameters"] for t in unpruned]
    assert all(t["status"] == "completed" for t in pruned[:5] + unpruned)
    stopped = [i for i, t in enumerate(pruned) if t["status"] == "pruned"]
    assert stopped
    for i in stopped:
        # A stopped trial scores its best epoch so far and costs its share of the seconds.
        assert pruned[i]["score"] < unpruned[i]["score"]
        assert pruned[i]["seconds"] == pytest.approx(
            unpruned[i]["seconds"] * pruned[i]["epochs_run"] / 3)


@pytest.mark.parametrize("argv, fragment", [
    (["--seeds", "1"], "--seeds >= 2"), (["--processes", "0"], "--processes >= 1"),
    (["--first-seed", "-1"], "seeds within 0"), (["--trials", "none.jsonl"], "no such file")])
def test_what_a_user_can_get_wrong_in_the_simulation_is_one_line(argv, fragment, tmp_path,
                                                                 capsys):
    from summaries import one_error_line

    assert simulate.main(["--out", str(tmp_path / "sim.jsonl"), *argv]) == 2
    assert fragment in one_error_line(capsys)


def test_a_report_needs_two_seeds_simulated_under_both_strategies(tmp_path, capsys):
    from summaries import one_error_line

    from fashion_tuning.results import sha256_of

    trials, out = tmp_path / "trials.jsonl", tmp_path / "sim.jsonl"
    trials.write_text("")
    line = {"strategy": "random_search", "seed": 1, "trials": [],
            "trials_sha256": sha256_of(trials)[:16]}
    out.write_text(json.dumps(line) + "\n")
    assert simulate.main(["--out", str(out), "--trials", str(trials), "--seeds", "2",
                          "--report-only"]) == 2
    assert "holds 0 of seeds 1-2 under both strategies" in one_error_line(capsys)
    # Runs on a surrogate of other trials do not mix with these.
    trials.write_text("\n")
    assert simulate.main(["--out", str(out), "--trials", str(trials), "--seeds", "2"]) == 2
    assert "holds runs on a surrogate of other trials" in one_error_line(capsys)


def test_a_bad_fold_count_or_no_repeats_is_one_line(tmp_path, capsys):
    from summaries import one_error_line

    trials = tmp_path / "trials.jsonl"
    trials.write_text("".join(json.dumps(r) + "\n" for r in synthetic_records(configs=6,
                                                                             repeated=0)))
    for folds in ("1", "7"):
        assert space_fit.main(["--trials", str(trials), "--folds", folds]) == 2
        assert "--folds must be between 2 and the 6" in one_error_line(capsys)
    # No configuration at several trial seeds: no noise to measure.
    assert space_fit.main(["--trials", str(trials), "--folds", "2"]) == 2
    assert "these 6 trainings hold none" in one_error_line(capsys)


def test_a_forest_can_stand_in_for_the_gp_and_a_simulation_keeps_its_kind(tmp_path, capsys):
    from summaries import one_error_line

    records = synthetic_records()
    forest = space_fit.fit(records, mean="forest")
    configs, x = surrogate.grid(lr_points=9)
    error = forest.mean(x) - np.array([truth(c) for c in configs])
    assert np.sqrt((error ** 2).mean()) < 0.008
    assert forest.curves(x[:2], np.zeros((2, 3))).shape == (2, 3)
    out = tmp_path / "sim.jsonl"
    out.write_text(json.dumps({"strategy": "random_search", "seed": 1, "trials": []}) + "\n")
    trials = tmp_path / "trials.jsonl"
    trials.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert simulate.main(["--out", str(out), "--trials", str(trials), "--mean", "forest"]) == 2
    assert "holds runs on the gp surrogate, not --mean forest" in one_error_line(capsys)
