"""The CNN: a plain builder with explicit arguments, made of pieces (the input, a stage of convs,
the trunk, the classifier, the compiled model) that build other models of this family too."""

import keras
import tensorflow as tf
from keras import layers

from fashion_tuning.config import HAND_PICKED
from fashion_tuning.data import NUM_CLASSES
from fashion_tuning.idx import IMAGE_SIZE
from fashion_tuning.recipe import Recipe

OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}

# The trunk: `FILTERS` at 28x28 (one conv, two with the `wide` recipe), then STAGE2_CONVS
# convs of twice as many at 14x14. Fixed, not searched: 3-epoch trials rank cheaper trunks
# too high (docs/design.md, "Why the trunk is not searched").
FILTERS = 32
STAGE2_CONVS = 2


class FusedBatchNorm(layers.BatchNormalization):
    """Keras' BatchNormalization, trained with TensorFlow's fused kernel.

    Keras 3 normalises a training batch in separate ops (moments, then scale and shift, and
    their gradients); TensorFlow's fused kernel does each in one pass, which trains faster
    (docs/results/fused-bn/). Inference is the parent's, so the model `export.portable` makes
    from this one predicts the same.
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


def image_input(policy):
    """The model's input, raw uint8 images (N, 28, 28), and those images rescaled to [0, 1]
    with a channel axis, in `policy` (a `keras.DTypePolicy`)."""
    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE), dtype="uint8", name="image")
    x = layers.Rescaling(1 / 255, dtype=policy)(inputs)
    return inputs, layers.Reshape((IMAGE_SIZE, IMAGE_SIZE, 1), dtype=policy)(x)


def stage(x, width, kernels, policy):
    """`x` through one same-padded conv of `width` filters per kernel size in `kernels`, each
    followed by BatchNormalization (the conv then has no bias) and ReLU."""
    for kernel in kernels:
        x = layers.Conv2D(width, kernel, padding="same", use_bias=False, dtype=policy)(x)
        # Momentum 0.9 (PyTorch's), not Keras' 0.99: the moving statistics that inference uses
        # then settle within tens of batches, not hundreds, which a short run (--quick) would
        # not reach.
        x = FusedBatchNorm(momentum=0.9, dtype=policy)(x)
        x = layers.Activation("relu", dtype=policy)(x)
    return x


def trunk(x, filters, kernels, policy):
    """Two `stage`s, of `filters` and of twice as many filters, the kernel sizes of stage i's
    convs `kernels[i]`, each stage ending in a 2x2 max-pool that halves the resolution
    (28 -> 14 -> 7); a third stage, down to 3x3, scored no higher (docs/results/space-probe/)."""
    for width, stage_kernels in zip((filters, 2 * filters), kernels, strict=True):
        x = layers.MaxPooling2D(dtype=policy)(stage(x, width, stage_kernels, policy))
    return x


def classifier(x, units, dropout, policy):
    """The head on the trunk's features `x`: a dense ReLU layer of `units`, dropout, and the
    softmax over the classes (in float32 under any policy, for a stable loss)."""
    x = layers.Dense(units, activation="relu", dtype=policy)(x)
    x = layers.Dropout(dropout, dtype=policy)(x)
    return layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32")(x)


def compiled(inputs, outputs, update_rule, loss, policy):
    """The model from `inputs` to `outputs`, compiled with `update_rule` (an optimizer) and
    `loss`, scored by accuracy."""
    model = keras.Model(inputs, outputs, name="fashion_cnn")
    if policy.name == "mixed_float16":
        # Keras scales the loss only when the *model's* policy is mixed_float16, which a
        # functional model takes from the global policy; we set none, so scale here.
        update_rule = keras.optimizers.LossScaleOptimizer(update_rule)
    model.compile(optimizer=update_rule, loss=loss, metrics=["accuracy"])
    return model


def make_cnn(units=HAND_PICKED["units"], dropout=HAND_PICKED["dropout"],
             learning_rate=HAND_PICKED["learning_rate"], optimizer=HAND_PICKED["optimizer"],
             filters=FILTERS, stage_convs=(Recipe.first_stage_convs, STAGE2_CONVS),
             flip=False, precision="float32"):
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
        flip: mirror each training image left-right at random (a layer active in training
            only).
        precision: Keras dtype policy of every layer but the softmax, e.g. "float32" or
            "mixed_bfloat16". It is given to each layer, not set globally: Keras'
            `clear_session()`, which KerasTuner calls before every build, resets a global one.

    Returns:
        A compiled `keras.Model` with output shape (None, 10) (softmax).
    """
    policy = keras.DTypePolicy(precision)
    inputs, x = image_input(policy)
    if flip:
        x = layers.RandomFlip("horizontal", dtype=policy)(x)
    x = trunk(x, filters, [(3,) * convs for convs in stage_convs], policy)
    outputs = classifier(layers.Flatten(dtype=policy)(x), units, dropout, policy)
    return compiled(inputs, outputs, OPTIMIZERS[optimizer](learning_rate=learning_rate),
                    "sparse_categorical_crossentropy", policy)
