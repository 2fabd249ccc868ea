"""The CNN builds and compiles at the corners of the search space; its fused BatchNorm trains
like Keras' own; the saved model needs Keras alone; recipes name their parts and train."""

import itertools

import keras
import keras_tuner as kt
import numpy as np
import pytest

import tensorflow as tf

from fashion_tuning.export import predictor
from fashion_tuning.final_training import save_model
from fashion_tuning.hypermodel import TunedCNN, build_model
from fashion_tuning.model import FusedBatchNorm, make_cnn
from fashion_tuning.recipe import Recipe
from fashion_tuning.results import final_recipe
from helpers import assert_flip_averaged_and_reloadable

NAMES = {"units", "dropout", "learning_rate", "optimizer"}


def test_build_model_with_empty_hyperparameters():
    hp = kt.HyperParameters()
    model = build_model(hp)
    assert model.output_shape == (None, 10)
    assert set(hp.values) == NAMES


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


def test_every_model_of_the_space_has_the_fixed_trunk():
    model = build_model(kt.HyperParameters())
    convs = [(l.filters, l.output.shape[1]) for l in model.layers
             if isinstance(l, keras.layers.Conv2D)]
    assert convs == [(32, 28), (64, 14), (64, 14)]


def test_every_model_of_the_space_has_batch_norm_after_each_conv():
    model = build_model(kt.HyperParameters())
    layers = [type(l).__name__ for l in model.layers]
    assert layers.count("Conv2D") == layers.count("FusedBatchNorm") >= 2


def predict(model):
    images = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    return model.predict(images, verbose=0)


@pytest.mark.parametrize("units, dropout, learning_rate, optimizer", itertools.product(
    (64, 512), (0.1, 0.5), (1e-4, 1e-2), ("adam", "rmsprop")))
def test_head_corners_build_compile_and_predict(units, dropout, learning_rate, optimizer):
    model = make_cnn(units, dropout, learning_rate, optimizer)
    assert model.output_shape == (None, 10)
    assert model.optimizer.__class__.__name__.lower() == optimizer
    assert np.isclose(float(model.optimizer.learning_rate), learning_rate)
    probs = predict(model)
    assert probs.shape == (4, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("filters, stage_convs",
                         itertools.product((16, 32), ((1, 1), (1, 2), (2, 2))))
def test_trunk_corners_build_and_have_the_asked_layers(filters, stage_convs):
    model = make_cnn(filters=filters, stage_convs=stage_convs)
    assert model.output_shape == (None, 10)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [w for w, n in zip((filters, 2 * filters), stage_convs)
                                          for _ in range(n)]
    norms = [l for l in model.layers if isinstance(l, FusedBatchNorm)]
    assert len(norms) == len(convs) and not any(c.use_bias for c in convs)
    assert np.allclose(predict(model).sum(axis=1), 1, atol=1e-5)


@pytest.mark.slow
def test_the_model_predicts_the_same_after_training_and_reloading(tmp_path):
    # Inference must not depend on the batch (BatchNorm uses its moving statistics, dropout
    # is off), and the saved model must reproduce it with Keras' own layers only.
    model = make_cnn()
    rng = np.random.default_rng(1)
    model.fit(rng.integers(0, 256, (64, 28, 28), dtype=np.uint8), rng.integers(0, 10, 64),
              epochs=1, batch_size=32, verbose=0)
    images = rng.integers(0, 256, (8, 28, 28), dtype=np.uint8)
    alone = np.concatenate([model.predict(images[i:i + 1], verbose=0) for i in range(8)])
    assert np.allclose(model.predict(images, verbose=0), alone, atol=1e-5)
    save_model(predictor(model), tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras")
    assert {type(l).__module__.split(".")[0] for l in reloaded.layers} == {"keras"}
    assert np.allclose(reloaded.predict(images, verbose=0), alone, atol=1e-5)


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_fused_batch_norm_trains_like_keras_batch_normalization(precision):
    x = np.random.default_rng(2).normal(2, 3, (8, 5, 5, 3)).astype("float32")
    ours, keras_own = FusedBatchNorm(dtype=precision), keras.layers.BatchNormalization(
        dtype=precision)
    with tf.GradientTape(persistent=True) as tape:
        outputs = [layer(x, training=True) for layer in (ours, keras_own)]
        losses = [tf.reduce_sum(tf.cast(y, "float32") ** 2 * x) for y in outputs]
    atol = 1e-5 if precision == "float32" else 0.05
    assert outputs[0].dtype == outputs[1].dtype
    assert np.allclose(*(np.asarray(y, "float32") for y in outputs), atol=atol)
    grads = [tape.gradient(loss, layer.trainable_weights)
             for loss, layer in zip(losses, (ours, keras_own))]
    for ours_g, theirs in zip(*grads):
        assert np.allclose(ours_g, theirs, rtol=1e-3, atol=atol)
    assert np.allclose(ours.moving_mean, keras_own.moving_mean, atol=1e-6)
    # The fused kernel's running variance is the unbiased one (n / (n - 1), n = 200 here).
    assert np.allclose(ours.moving_variance, keras_own.moving_variance, rtol=1e-2)
    assert not np.allclose(ours.moving_variance, 1.0)  # It did update.
    keras_own.set_weights(ours.get_weights())  # Inference is the parent's.
    assert np.array_equal(ours(x, training=False), keras_own(x, training=False))


@pytest.mark.parametrize("text, parts", [
    ("none", []), ("flip,flip-tta", ["flip", "flip-tta"]), ("wide,flip", ["flip", "wide"])])
def test_a_recipe_names_its_parts_as_the_flag_does(text, parts):
    assert Recipe.parse(text).parts() == parts
    assert Recipe.parse(",".join(parts) or "none") == Recipe.parse(text)


def test_a_recorded_recipe_takes_a_later_fields_default_and_refuses_a_field_it_lacks():
    recorded = {"flip": True, "flip_tta": True, "first_stage_convs": 2}
    assert final_recipe({"settings": {"final_recipe": recorded}}) == Recipe.parse(
        "flip,flip-tta,wide")
    assert final_recipe({"settings": {"final_recipe": {"flip": True}}}) == Recipe(flip=True)
    with pytest.raises(TypeError, match="'shift'"):
        final_recipe({"settings": {"final_recipe": {**recorded, "shift": 0}}})


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_every_recipe_trains_and_its_predictor_reloads_with_keras_alone(precision, tmp_path):
    recipe = Recipe.parse("flip,flip-tta,wide")
    hp = kt.HyperParameters()
    hp.values.update({"units": 64, "dropout": 0.1, "learning_rate": 1e-3, "optimizer": "adam"})
    cnn = TunedCNN(precision, recipe)
    model = cnn.build(hp)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.output.shape[1:] for c in convs] == [(28, 28, 32)] * 2 + [(14, 14, 64)] * 2
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (64, 28, 28), dtype=np.uint8), np.arange(64) % 10
    cnn.fit(hp, model, x, y, validation_data=(x, y), epochs=2, batch_size=32, verbose=0)
    assert_flip_averaged_and_reloadable(model, x, y, tmp_path / "m.keras")


def test_augmentation_acts_in_training_only():
    model = make_cnn(flip=True)
    images = np.random.default_rng(1).integers(0, 255, (8, 28, 28), dtype=np.uint8)
    aug = keras.Model(model.input, model.get_layer(index=3).output)  # After the flip.
    assert np.allclose(np.asarray(aug(images, training=False))[..., 0], images / 255)
    assert not np.allclose(np.asarray(aug(images, training=True))[..., 0], images / 255)
