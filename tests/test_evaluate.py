"""Test-set metrics from known predictions, and atomic writes that fail cleanly."""

import numpy as np
import pytest

from fashion_tuning import atomic
from fashion_tuning.data import CLASS_NAMES
from fashion_tuning.evaluate import class_metrics, evaluate


def test_class_metrics_count_each_true_class_by_prediction():
    y_true = [0, 0, 0, 0, 1, 1, 9]
    y_pred = [0, 0, 0, 1, 1, 0, 9]
    per_class, confusion = class_metrics(y_true, y_pred)
    assert per_class["T-shirt/top"] == 0.75 and per_class["Trouser"] == 0.5
    assert per_class["Ankle boot"] == 1.0
    assert per_class["Bag"] is None  # No test image of that class: no accuracy, JSON null.
    assert confusion[0][:2] == [3, 1] and confusion[1][:2] == [1, 1] and confusion[9][9] == 1
    assert sum(map(sum, confusion)) == len(y_true)


def test_evaluate_agrees_with_the_models_own_predictions():
    import keras

    from fashion_tuning.model import make_cnn

    keras.utils.set_random_seed(3)
    model = make_cnn()  # Untrained: its predictions are arbitrary but fixed.
    x = np.random.default_rng(0).integers(0, 255, (40, 28, 28), dtype=np.uint8)
    y = np.arange(40) % 10
    metrics = evaluate(model, (x, y), batch_size=16)
    predicted = model.predict(x, verbose=0).argmax(axis=1)
    assert metrics["test_accuracy"] == pytest.approx(np.mean(predicted == y))
    assert set(metrics["per_class_accuracy"]) == set(CLASS_NAMES)
    assert np.trace(metrics["confusion_matrix"]) == np.sum(predicted == y)


def test_a_failed_atomic_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "summary.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.replacing(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]
    atomic.write_json(target, {"a": 1})
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


@pytest.mark.parametrize("number", [float("nan"), float("inf")])
def test_json_is_written_strict_or_not_at_all(tmp_path, number):
    with pytest.raises(ValueError):
        atomic.write_json(tmp_path / "study.json", {"mean": number})
    assert list(tmp_path.iterdir()) == []
