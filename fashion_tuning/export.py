"""The model that is evaluated and saved: Keras' own layers only, with what the recipe adds to
prediction."""

import keras
import numpy as np
from keras import layers

from fashion_tuning.idx import IMAGE_SIZE
from fashion_tuning.model import FusedBatchNorm


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
