"""Retrain the best configuration on all training images and save it."""

import time

import keras
import keras_tuner as kt

from fashion_tuning import atomic
from fashion_tuning.callbacks import StopOnSignal
from fashion_tuning.hypermodel import portable


def fit_best(hyperparameters, epochs, train, config, hypermodel):
    """Train a fresh model of `hyperparameters` on `train` for `epochs`, built and trained by
    `hypermodel` (a `kt.HyperModel`) as a trial is: the same schedule, epoch for epoch.

    Returns:
        `(model, seconds)`.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    hp = kt.HyperParameters()
    hp.values.update(hyperparameters)
    start = time.perf_counter()
    model = hypermodel.build(hp)
    hypermodel.fit(hp, model, *train, epochs=epochs, batch_size=config.batch_size,
                   callbacks=[StopOnSignal()], verbose=2)
    return model, time.perf_counter() - start


def save_model(model, path):
    """Save `model` to `path` (a `.keras` file) atomically, loadable with Keras alone."""
    with atomic.replacing(path) as tmp:
        portable(model).save(tmp)


def loads(path):
    """Whether the model saved at `path` loads (a truncated file does not)."""
    try:
        keras.saving.load_model(path)
    except Exception:  # Keras raises several kinds (ValueError, OSError, BadZipFile, ...).
        return False
    return True
