"""A trial trains as Keras' fit on arrays would, under a cosine schedule counted in epochs;
early stopping watches the objective from half the schedule on."""

import math

import keras
import keras_tuner as kt
import numpy as np
import pytest

from fashion_tuning.batches import batches
from fashion_tuning.callbacks import CosineDecay, trial_callbacks
from fashion_tuning.config import Config
from fashion_tuning.hypermodel import TunedCNN
from fashion_tuning.model import make_cnn


class RateLog(keras.callbacks.Callback):
    """The learning rate each batch trained with, as (epoch, batch, rate)."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append((self.epoch, batch, float(self.model.optimizer.learning_rate)))


def train_rates(hyperparameters, images, epochs):
    hp = kt.HyperParameters()
    hp.values.update(hyperparameters)
    cnn = TunedCNN()
    model, log = cnn.build(hp), RateLog()
    x = np.zeros((images, 28, 28), np.uint8)
    history = cnn.fit(hp, model, x, np.zeros(images, int), epochs=epochs, batch_size=8,
                      callbacks=[log], verbose=0)
    return log.rates, len(history.history["loss"])


COSINE = {"learning_rate": 1e-3}


def test_a_trial_trains_as_keras_fit_on_arrays_and_its_datasets_are_not_autotuned():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (300, 28, 28), dtype=np.uint8), rng.integers(0, 10, 300)

    def trained(fit):
        keras.backend.clear_session()
        keras.utils.set_random_seed(5)
        cnn, hp = TunedCNN(), kt.HyperParameters()
        model = cnn.build(hp)
        history = fit(cnn, hp, model).history
        return model.get_weights(), history["val_accuracy"]

    arrays = trained(lambda cnn, hp, model: model.fit(
        x, y, epochs=2, batch_size=64, validation_data=(x[:50], y[:50]),
        callbacks=[CosineDecay(2)], verbose=0))
    ours = trained(lambda cnn, hp, model: cnn.fit(
        hp, model, x, y, epochs=2, batch_size=64, validation_data=(x[:50], y[:50]), verbose=0))
    assert all(np.array_equal(a, b) for a, b in zip(arrays[0], ours[0]))
    assert arrays[1] == ours[1]
    dataset = batches(x, y, 64)
    assert not dataset.options().autotune.enabled
    assert dataset.cardinality() == 5  # 300 images: 4 full batches and one of 44.


@pytest.mark.slow
def test_cosine_decays_to_zero_over_the_epochs_of_the_training():
    rates, epochs_run = train_rates(COSINE, images=32, epochs=4)
    assert epochs_run == 4
    assert rates[0][2] == pytest.approx(1e-3)
    for epoch, batch, rate in rates:  # 4 batches per epoch.
        done = (epoch + batch / 4) / 4
        assert rate == pytest.approx(1e-3 * 0.5 * (1 + math.cos(math.pi * done)), rel=1e-5)
    assert rates[-1][2] < 0.02 * 1e-3
    assert [r for _, _, r in rates] == sorted((r for _, _, r in rates), reverse=True)


@pytest.mark.slow
def test_the_schedule_is_counted_in_epochs_whatever_the_number_of_images():
    # A trial's training split and the final training's images (more batches per epoch) over
    # the same epochs: at the start of each epoch both train at the same rate.
    trial, _ = train_rates(COSINE, images=32, epochs=3)
    final, epochs_run = train_rates(COSINE, images=64, epochs=3)
    assert epochs_run == 3
    starts = {epoch: rate for epoch, batch, rate in trial if batch == 0}
    assert {e: r for e, b, r in final if b == 0} == pytest.approx(starts)


def test_cosine_keeps_a_rate_of_zero_at_zero():
    # Tests that rig a trial with learning rate 0 rely on it: the schedule scales what the
    # optimizer starts with.
    model = make_cnn(learning_rate=0.0)
    log = RateLog()
    model.fit(np.zeros((8, 28, 28), np.uint8), np.zeros(8, int), epochs=1, batch_size=4,
              callbacks=[CosineDecay(2), log], verbose=0)
    assert {r for _, _, r in log.rates} == {0.0}


@pytest.mark.parametrize("epochs, trial_epochs, judged_from", [(30, 12, 6), (30, 5, 2), (3, 12, 1)])
def test_early_stopping_watches_the_objective_from_half_the_schedule_on(epochs, trial_epochs,
                                                                          judged_from):
    # Not val_loss: under the cosine schedule it rises on an overfitting model while the
    # accuracy still climbs, and stopping on it cut trials before their best epoch.
    config = Config(patience=5, epochs=epochs, trial_epochs=trial_epochs)
    assert config.judged_from_epoch == judged_from
    stop = next(c for c in trial_callbacks(config) if isinstance(c, keras.callbacks.EarlyStopping))
    assert (stop.monitor, stop.mode, stop.patience, stop.restore_best_weights) == (
        "val_accuracy", "max", 5, True)
    assert stop.start_from_epoch == judged_from - 1  # Keras counts from 0.
