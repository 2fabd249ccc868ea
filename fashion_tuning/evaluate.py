"""Test-set metrics of a trained model: loss, accuracy, per-class accuracy, confusion matrix."""

import math

import numpy as np

from fashion_tuning.data import CLASS_NAMES, NUM_CLASSES


def class_metrics(y_true, y_pred):
    """Per-class accuracy (`{class name: share of that class predicted right}`, None for a
    class with no image) and the confusion matrix (a list of rows: true class by predicted
    class)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    confusion = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=int)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = {name: float(confusion[c, c] / confusion[c].sum()) if confusion[c].sum()
                 else None for c, name in enumerate(CLASS_NAMES)}
    return per_class, confusion.tolist()


def evaluate(model, test, batch_size, callbacks=()):
    """Evaluate `model` on `test` = (images, labels).

    Returns:
        A dict with `test_loss` (None if not finite: a diverged model), `test_accuracy`,
        `per_class_accuracy`, `confusion_matrix`.
    """
    from fashion_tuning.batches import batches  # Deferred: TensorFlow.

    y, data = test[1], batches(*test, batch_size)
    callbacks = list(callbacks)
    test_loss, test_accuracy = model.evaluate(data, callbacks=callbacks, verbose=0)
    predicted = model.predict(data, callbacks=callbacks, verbose=0).argmax(axis=1)
    per_class, confusion = class_metrics(y, predicted)
    return {"test_loss": float(test_loss) if math.isfinite(test_loss) else None,
            "test_accuracy": float(test_accuracy),
            "per_class_accuracy": per_class, "confusion_matrix": confusion}
