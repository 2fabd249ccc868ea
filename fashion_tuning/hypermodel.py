"""The CNN: a plain builder with explicit arguments, the KerasTuner search space over it, how a
trial trains (its learning-rate schedule), and what a `Recipe` changes in the model."""

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf
from keras import layers

from fashion_tuning.callbacks import CosineDecay
from fashion_tuning.config import HAND_PICKED
from fashion_tuning.recipe import Recipe
from fashion_tuning.data import NUM_CLASSES
from fashion_tuning.errors import UserError
from fashion_tuning.idx import IMAGE_SIZE

OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}

# The trunk: `FILTERS` at 28x28 (one conv, two with the `wide` recipe), then STAGE2_CONVS
# convs of twice as many at 14x14. Fixed, not searched: 3-epoch trials rank cheaper trunks
# too high (docs/design.md, "Why the trunk is not searched").
FILTERS = 32
STAGE2_CONVS = 2
# The `whiten` recipe's fixed first layer: its name, and the side of the patches it whitens.
WHITENING = "whitening"
WHITENED_PATCH = 3
# The trunk as summaries of folder format 3 name it (that space searched it).
TRUNK_HYPERPARAMETERS = {"filters": FILTERS, "stage2_convs": STAGE2_CONVS}


def in_space(hyperparameters):
    """`hyperparameters` without the trunk's names where they name the fixed trunk, as older
    summaries record it; a UserError for another trunk, which this space cannot build."""
    for name, fixed in TRUNK_HYPERPARAMETERS.items():
        if hyperparameters.get(name, fixed) != fixed:
            raise UserError(f"the configuration has {name}={hyperparameters[name]}, but the "
                            f"trunk is fixed at {name}={fixed}; take a configuration from a "
                            "run of this version")
    return {k: v for k, v in hyperparameters.items() if k not in TRUNK_HYPERPARAMETERS}


class FusedBatchNorm(layers.BatchNormalization):
    """Keras' BatchNormalization, trained with TensorFlow's fused kernel.

    Keras 3 normalises a training batch in separate ops (moments, then scale and shift, and
    their gradients); TensorFlow's fused kernel does each in one pass, which trained our
    BatchNorm trunks about 1.2x faster on a 2-core CPU. Inference is the parent's, so the
    model `portable` makes from this one predicts the same.
    """

    def call(self, inputs, training=None, mask=None):
        if not (training and self.trainable) or mask is not None or self.renorm \
                or len(inputs.shape) != 4 or self.axis not in (-1, 3):  # Fused: NHWC only.
            return super().call(inputs, training=training, mask=mask)
        # The parent normalises in float32 whatever the policy; so do we.
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            tf.cast(inputs, "float32"), self.gamma, self.beta, mean=self.moving_mean,
            variance=self.moving_variance, epsilon=self.epsilon, is_training=True,
            exponential_avg_factor=1.0 - self.momentum)  # Returns the updated moving stats.
        self.moving_mean.assign(mean)
        self.moving_variance.assign(variance)
        return tf.cast(outputs, self.compute_dtype)


def portable(model):
    """`model` with each `FusedBatchNorm` made a plain `BatchNormalization`, same weights, so
    that the saved model loads with Keras alone (without this package)."""
    def plain(layer):
        cls = layers.BatchNormalization if isinstance(layer, FusedBatchNorm) else type(layer)
        return cls.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=plain)
    copy.set_weights(model.get_weights())
    copy.compile_from_config(model.get_compile_config())  # As loading does; builds the optimizer.
    if model.optimizer.built:  # Its state too, as saving `model` itself would.
        for mine, theirs in zip(copy.optimizer.variables, model.optimizer.variables, strict=True):
            mine.assign(theirs)
    return copy


def make_cnn(units=HAND_PICKED["units"], dropout=HAND_PICKED["dropout"],
             learning_rate=HAND_PICKED["learning_rate"], optimizer=HAND_PICKED["optimizer"],
             filters=FILTERS, stage_convs=(Recipe.first_stage_convs, STAGE2_CONVS),
             batch_norm=True, flip=False,
             shift=0, label_smoothing=0.0, ema=False, third_stage=False, whiten=False,
             precision="float32"):
    """Build and compile the CNN.

    Takes raw uint8 images (N, 28, 28) and rescales inside the model, so the saved
    model is used exactly like the dataset: `model.predict(x_test)`.

    Args:
        units: width of the dense layer before the classifier.
        dropout: dropout rate after that dense layer.
        learning_rate: initial learning rate of the optimizer.
        optimizer: "adam" or "rmsprop".
        filters: filters of each conv layer of the first stage; the second stage uses 2x.
        stage_convs: 3x3 conv layers in the first (28x28) and the second (14x14) stage,
            e.g. (1, 1); each count 1 or more.
        batch_norm: BatchNormalization after each conv layer (which then has no bias).
        flip, shift, label_smoothing, ema, third_stage, whiten: as in `Recipe`; with label
            smoothing the model trains on one-hot labels (`TunedCNN.fit` makes them); the
            whitening filters are set by `TunedCNN.fit` (`whitening_filters`).
        precision: Keras dtype policy of every layer but the softmax, e.g. "float32" or
            "mixed_bfloat16". It is given to each layer, not set globally: Keras'
            `clear_session()`, which KerasTuner calls before every build, resets a global one.

    Returns:
        A compiled `keras.Model` with output shape (None, 10) (softmax).
    """
    policy = keras.DTypePolicy(precision)
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE), dtype="uint8", name="image")
    x = layers.Rescaling(1 / 255, dtype=policy)(inputs)
    x = layers.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1), dtype=policy)(x)
    # Active in training only. Nearest-pixel shifts: whole pixels, no blur.
    if flip:
        x = layers.RandomFlip("horizontal", dtype=policy)(x)
    if shift:
        x = layers.RandomTranslation(shift / IMAGE_SIZE, shift / IMAGE_SIZE, fill_mode="constant",
                                     interpolation="nearest", dtype=policy)(x)
    # Two stages of same-padded 3x3 convs, each ending in a 2x2 max-pool that halves the
    # resolution (28 -> 14 -> 7); a third stage, down to 3x3, scored no higher
    # (docs/results/space-probe/).
    def stage(x, width, convs, first_kernel=3):
        for kernel in (first_kernel, *[3] * (convs - 1)):
            x = layers.Conv2D(width, kernel, padding="same", use_bias=not batch_norm,
                              dtype=policy)(x)
            if batch_norm:
                # Momentum 0.9 (PyTorch's), not Keras' 0.99: the moving statistics that
                # inference uses then settle within ~50 batches, not ~500, which a short run
                # (--quick: 38 batches an epoch) would not reach.
                x = FusedBatchNorm(momentum=0.9, dtype=policy)(x)
            x = layers.Activation("relu", dtype=policy)(x)
        return x

    if whiten:  # Fixed: the patches come to the first conv already whitened.
        x = layers.Conv2D(2 * WHITENED_PATCH ** 2, WHITENED_PATCH, padding="same",
                          use_bias=False, trainable=False, name=WHITENING, dtype=policy)(x)
        x = layers.Activation("relu", dtype=policy)(x)
    first_kernels = (1 if whiten else 3, 3)
    for width, convs, kernel in zip((filters, 2 * filters), stage_convs, first_kernels,
                                    strict=True):
        x = layers.MaxPooling2D(dtype=policy)(stage(x, width, convs, kernel))
    if third_stage:
        x = layers.GlobalAveragePooling2D(dtype=policy)(stage(x, 4 * filters, 1))
    else:
        x = layers.Flatten(dtype=policy)(x)
    x = layers.Dense(units, activation="relu", dtype=policy)(x)
    x = layers.Dropout(dropout, dtype=policy)(x)
    # float32 softmax even under a mixed-precision policy, for a stable loss.
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="fashion_cnn")
    update_rule = OPTIMIZERS[optimizer](learning_rate=learning_rate, use_ema=ema)
    if policy.name == "mixed_float16":
        # Keras scales the loss only when the *model's* policy is mixed_float16, which a
        # functional model takes from the global policy; we set none, so scale here.
        update_rule = keras.optimizers.LossScaleOptimizer(update_rule)
    loss = (keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
            if label_smoothing else "sparse_categorical_crossentropy")
    model.compile(optimizer=update_rule, loss=loss, metrics=["accuracy"])
    return model


def batches(x, y, batch_size, shuffle=False):
    """`(x, y)` as the `tf.data` pipeline that Keras builds from arrays itself (the same batches
    in the same order: the same numbers), with tf.data's autotuning off. Ending an autotuned
    iterator, as every epoch and evaluation does, waits for its tuning thread's next wake-up:
    idle stalls of up to 10 s, in half the epochs on 2 cores (docs/results/stalls/)."""
    # Keras' own array pipeline; no public API builds it.
    from keras.src.trainers.data_adapters.array_data_adapter import ArrayDataAdapter

    options = tf.data.Options()
    options.autotune.enabled = False
    adapter = ArrayDataAdapter(x, y, batch_size=batch_size, shuffle=shuffle)
    dataset = adapter.get_tf_dataset().with_options(options)
    # Known length, as for arrays: the progress line and `CosineDecay` count steps.
    return dataset.apply(tf.data.experimental.assert_cardinality(adapter.num_batches))


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


def predictor(model, flip_tta=False):
    """The model to evaluate and save: `model` with plain BatchNorm (`portable`), and with
    `flip_tta` the mean of its softmax over each image and its mirror, compiled with the
    sparse labels of the dataset whatever loss it trained with. Keras alone loads it."""
    plain = portable(model)
    if not flip_tta:
        plain.compile(optimizer=plain.optimizer, loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return plain
    images = keras.Input((IMAGE_SIZE, IMAGE_SIZE), dtype="uint8", name="image")
    # A fixed anti-diagonal matrix on the width axis mirrors each row exactly (0/1 weights),
    # with a layer that Keras loads without this package.
    mirror = layers.Dense(IMAGE_SIZE, use_bias=False, trainable=False, name="mirror")
    mirrored = mirror(images)
    mirror.set_weights([np.eye(IMAGE_SIZE, dtype="float32")[::-1]])
    mean = layers.Average(name="flip_mean")([plain(images), plain(mirrored)])
    averaged = keras.Model(images, mean, name="fashion_cnn_flip_tta")
    averaged.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return averaged


def build_model(hp, precision="float32", recipe=Recipe()):
    """KerasTuner entry point: sample the search space and build the CNN in `precision`, with
    what `recipe` adds.

    The names are stable: KerasTuner keys saved trials by them. Why each choice, with its
    measurements: docs/design.md. The defaults are `HAND_PICKED`, which every search tries
    first.
    """
    # Fixed, not searched, because they won wherever we measured them (docs/design.md): the
    # trunk, BatchNorm after every conv, and the cosine schedule `TunedCNN.fit` applies.
    return make_cnn(
        # Width of the dense head: capacity of the classifier (reference range).
        units=hp.Int("units", 64, 512, step=32, default=HAND_PICKED["units"]),
        # Dropout after the dense head: the main regulariser (reference range).
        dropout=hp.Float("dropout", 0.1, 0.5, step=0.1,
                         default=HAND_PICKED["dropout"]),
        # Step size; log scale because useful values span two decades.
        learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log",
                               default=HAND_PICKED["learning_rate"]),
        # Update rule (reference choices).
        optimizer=hp.Choice("optimizer", list(OPTIMIZERS), default=HAND_PICKED["optimizer"]),
        stage_convs=(recipe.first_stage_convs, STAGE2_CONVS),
        batch_norm=True,
        **recipe.model_args(),
        precision=precision,
    )


class TunedCNN(kt.HyperModel):
    """What KerasTuner builds and trains per trial: `build_model`'s space, in `precision`,
    trained with a learning rate that decays to zero along a half cosine over the `epochs` that
    `fit` is given, where training ends (+0.6 points of val accuracy over a constant rate at 12
    epochs, at no cost per epoch: docs/results/space-probe/). The final training calls the
    same `build` and `fit`, with its own epochs and recipe.

    Args:
        precision: the dtype policy of the layers.
        recipe: what the training adds (`Recipe`; none for trials).
    """

    def __init__(self, precision="float32", recipe=Recipe()):
        super().__init__(name="fashion_cnn")
        self.precision, self.recipe = precision, recipe

    def build(self, hp):
        # Looked up per build: tests swap it.
        return build_model(hp, precision=self.precision, recipe=self.recipe)

    def fit(self, hp, model, x, y, *args, epochs, batch_size, callbacks=(),
            validation_data=None, **kwargs):
        if self.recipe.label_smoothing:
            y = one_hot(y)
            validation_data = validation_data and (validation_data[0],
                                                   one_hot(validation_data[1]))
        if self.recipe.whiten:
            model.get_layer(WHITENING).set_weights([whitening_filters(x)])
        validation_data = validation_data and batches(*validation_data, batch_size)
        return model.fit(batches(x, y, batch_size, shuffle=True), *args, epochs=epochs,
                         validation_data=validation_data, shuffle=False,  # Done by `batches`.
                         callbacks=[*callbacks, CosineDecay(epochs)], **kwargs)


def search_space():
    """The hyperparameters `build_model` declares, as JSON-able configs."""
    hp = kt.HyperParameters()
    build_model(hp)
    keras.backend.clear_session()
    return [{"class": type(p).__name__, **p.get_config()} for p in hp.space]
