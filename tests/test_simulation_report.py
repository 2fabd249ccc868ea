"""What the simulated study reports: the check against the real runs, the comparison by
search minutes, the best margin per trial count."""

import pytest

from benchmarks import real_check, verdict


def test_the_minutes_comparison_counts_the_runs_that_ran_out_of_trials():
    def run(strategy, seed, seconds):
        return {"strategy": strategy, "seed": seed, "trials": [
            {"score": 0.91, "mean": 0.91, "seconds": s, "status": "completed"} for s in seconds]}
    runs = [run(s, seed, [60, 60, 60] if s == "random_search" else [60, 200, 200])
            for seed in (1, 2) for s in ("random_search", "bayesian_optimization")]
    report = verdict.summarize(runs, 0.92, budgets=(3,))
    # Five minutes hold a random run's three trials, but not a Bayesian one's.
    assert report["minutes"][5]["out_of_trials"] == {"random_search": 2,
                                                     "bayesian_optimization": 0}
    assert report["minutes"][10]["out_of_trials"] == {"random_search": 2,
                                                      "bayesian_optimization": 2}
    assert "| 5 | 0.9100 | 0.9100 | +0.0000 [+0.0000, +0.0000] | 2 / 0 |" in \
        verdict.report_markdown(report)


def test_a_search_is_measured_alike_real_or_simulated_and_checked_against_real():
    trials = [{"score": 0.910, "status": "completed", "seconds": 60},
              {"score": 0.920, "status": "completed", "seconds": 60},
              {"score": 0.930, "status": "pruned", "seconds": 20},
              {"score": None, "status": "failed", "seconds": None}]
    m = real_check.search_measures(trials, 4, 0.0055)
    assert m == {"best_seen": 0.930, "best_over_first": pytest.approx(0.02),
                 "kept_hand_picked": 0.0, "pruned": 1.0, "search_minutes": None}
    # A trial's unrecorded seconds are unknown minutes, not none.
    assert real_check.search_measures(trials, 3, 0.0055)["search_minutes"] == pytest.approx(
        140 / 60)
    assert real_check.search_measures(trials, 1, 0.0055)["kept_hand_picked"] == 1.0
    # A search whose trials all failed trained nothing: no measure but the trials stopped.
    failed = real_check.search_measures(trials[3:], 1, 0.0055)
    assert failed["best_seen"] is failed["kept_hand_picked"] is None and failed["pruned"] == 0

    def summary(strategy, scores):
        return {"strategy": strategy, "settings": {"max_trials": len(scores)},
                "trials": [{"val_accuracy": s, "status": "completed", "seconds": 60.0}
                           for s in scores]}
    real = [summary(s, [0.91 + d, 0.915 + d, 0.905 + d, 0.92 + d, 0.90 + d])
            for s in ("random_search", "bayesian_optimization") for d in (0, 0.002, 0.004)]
    runs = [{"strategy": s["strategy"], "trials": real_check.real_trials(s)} for s in real]
    rows = real_check.check_against_real(runs, real, budgets=(5, 10))
    assert {(r["strategy"], r["budget"]) for r in rows} == {
        ("random_search", 5), ("bayesian_optimization", 5)}  # No real run reached 10.
    assert all(r["within"] and r["real_runs"] == 3 for r in rows)
    kept = next(r for r in rows if r["measure"] == "kept_hand_picked")
    # Kept in none of three runs: an exact binomial interval, not a t interval's [0, 0].
    assert kept["real"]["mean"] == 0 and kept["real"]["ci95"] == [0, pytest.approx(0.708, abs=1e-3)]
    best = next(r for r in rows if r["measure"] == "best_seen")
    assert best["simulated"] == pytest.approx(0.922)
    assert "| random_search | 5 | best_seen | 3 |" in real_check.check_markdown(rows)


def test_a_real_run_whose_hand_picked_trial_failed_is_measured_and_drawn(tmp_path):
    from benchmarks.verdict_plot import plot_simulation

    def summary(strategy, scores):
        return {"strategy": strategy, "settings": {"max_trials": len(scores)},
                "trials": [{"val_accuracy": v, "status": "failed" if v is None else "completed",
                            "seconds": None if v is None else 60.0} for v in scores]}
    real = [summary(s, [first, 0.915, 0.905]) for s in verdict.STRATEGIES
            for first in (None, 0.91, 0.912)]
    assert real_check.search_measures(real_check.real_trials(real[0]), 3, 0.0055)[
        "best_over_first"] is None
    runs = [{"strategy": s, "trials": [{"score": v, "status": "completed", "seconds": 60.0,
                                        "mean": v} for v in (0.91, 0.915, 0.905)]}
            for s in verdict.STRATEGIES for _ in range(2)]
    rows = real_check.check_against_real(runs, real, budgets=(3,))
    over = [r for r in rows if r["measure"] == "best_over_first"]
    assert [r["real_runs"] for r in over] == [2, 2]  # The failed hand-picked trial's run is out.
    assert all(r["real_runs"] == 3 for r in rows if r["measure"] == "best_seen")
    plot_simulation(runs, real, tmp_path / "simulation.png")
    assert (tmp_path / "simulation.png").is_file()


def test_the_best_margin_and_what_more_trials_buy():
    def measures(minutes, by_margin):
        return {"seconds": 60 * minutes,
                **{f"true@{m:g}": v for m, v in zip(verdict.MARGINS, by_margin)}}
    flat = [0.912] * len(verdict.MARGINS)
    report = {"default_margin": verdict.MARGINS[2], "budgets": {
        10: {s: measures(10, flat) for s in verdict.STRATEGIES},
        20: {s: measures(30, [0.916] + flat[1:]) for s in verdict.STRATEGIES}}}
    rows = verdict.best_settings(report)
    assert [(r["budget"], r["margin"]) for r in rows[:2]] == [(10, 0.0), (20, 0.0)]
    assert rows[0]["gain_per_10_min"] is None and rows[0]["over_default"] == 0
    assert rows[1]["over_default"] == pytest.approx(0.004)
    assert rows[1]["gain_per_10_min"] == pytest.approx(0.002)  # 0.004 over 20 more minutes.


def test_search_minutes_follow_the_time_budgets_rule():
    # 60 s trials: after k of them, another starts while 60 k + 60 <= the budget.
    run = {"trials": [{"seconds": 60.0}] * 10}
    assert [verdict.trials_within(run, m) for m in (0, 1.5, 2, 5, 30)] == [1, 1, 2, 5, 10]


def test_the_real_runs_are_default_searches_the_longest_of_each_seed(tmp_path):
    from fashion_tuning.config import Config
    from fashion_tuning.errors import UserError
    from tests.summaries import fake_summary, write_summary

    def run(folder, strategy, seed, scores, **settings):
        summary = fake_summary(strategy, seed=seed, scores=scores)
        summary["settings"] = Config(seed=seed, max_trials=len(scores), **settings).settings()
        write_summary(tmp_path / folder / strategy, summary)
        return tmp_path / folder / strategy / "summary.json"

    ten = [run("ten", s, 6, (0.8, 0.85, 0.84)) for s in verdict.STRATEGIES]
    thirty = run("thirty", "random_search", 6, (0.8, 0.85, 0.84, 0.86, 0.83),
                 final_epochs=5, hand_picked_margin=0)
    runs = real_check.real_runs([*ten, thirty])
    # The extended search stands for its seed; the other strategy's 10-trial one stays.
    assert sorted((r["strategy"], len(r["trials"])) for r in runs) == [
        ("bayesian_optimization", 3), ("random_search", 5)]
    other = run("other", "random_search", 7, (0.8, 0.85), trial_epochs=2)
    with pytest.raises(UserError, match="trial_epochs 2, not the default 3"):
        real_check.real_runs([*ten, other])


def test_a_default_margin_off_the_list_is_measured_and_reported():
    # The second trial leads the hand-picked one by 0.0025: kept at 0.003, not at 0.002.
    def run(strategy, seed):
        return {"strategy": strategy, "seed": seed, "trials": [
            {"score": s, "mean": s, "seconds": 60.0, "status": "completed"}
            for s in (0.910, 0.9125)]}
    runs = [run(s, seed) for seed in (1, 2) for s in verdict.STRATEGIES]
    assert 0.003 not in verdict.MARGINS
    report = verdict.summarize(runs, 0.92, budgets=(2,), default_margin=0.003)
    assert report["budgets"][2]["random_search"]["true@0.003"] == pytest.approx(0.910)
    assert report["budgets"][2]["random_search"]["true@0.002"] == pytest.approx(0.9125)
    text = verdict.report_markdown(report)
    assert "trained (margin 0.003)" in text and "| 0.003 |" in text
