"""The CNN: a plain builder with explicit arguments, and the KerasTuner search space over it."""

import keras
from keras import layers

from fashion_tuning.data import NUM_CLASSES
from fashion_tuning.idx import IMAGE_SIZE

OPTIMIZERS = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}


def make_cnn(units=256, dropout=0.3, learning_rate=1e-3, optimizer="adam", filters=32,
             precision="float32"):
    """Build and compile the CNN.

    Takes raw uint8 images (N, 28, 28) and rescales inside the model, so the saved
    model is used exactly like the dataset: `model.predict(x_test)`.

    Args:
        units: width of the dense layer before the classifier.
        dropout: dropout rate after that dense layer.
        learning_rate: initial learning rate of the optimizer.
        optimizer: "adam" or "rmsprop".
        filters: filters of the first conv layer; later layers use 2x.
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
    # Three same-padded 3x3 conv stages, each halving the resolution
    # (28 -> 14 -> 7 -> 3): BatchNorm-free, since on a 2-core CPU it costs
    # ~40 % of the step time for no gain at this depth.
    for width in (filters, 2 * filters, 2 * filters):
        x = layers.Conv2D(width, 3, padding="same", activation="relu", dtype=policy)(x)
        x = layers.MaxPooling2D(dtype=policy)(x)
    x = layers.Flatten(dtype=policy)(x)
    x = layers.Dense(units, activation="relu", dtype=policy)(x)
    x = layers.Dropout(dropout, dtype=policy)(x)
    # float32 softmax even under a mixed-precision policy, for a stable loss.
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="fashion_cnn")
    update_rule = OPTIMIZERS[optimizer](learning_rate=learning_rate)
    if policy.name == "mixed_float16":
        # Keras scales the loss only when the *model's* policy is mixed_float16, which a
        # functional model takes from the global policy; we set none, so scale here.
        update_rule = keras.optimizers.LossScaleOptimizer(update_rule)
    model.compile(optimizer=update_rule, loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def build_model(hp, precision="float32"):
    """KerasTuner entry point: sample the search space and build the CNN in `precision`.

    The names are stable: KerasTuner keys saved trials by them.
    """
    return make_cnn(
        # Width of the dense head: capacity of the classifier (reference range).
        units=hp.Int("units", 64, 512, step=32),
        # Dropout after the dense head: the main regulariser (reference range).
        dropout=hp.Float("dropout", 0.1, 0.5, step=0.1),
        # Step size; log scale because useful values span two decades.
        learning_rate=hp.Float("learning_rate", 1e-4, 1e-2, sampling="log"),
        # Update rule (reference choices).
        optimizer=hp.Choice("optimizer", list(OPTIMIZERS)),
        precision=precision,
    )


def search_space():
    """The hyperparameters `build_model` declares, as JSON-able configs."""
    import keras_tuner as kt

    hp = kt.HyperParameters()
    build_model(hp)
    keras.backend.clear_session()
    return [{"class": type(p).__name__, **p.get_config()} for p in hp.space]
