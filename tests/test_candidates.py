"""The final-training candidates the recipe study trains (`benchmarks.candidates`): their parts,
their models and data, and that the product's recipe offers none of them."""

import keras
import keras_tuner as kt
import numpy as np
import pytest

from benchmarks import candidates
from benchmarks.candidates import Candidate
from fashion_tuning.errors import UserError
from fashion_tuning.final_training import train_configuration
from fashion_tuning.hypermodel import TunedCNN
from fashion_tuning.recipe import Recipe
from helpers import HPS, assert_flip_averaged_and_reloadable


@pytest.mark.parametrize("text, parts", [
    ("wide,smooth,ema,shift", ["wide", "shift", "smooth", "ema"]),
    ("deep,flip", ["flip", "deep"]), ("whiten,flip", ["flip", "whiten"]),
    ("alt-flip", ["alt-flip"])])
def test_a_candidate_names_its_parts_as_the_product_names_its_own(text, parts):
    assert Candidate.parse(text).parts() == parts
    assert Candidate.parse(",".join(parts)) == Candidate.parse(text)
    assert str(Candidate.parse("flip,flip-tta")) == str(Recipe.parse("flip,flip-tta"))


def test_the_product_offers_none_of_the_candidates_parts():
    with pytest.raises(UserError, match="unknown part 'shift'; give none, or some of flip, "
                                        "flip-tta, wide joined"):
        Recipe.parse("flip,shift")


def test_a_candidate_of_the_products_parts_is_the_products_model():
    def weights(recipe):
        keras.utils.set_random_seed(4)
        model = TunedCNN("float32", recipe).build(kt.HyperParameters())
        return [type(l).__name__ for l in model.layers], model.get_weights()

    for text in ("flip", "flip,wide"):
        ours, theirs = weights(Candidate.parse(text)), weights(Recipe.parse(text))
        assert ours[0] == theirs[0]
        assert all(np.array_equal(a, b) for a, b in zip(ours[1], theirs[1], strict=True))


def test_the_whitening_filters_whiten_the_patches_of_the_images():
    rng = np.random.default_rng(0)
    # Neighbours correlated along rows only, so that a kernel transposed would not whiten.
    field = rng.integers(0, 86, (40, 28, 29))
    images = (2 * field[:, :, :-1] + field[:, :, 1:]).astype(np.uint8)
    kernel = candidates.whitening_filters(images)
    assert kernel.shape == (3, 3, 1, 18)
    np.testing.assert_array_equal(kernel[..., 9:], -kernel[..., :9])
    conv = keras.layers.Conv2D(18, 3, use_bias=False)  # As the model applies it.
    conv.build((None, 28, 28, 1))
    conv.set_weights([kernel])
    whitened = keras.ops.convert_to_numpy(conv(images[..., None] / 255))[..., :9]
    whitened = whitened.reshape(-1, 9).astype("float64")
    covariance = whitened.T @ whitened / len(whitened)
    # Uncorrelated, each of variance 1 but for what `eps` takes off the smallest.
    np.testing.assert_allclose(covariance - np.diag(np.diag(covariance)), 0, atol=1e-4)
    assert (0.9 < np.diag(covariance)).all() and (np.diag(covariance) < 1.0001).all()
    transposed = kernel[..., :9].transpose(1, 0, 2, 3).reshape(9, 9)
    patches = np.lib.stride_tricks.sliding_window_view(
        images / 255, (3, 3), axis=(1, 2)).reshape(-1, 9)
    wrong = patches @ transposed
    assert np.abs(wrong.T @ wrong / len(wrong) - np.eye(9)).max() > 0.1


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_every_candidate_part_trains_and_its_predictor_reloads_with_keras_alone(precision,
                                                                              tmp_path):
    recipe = Candidate(flip=True, shift=2, label_smoothing=0.1, ema=True, flip_tta=True,
                       first_stage_convs=2, third_stage=True, whiten=True)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (64, 28, 28), dtype=np.uint8), np.arange(64) % 10
    model, _, _ = train_configuration(HPS[0], 1, 2, (x, y), 32, precision, recipe,
                                      validation_data=(x, y), verbose=0)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    # The fixed whitening filters, then two at 28x28 (1x1 first), two at 14x14, one at 7x7
    # averaged over the image.
    assert [(c.output.shape[1:], c.kernel.shape[0], c.trainable) for c in convs] == [
        ((28, 28, 18), 3, False), ((28, 28, 32), 1, True), ((28, 28, 32), 3, True),
        ((14, 14, 64), 3, True), ((14, 14, 64), 3, True), ((7, 7, 128), 3, True)]
    assert model.get_layer(index=-4).output.shape == (None, 128)  # Then dense, dropout, softmax.
    assert model.loss.label_smoothing == 0.1 and model.optimizer.use_ema
    # Set from the training images before training, and left as set.
    np.testing.assert_allclose(convs[0].get_weights()[0], candidates.whitening_filters(x))
    assert_flip_averaged_and_reloadable(model, x, y, tmp_path / "m.keras")


def test_shifts_act_in_training_only():
    model = Candidate.parse("flip,shift").model(HPS[0])
    images = np.random.default_rng(1).integers(0, 255, (8, 28, 28), dtype=np.uint8)
    aug = keras.Model(model.input, model.get_layer(index=4).output)  # After the shift.
    assert np.allclose(np.asarray(aug(images, training=False))[..., 0], images / 255)
    assert not np.allclose(np.asarray(aug(images, training=True))[..., 0], images / 255)


def test_alternating_flips_train_the_schedule_an_epoch_at_a_time():
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 255, (96, 28, 28), dtype=np.uint8), np.arange(96) % 10
    model, history, _ = train_configuration(
        HPS[0], 1, 2, (x[:64], y[:64]), 32, recipe=Candidate.parse("alt-flip"),
        validation_data=(x[64:], y[64:]), verbose=0)
    assert int(model.optimizer.iterations) == 2 * 2 and len(history["val_accuracy"]) == 2
    # The rate of the last step, epoch 2's second of two: 3/4 of the way along the cosine.
    assert float(model.optimizer.learning_rate) == pytest.approx(
        HPS[0]["learning_rate"] * 0.5 * (1 + np.cos(0.75 * np.pi)), rel=1e-5)


def test_alternating_flips_show_each_image_once_an_epoch_mirrored_every_other_epoch():
    images = np.arange(10 * 2 * 3, dtype="uint8").reshape(10, 2, 3)  # No image is symmetric.
    data, steps = candidates.alternating_flip_batches(
        images, np.arange(10), 4, 3, np.random.default_rng(0))
    batches = [(x.numpy(), y.numpy()) for x, y in data]
    assert steps == 3 and [len(y) for _, y in batches] == [4, 4, 2] * 3
    mirrored = np.zeros((3, 10), bool)
    for i, (x, y) in enumerate(batches):
        for image, label in zip(x, y):
            assert (image == images[label]).all() or (image == images[label][:, ::-1]).all()
            mirrored[i // steps, label] = (image != images[label]).any()
    epochs = [np.concatenate([y for _, y in batches[e * steps:(e + 1) * steps]]) for e in range(3)]
    assert all(sorted(labels) == list(range(10)) for labels in epochs)
    assert epochs[0].tolist() != epochs[1].tolist()  # Shuffled afresh each epoch.
    assert (mirrored[1] == ~mirrored[0]).all() and (mirrored[2] == mirrored[0]).all()
    assert 0 < mirrored[0].sum() < 10
