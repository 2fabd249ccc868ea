"""--seed: any two seeds draw unrelated trials, one seed one search, and a resume keeps its draws.

The trials are drawn by the scripts' own tuner (`make_tuner`, the real search space) through
KerasTuner's loop, each reported with a made-up score instead of being trained.
"""

import json

import pytest

from fashion_tuning import hypermodel, recorded_search
from fashion_tuning.tuner import make_tuner
from fashion_tuning.config import OBJECTIVE, Config


def draw(strategy, seed, folder, trials=3, **flags):
    """The hyperparameters of the trials that `strategy`'s tuner starts in `folder` for
    `seed`, up to `trials` in all (a resumed folder counts those it holds)."""
    config = Config(seed=seed, max_trials=trials, **flags)
    tuner = make_tuner(strategy, config, folder, hypermodel.TunedCNN(), "single", "tuner0")
    drawn = []
    while len(tuner.oracle.trials) < trials:
        trial = tuner.oracle.create_trial("tuner0")
        tuner.oracle.update_trial(trial.trial_id, {OBJECTIVE: 0.5 + int(trial.trial_id) / 100})
        trial.status = "COMPLETED"
        tuner.oracle.end_trial(trial)
        tuner.save()  # As KerasTuner does after each trial: a later tuner reloads from it.
        drawn.append(dict(trial.hyperparameters.values))
    return drawn


def keys(trials):
    return {json.dumps(t, sort_keys=True) for t in trials}


def active_hyperparameters():
    return len(hypermodel.search_space())


def test_neighbouring_seeds_share_no_drawn_trial(tmp_path):
    d = active_hyperparameters()
    seeds = [1, 2, 7, *(1 + d * k for k in (2, 3, 5))]  # 7 is 1 + d: KerasTuner's own overlap.
    # After the hand-picked first trial, which every seed shares.
    drawn = {s: keys(draw("random_search", s, tmp_path / f"seed_{s}" / "random_search", 4)[1:])
             for s in seeds}
    assert all(len(trials) == 3 for trials in drawn.values())
    for a in seeds:
        for b in seeds:
            if a < b:
                assert not drawn[a] & drawn[b], (a, b)


@pytest.mark.parametrize("strategy", ["random_search", "bayesian_optimization"])
def test_every_search_tries_the_hand_picked_configuration_first(tmp_path, strategy):
    hand_picked = {"units": 256, "dropout": 0.3, "learning_rate": 1e-3, "optimizer": "adam"}
    assert {p["name"]: p["default"] for p in hypermodel.search_space()} == hand_picked
    trials = draw(strategy, 3, tmp_path / strategy, 4, initial_points=2)
    assert trials[0] == hand_picked
    assert hand_picked not in trials[1:]


def test_the_same_seed_draws_the_same_trials(tmp_path):
    first = draw("random_search", 1, tmp_path / "a" / "random_search")
    assert draw("random_search", 1, tmp_path / "b" / "random_search") == first
    assert Config(seed=1).oracle_seed == Config(seed=1).oracle_seed != Config(seed=2).oracle_seed


def test_both_strategies_share_their_random_first_trials(tmp_path):
    random = draw("random_search", 5, tmp_path / "r" / "random_search")
    bayesian = draw("bayesian_optimization", 5, tmp_path / "b" / "bayesian_optimization",
                    initial_points=2)
    assert bayesian[:2] == random[:2]


def test_oracle_seeds_fit_numpy_and_scikit_learn():
    for seed in (0, 1, 2, 42, 2**31 - 1):  # 0 too: the hash, not KerasTuner, sees it.
        assert 1 <= Config(seed=seed).oracle_seed < 2**32 - 1


@pytest.mark.parametrize("strategy, trials, flags", [
    ("random_search", 3, {}), ("bayesian_optimization", 4, {"initial_points": 1})])
def test_a_resumed_search_draws_what_an_uninterrupted_one_would(tmp_path, strategy, trials,
                                                                 flags):
    whole = draw(strategy, 3, tmp_path / "whole" / strategy, trials=trials, **flags)
    folder = tmp_path / "resumed" / strategy
    first = draw(strategy, 3, folder, trials=trials // 2, **flags)
    # The folder records the seed KerasTuner drew from: the hash of --seed.
    recorded = json.loads((folder / recorded_search.ORACLE_FILE).read_text())
    assert recorded["seed"] == Config(seed=3).oracle_seed
    assert first + draw(strategy, 3, folder, trials=trials, **flags) == whole
