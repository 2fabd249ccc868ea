"""The CNN builds and compiles at the corners of the search space."""

import itertools

import keras_tuner as kt
import numpy as np
import pytest

from fashion_tuning.hypermodel import build_model, make_cnn


def test_build_model_with_empty_hyperparameters():
    hp = kt.HyperParameters()
    model = build_model(hp)
    assert model.output_shape == (None, 10)
    assert set(hp.values) == {"units", "dropout", "learning_rate", "optimizer"}


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


@pytest.mark.parametrize("units, dropout, learning_rate, optimizer", itertools.product(
    (64, 512), (0.1, 0.5), (1e-4, 1e-2), ("adam", "rmsprop")))
def test_corners_build_compile_and_predict(units, dropout, learning_rate, optimizer):
    model = make_cnn(units, dropout, learning_rate, optimizer)
    assert model.output_shape == (None, 10)
    assert model.optimizer.__class__.__name__.lower() == optimizer
    assert np.isclose(float(model.optimizer.learning_rate), learning_rate)
    probs = model.predict(np.zeros((2, 28, 28), np.uint8), verbose=0)
    assert probs.shape == (2, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("flags, gpus, requested, expected", [
    ("fpu sse avx512f avx512_bf16", [], "auto", "mixed_bfloat16"),
    ("fpu sse amx_bf16", [], "auto", "mixed_bfloat16"),
    ("fpu sse avx2 avx512f", [], "auto", "float32"),  # No native BF16: emulated, slower.
    ("", [], "auto", "float32"),  # No /proc/cpuinfo (macOS).
    ("avx512_bf16", ["GPU:0"], "auto", "float32"),
    ("avx512_bf16", [], "float32", "float32"),  # An explicit choice is kept.
    ("", [], "mixed_bfloat16", "mixed_bfloat16"),
])
def test_auto_precision_uses_bf16_only_on_cpus_with_native_bf16(monkeypatch, flags, gpus,
                                                                 requested, expected):
    from fashion_tuning import search

    monkeypatch.setattr(search, "_cpuinfo", lambda key: flags if key == "flags" else "")
    monkeypatch.setattr(search.tf.config, "list_physical_devices", lambda kind=None: gpus)
    assert search.resolve_precision(requested) == expected


def test_mixed_bfloat16_model_keeps_float32_weights_and_outputs():
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = make_cnn()
        assert model.layers[-1].dtype_policy.compute_dtype == "float32"  # Stable softmax.
        assert all(w.dtype == "float32" for w in model.trainable_weights)
        out = model.predict(np.zeros((2, 28, 28), np.uint8), verbose=0)
        assert out.dtype == np.float32 and np.allclose(out.sum(axis=1), 1, atol=1e-3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
