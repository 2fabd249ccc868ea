"""The final training: the trained trial's configuration trained afresh on all training images,
and the model that is evaluated and saved."""

import time

import keras
import keras_tuner as kt

from fashion_tuning import atomic, results
from fashion_tuning.hypermodel import TunedCNN
from fashion_tuning.recipe import Recipe


def train_configuration(hyperparameters, seed, epochs, train, batch_size, precision="float32",
                        recipe=Recipe(), **fit_kwargs):
    """Train a fresh model of `hyperparameters` on `train` as a trial is trained (`TunedCNN`:
    seeded with `seed`, a complete schedule over `epochs`), with what `recipe` adds.
    `fit_kwargs` go to `fit`.

    Returns:
        `(model, history, seconds)`: the trained Keras model, its per-epoch metrics and the
        training's wall time.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    hp = kt.HyperParameters()
    hp.values.update(hyperparameters)
    cnn = TunedCNN(precision, recipe)
    start = time.perf_counter()
    model = cnn.build(hp)
    history = cnn.fit(hp, model, *train, epochs=epochs,
                      batch_size=batch_size, **fit_kwargs).history
    return model, {k: [float(v) for v in vs] for k, vs in history.items()}, \
        time.perf_counter() - start


def final_model(hyperparameters, config, pool, test, precision, callbacks=(), verbose=0):
    """The final training of a run of `config`: `hyperparameters` trained afresh on `pool`
    (seeded with the run's seed, `config.final_epochs`, its `final_recipe`), made the model
    that is saved (`export.predictor`) and evaluated on `test`.

    Returns:
        `(model, scores, seconds)`: the model to save, `evaluate`'s scores, the training's
        wall time.
    """
    from fashion_tuning import export
    from fashion_tuning.evaluate import evaluate

    recipe = config.final_recipe
    model, _, seconds = train_configuration(
        hyperparameters, config.seed, config.final_epochs, pool, config.batch_size, precision,
        recipe, callbacks=list(callbacks), verbose=verbose)
    model = export.predictor(model, recipe.flip_tta)
    return model, evaluate(model, test, config.batch_size, callbacks=list(callbacks)), seconds


def save_model(model, path):
    """Save `model` (a `export.predictor`) to `path` (a `.keras` file) atomically.

    Returns:
        The SHA-256 of the file written, which the summary records.
    """
    with atomic.replacing(path) as tmp:
        model.save(tmp)
        return results.sha256_of(tmp)
