"""The CNN builds and compiles at the corners of the search space."""

import itertools

import keras_tuner as kt
import numpy as np
import pytest

from fashion_tuning.hypermodel import build_model, make_cnn


def test_build_model_with_empty_hyperparameters():
    hp = kt.HyperParameters()
    model = build_model(hp)
    assert model.output_shape == (None, 10)
    assert set(hp.values) == {"units", "dropout", "learning_rate", "optimizer"}


def test_search_space_holds_the_reference_ranges():
    hp = kt.HyperParameters()
    build_model(hp)
    space = {p.name: p.get_config() for p in hp.space}
    assert (space["units"]["min_value"], space["units"]["max_value"],
            space["units"]["step"]) == (64, 512, 32)
    assert (space["dropout"]["min_value"], space["dropout"]["max_value"],
            space["dropout"]["step"]) == (0.1, 0.5, 0.1)
    assert (space["learning_rate"]["min_value"], space["learning_rate"]["max_value"],
            space["learning_rate"]["sampling"]) == (1e-4, 1e-2, "log")
    assert space["optimizer"]["values"] == ["adam", "rmsprop"]


@pytest.mark.parametrize("units, dropout, learning_rate, optimizer", itertools.product(
    (64, 512), (0.1, 0.5), (1e-4, 1e-2), ("adam", "rmsprop")))
def test_corners_build_compile_and_predict(units, dropout, learning_rate, optimizer):
    model = make_cnn(units, dropout, learning_rate, optimizer)
    assert model.output_shape == (None, 10)
    assert model.optimizer.__class__.__name__.lower() == optimizer
    assert np.isclose(float(model.optimizer.learning_rate), learning_rate)
    probs = model.predict(np.zeros((2, 28, 28), np.uint8), verbose=0)
    assert probs.shape == (2, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
