"""Candidates for the final training that the studies measured and the product did not adopt
(docs/design.md, "Does tuning pay?"): `Candidate`, a `Recipe` with parts of its own, which the
product's `final_training.train_configuration` trains as it trains any recipe."""

from dataclasses import dataclass

import numpy as np

from fashion_tuning.data import NUM_CLASSES
from fashion_tuning.idx import IMAGE_SIZE
from fashion_tuning.recipe import Recipe, part

# The `whiten` part's fixed first layer: its name, and the side of the patches it whitens.
WHITENING = "whitening"
WHITENED_PATCH = 3
# The parts that change the model, not only the data it trains on.
MODEL_PARTS = ("shift", "label_smoothing", "ema", "third_stage", "whiten")


@dataclass(frozen=True)
class Candidate(Recipe):
    """The product's recipe parts and the candidates'; `Candidate.parse` takes them all.

    Args:
        shift: move each training image by up to this many pixels up or down and left or
            right at random, filling the border with black.
        label_smoothing: train on labels mixed with this share of a uniform distribution.
        ema: predict with an exponential moving average of the weights (momentum 0.99).
        third_stage: a third stage (one conv of 4x the filters at 7x7) whose output is
            averaged over the image, in place of flattening the second stage's.
        whiten: fixed 3x3 filters that whiten the training images' patches, each with its
            negative, then a ReLU, and the first stage's first conv 1x1 (airbench's first
            layer).
        alt_flip: each image mirrored in every other epoch, by the data
            (`alternating_flip_batches`), rather than at random by a layer (airbench's).
    """

    shift: int = part("shift", 2, "random shifts of up to 2 pixels", default=0)
    label_smoothing: float = part("smooth", 0.1, "label smoothing 0.1", default=0.0)
    ema: bool = part("ema", True, "a moving average of the weights")
    third_stage: bool = part("deep", True, "a third conv stage at 7x7 and global average "
                                           "pooling")
    whiten: bool = part("whiten", True, "fixed patch-whitening 3x3 filters before a 1x1 "
                                        "first conv")
    alt_flip: bool = part("alt-flip", True, "each image mirrored in every other epoch")

    def model(self, hyperparameters, precision="float32"):
        """The product's model, or, with a part of `MODEL_PARTS`, the same pieces with what
        the part adds, built in the same order (the same initial weights where they match)."""
        if not any(getattr(self, name) for name in MODEL_PARTS):
            return super().model(hyperparameters, precision)
        import keras
        from keras import layers

        from fashion_tuning.model import (FILTERS, OPTIMIZERS, STAGE2_CONVS, classifier, compiled,
                                          image_input, stage, trunk)

        policy = keras.DTypePolicy(precision)
        inputs, x = image_input(policy)
        if self.flip:
            x = layers.RandomFlip("horizontal", dtype=policy)(x)
        if self.shift:  # Nearest-pixel shifts: whole pixels, no blur.
            x = layers.RandomTranslation(self.shift / IMAGE_SIZE, self.shift / IMAGE_SIZE,
                                         fill_mode="constant", interpolation="nearest",
                                         dtype=policy)(x)
        first = (3,) * self.first_stage_convs
        if self.whiten:  # Fixed: the patches come to the first conv already whitened.
            x = layers.Conv2D(2 * WHITENED_PATCH ** 2, WHITENED_PATCH, padding="same",
                              use_bias=False, trainable=False, name=WHITENING, dtype=policy)(x)
            x = layers.Activation("relu", dtype=policy)(x)
            first = (1, *first[1:])
        x = trunk(x, FILTERS, (first, (3,) * STAGE2_CONVS), policy)
        if self.third_stage:
            x = layers.GlobalAveragePooling2D(dtype=policy)(
                stage(x, 4 * FILTERS, (3,), policy))
        else:
            x = layers.Flatten(dtype=policy)(x)
        outputs = classifier(x, hyperparameters["units"], hyperparameters["dropout"], policy)
        update_rule = OPTIMIZERS[hyperparameters["optimizer"]](
            learning_rate=hyperparameters["learning_rate"], use_ema=self.ema)
        # With smoothing the model trains on one-hot labels (`fit_data` makes them).
        loss = (keras.losses.CategoricalCrossentropy(label_smoothing=self.label_smoothing)
                if self.label_smoothing else "sparse_categorical_crossentropy")
        return compiled(inputs, outputs, update_rule, loss, policy)

    def fit_data(self, model, x, y, validation_data, batch_size, epochs):
        """The product's data, with one-hot labels for smoothing, the whitening filters set
        from `x`, or alternating flips."""
        if self.label_smoothing:
            y = one_hot(y)
            validation_data = validation_data and (validation_data[0],
                                                   one_hot(validation_data[1]))
        if self.whiten:
            model.get_layer(WHITENING).set_weights([whitening_filters(x)])
        if not self.alt_flip:
            return super().fit_data(model, x, y, validation_data, batch_size, epochs)
        from fashion_tuning.batches import batches

        # Seeded, as the weights are, by `train_configuration`'s `set_random_seed`.
        rng = np.random.default_rng(np.random.randint(2 ** 31))
        data, steps = alternating_flip_batches(x, y, batch_size, epochs, rng)
        return data, steps, validation_data and batches(*validation_data, batch_size)


def whitening_filters(images, eps=5e-4, limit=2500):
    """The kernel of the whitening layer, (3, 3, 1, 18): the eigenvectors of the (uncentred)
    covariance of the 3x3 patches of `images`' first `limit` (scaled to [0, 1], as the model
    sees them), each divided by the square root of its eigenvalue plus `eps`, then their
    negatives (so that the ReLU after them passes both signs)."""
    pixels = images[:limit].astype("float64") / 255
    patches = np.lib.stride_tricks.sliding_window_view(
        pixels, (WHITENED_PATCH, WHITENED_PATCH), axis=(1, 2)).reshape(-1, WHITENED_PATCH ** 2)
    values, vectors = np.linalg.eigh(patches.T @ patches / len(patches))
    scaled = vectors / np.sqrt(values + eps)  # Column i: filter i, over the patch's pixels.
    kernel = np.concatenate([scaled, -scaled], axis=1)
    return kernel.reshape(WHITENED_PATCH, WHITENED_PATCH, 1, -1).astype("float32")


def one_hot(labels):
    """Integer class labels as one-hot float32 rows (what label smoothing trains on)."""
    return np.eye(NUM_CLASSES, dtype="float32")[labels]


def alternating_flip_batches(x, y, batch_size, epochs, rng):
    """`epochs` epochs of shuffled batches of `(x, y)` in one `tf.data` pipeline, each image
    mirrored in every other epoch: a random half of them in the even epochs, the other half in
    the odd ones (airbench's alternating flip), rather than each at random in each epoch.
    Shuffling and the first epoch's half come from `rng` (a numpy Generator).

    Returns:
        `(dataset, batches an epoch)`.
    """
    import tensorflow as tf

    count = len(x)
    first = rng.random(count) < 0.5
    orders = tf.constant(np.stack([rng.permutation(count) for _ in range(epochs)]), tf.int32)
    mirrored = tf.constant(np.stack([first ^ bool(e % 2) for e in range(epochs)]))
    images, labels = tf.constant(x), tf.constant(y)

    def batch(epoch, indices):
        chosen = tf.gather(images, indices)
        flip = tf.gather(mirrored[epoch], indices)[:, None, None]
        return tf.where(flip, tf.reverse(chosen, [2]), chosen), tf.gather(labels, indices)

    def epoch_batches(epoch):
        return tf.data.Dataset.from_tensor_slices(orders[epoch]).batch(batch_size).map(
            lambda indices: batch(epoch, indices))

    options = tf.data.Options()
    options.autotune.enabled = False  # As the product's own batches (`batches.batches`).
    steps = -(-count // batch_size)
    return (tf.data.Dataset.range(epochs).flat_map(epoch_batches).with_options(options)
            .apply(tf.data.experimental.assert_cardinality(epochs * steps)), steps)
