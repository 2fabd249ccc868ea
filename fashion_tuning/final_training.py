"""The final training: the best configuration trained afresh on all training images, and the
model that is evaluated and saved."""

import time

import keras
import keras_tuner as kt

from fashion_tuning import atomic, results
from fashion_tuning.errors import UserError
from fashion_tuning.recipe import Recipe
from fashion_tuning.hypermodel import TunedCNN, in_space


def train_configuration(hyperparameters, seed, epochs, train, batch_size, precision="float32",
                        recipe=Recipe(), hypermodel=None, **fit_kwargs):
    """Train a fresh model of `hyperparameters` on `train` as a trial is trained (`TunedCNN`:
    seeded with `seed`, a complete schedule over `epochs`), with what `recipe` adds, or by
    `hypermodel` (a `TunedCNN` that trains otherwise) when given. `fit_kwargs` go to `fit`.

    Returns:
        `(model, history, seconds)`: the trained Keras model, its per-epoch metrics and the
        training's wall time.

    Raises:
        UserError: `hyperparameters` come from another version of the space, whose model this
            one cannot build (`hypermodel.in_space`, or a name the space lacks).
    """
    hyperparameters = in_space(hyperparameters)
    if hypermodel and recipe != Recipe():
        raise ValueError("a hypermodel trains its own way: give it the recipe, not both")
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    hp = kt.HyperParameters()
    hp.values.update(hyperparameters)
    cnn = hypermodel or TunedCNN(precision, recipe)
    start = time.perf_counter()
    model = cnn.build(hp)
    unknown = sorted(set(hyperparameters) - {p.name for p in hp.space})
    if unknown:
        raise UserError(f"hyperparameter {unknown[0]!r} is not in this search space; the "
                        "configuration comes from another version of it: take one from a "
                        "run of this version")
    history = cnn.fit(hp, model, *train, epochs=epochs,
                      batch_size=batch_size, **fit_kwargs).history
    return model, {k: [float(v) for v in vs] for k, vs in history.items()}, \
        time.perf_counter() - start


def save_model(model, path):
    """Save `model` (a `hypermodel.predictor`) to `path` (a `.keras` file) atomically.

    Returns:
        The SHA-256 of the file written, which the summary records.
    """
    with atomic.replacing(path) as tmp:
        model.save(tmp)
        return results.sha256_of(tmp)
