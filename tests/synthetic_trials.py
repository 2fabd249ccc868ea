"""Synthetic real trials whose truth is known, for the surrogate and what reads it."""

import random

import numpy as np

from benchmarks import surrogate

NOISE = 0.003
CLIMB = (0.03, 0.012, 0.0)


def truth(h):
    """A smooth response: best at a learning rate of 10**-2.9, a little better with units."""
    x = surrogate.features([h])[0]
    return 0.91 - 0.1 * (x[2] - 0.55) ** 2 + 0.006 * x[0] - 0.004 * x[3]


def synthetic_records(configs=80, repeated=15, seed=0):
    """Records as `space_trials` writes them: `configs` drawn uniformly, the first `repeated`
    trained at 3 trial seeds, each score the truth plus noise of sd `NOISE`."""
    draw, rng = random.Random(seed), np.random.default_rng(seed)
    records = []
    for i in range(configs):
        h = {"units": draw.randrange(64, 513, 32), "dropout": draw.choice([.1, .2, .3, .4, .5]),
             "learning_rate": 10 ** draw.uniform(-4, -2),
             "optimizer": draw.choice(["adam", "rmsprop"])}
        for repeat in range(3 if i < repeated else 1):
            # Epochs 1 and 2 trail the last by CLIMB, with noise of their own.
            curve = [truth(h) - c + NOISE * rng.standard_normal() for c in CLIMB]
            records.append({"config": f"draw-{i:03d}", "hyperparameters": h,
                            "history": {"val_accuracy": curve}, "score": curve[-1],
                            "seconds": 40 + 30 * h["units"] / 512, "loadavg_start": 1.0})
    return records
