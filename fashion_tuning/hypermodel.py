"""The KerasTuner search space over the CNN, and how a trial trains (its learning-rate
schedule)."""

import keras
import keras_tuner as kt

from fashion_tuning.callbacks import CosineDecay
from fashion_tuning.config import HAND_PICKED
from fashion_tuning.model import OPTIMIZERS
from fashion_tuning.recipe import Recipe


def build_model(hp, precision="float32", recipe=Recipe()):
    """KerasTuner entry point: sample the search space and build the CNN in `precision`, with
    what `recipe` adds.

    The names are stable: KerasTuner keys saved trials by them. Why each choice, with its
    measurements: docs/design.md. The defaults are `HAND_PICKED`, which every search tries
    first.
    """
    # Fixed, not searched, because they won wherever we measured them (docs/design.md): the
    # trunk, BatchNorm after every conv (`Recipe.model`), and the cosine schedule
    # `TunedCNN.fit` applies.
    return recipe.model({
        # Width of the dense head: capacity of the classifier (reference range).
        "units": hp.Int("units", 64, 512, step=32, default=HAND_PICKED["units"]),
        # Dropout after the dense head: the main regulariser (reference range).
        "dropout": hp.Float("dropout", 0.1, 0.5, step=0.1, default=HAND_PICKED["dropout"]),
        # Step size; log scale because useful values span two decades.
        "learning_rate": hp.Float("learning_rate", 1e-4, 1e-2, sampling="log",
                                  default=HAND_PICKED["learning_rate"]),
        # Update rule (reference choices).
        "optimizer": hp.Choice("optimizer", list(OPTIMIZERS), default=HAND_PICKED["optimizer"]),
    }, precision)


class TunedCNN(kt.HyperModel):
    """What KerasTuner builds and trains per trial: `build_model`'s space, in `precision`,
    trained with a learning rate that decays to zero along a half cosine over the `epochs` that
    `fit` is given, where training ends (docs/design.md, "The model and the search space").
    The final training calls the same `build` and `fit`, with its own epochs and recipe.

    Args:
        precision: the dtype policy of the layers.
        recipe: what the training adds (`Recipe`: its model and its data; none for trials).
    """

    def __init__(self, precision="float32", recipe=Recipe()):
        super().__init__(name="fashion_cnn")
        self.precision, self.recipe = precision, recipe

    def build(self, hp):
        # Looked up per build: tests swap it.
        return build_model(hp, precision=self.precision, recipe=self.recipe)

    def fit(self, hp, model, x, y, *args, epochs, batch_size, callbacks=(),
            validation_data=None, **kwargs):
        data, steps, validation_data = self.recipe.fit_data(model, x, y, validation_data,
                                                            batch_size, epochs)
        return model.fit(data, *args, epochs=epochs, steps_per_epoch=steps,
                         validation_data=validation_data, shuffle=False,  # Done by the data.
                         callbacks=[*callbacks, CosineDecay(epochs)], **kwargs)


def space_hyperparameters():
    """The hyperparameters `build_model` declares, as KerasTuner's `HyperParameters` (at their
    defaults), the model it built to declare them cleared away."""
    hp = kt.HyperParameters()
    build_model(hp)
    keras.backend.clear_session()
    return hp


def search_space():
    """The hyperparameters `build_model` declares, as JSON-able configs."""
    return [{"class": type(p).__name__, **p.get_config()} for p in space_hyperparameters().space]
