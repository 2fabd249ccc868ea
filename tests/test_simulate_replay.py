"""The simulation is the product's search: fed the real study's curves, `simulate_run` proposes
the real runs' configurations and stops the trials median stopping stopped."""

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks import simulate, surrogate
from fashion_tuning.hypermodel import space_hyperparameters

STUDY = Path(__file__).parents[1] / "docs/results/study"


class RealCurves:
    """A stand-in surrogate that answers each configuration with its real trial's curve (a
    pruned trial's epochs, then zeros that the replay must never reach)."""

    correlation = np.eye(3)

    def __init__(self, trials):
        self.curve = {self.key(surrogate.features([t["hyperparameters"]])):
                      [*t["history"]["val_accuracy"][:2], t["val_accuracy"]]
                      if t["status"] == "completed" else
                      [*t["history"]["val_accuracy"], 0.0, 0.0][:3] for t in trials}

    @staticmethod
    def key(x):
        return tuple(np.atleast_2d(x)[0].round(9))

    def curves(self, x, z):
        return np.array([self.curve[self.key(x)]])

    def mean(self, x):
        return np.zeros(1)

    noise_sd = seconds = mean


@pytest.mark.parametrize("strategy", [
    "random_search", pytest.param("bayesian_optimization", marks=pytest.mark.slow)])
def test_the_simulation_replays_a_real_run(strategy):
    summary = json.loads((STUDY / "seed_42" / strategy / "summary.json").read_text())
    real = summary["trials"]
    run = simulate.simulate_run(strategy, summary["settings"]["seed"], RealCurves(real),
                                space_hyperparameters(), trials=len(real))["trials"]
    assert [t["hyperparameters"] for t in run] == [t["hyperparameters"] for t in real]
    assert [t["status"] for t in run] == [t["status"] for t in real]
    assert [t["score"] for t in run] == pytest.approx([t["val_accuracy"] for t in real], abs=0)
