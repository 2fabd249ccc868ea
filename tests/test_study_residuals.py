"""The surrogate against real searches' trials: a bias where the Gaussian process chose is
found, a seed's split offset is not mistaken for one."""

import pytest

from benchmarks import space_fit, study_residuals
from synthetic_trials import synthetic_records, truth

BIAS = -0.004


def summary(strategy, seed, configs, offset):
    """A real run's summary: its trials score the truth plus the seed's offset, the Bayesian
    oracle's own choices (from trial 3) BIAS more; trial 4 was pruned."""
    trials = []
    for i, h in enumerate(configs):
        score = truth(h) + offset + (BIAS if strategy == "bayesian_optimization" and i >= 3
                                     else 0)
        trials.append({"hyperparameters": h, "status": "pruned" if i == 4 else "completed",
                       "val_accuracy": score, "history": {"val_accuracy": [score - 0.03]}})
    return {"strategy": strategy, "settings": {"seed": seed, "initial_points": 3},
            "trials": trials}


def test_a_bias_where_the_gaussian_process_chose_is_found():
    records = synthetic_records()
    model = space_fit.fit(records)
    configs = [r["hyperparameters"] for r in records[::7]]
    summaries = [summary(s, seed, configs[seed:seed + 10], offset=0.003 * seed)
                 for seed in range(4) for s in ("random_search", "bayesian_optimization")]
    report = study_residuals.residuals(model, summaries)
    assert set(report) == {"hand-picked", "random", "gaussian process"}
    gp, random = report["gaussian process"], report["random"]
    assert gp["score"]["mean"] == pytest.approx(BIAS, abs=0.002)
    assert random["score"]["mean"] == pytest.approx(0, abs=0.002)
    # The random run's trials alone count for trials 1-2; the pruned one has no score.
    assert random["epoch_1"]["trials"] == 4 * 9 and random["score"]["trials"] == 4 * 8
    assert gp["epoch_1"]["trials"] == 4 * 7 and gp["score"]["trials"] == 4 * 6
    assert "gaussian process" in study_residuals.residuals_markdown(report, 8)


def test_a_seed_with_only_a_bayesian_run_is_measured_on_its_own_trials():
    records = synthetic_records()
    model = space_fit.fit(records)
    configs = [r["hyperparameters"] for r in records[::7]]
    summaries = [summary("bayesian_optimization", seed, configs[seed:seed + 10], 0.003 * seed)
                 for seed in range(3)]
    report = study_residuals.residuals(model, summaries)
    assert report["random"]["epoch_1"]["trials"] == 3 * 2
    assert report["gaussian process"]["score"]["mean"] == pytest.approx(BIAS, abs=0.002)
