"""--precision: what `auto` picks, and that the policy reaches every model, saved ones too;
the code version a summary records."""

import keras
import numpy as np
import pytest

from fashion_tuning import environment, hypermodel
from fashion_tuning.model import make_cnn
from fashion_tuning.results import setting
from helpers import read_summary, reload_accuracy, tiny_args


@pytest.mark.parametrize("flags, gpus, requested, expected", [
    ("fpu sse avx512f avx512_bf16", [], "auto", "mixed_bfloat16"),
    ("fpu sse amx_bf16", [], "auto", "mixed_bfloat16"),
    ("fpu sse avx2 avx512f", [], "auto", "float32"),  # No native BF16: emulated, slower.
    ("", [], "auto", "float32"),  # No flags known (Windows, Apple silicon).
    ("avx512_bf16", [(9, 0)], "auto", "mixed_float16"),  # The GPU trains, with tensor cores.
    ("", [(7, 0), (6, 1)], "auto", "mixed_float16"),  # The first GPU is the one Keras uses.
    ("avx512_bf16", [(6, 1)], "auto", "float32"),  # Before Volta: no float16 tensor cores.
    ("", [None], "auto", "float32"),  # A GPU that does not say (not CUDA).
    ("avx512_bf16", [], "float32", "float32"),  # An explicit choice is kept.
    ("", [(9, 0)], "mixed_bfloat16", "mixed_bfloat16"),
])
def test_auto_precision_follows_the_hardware_that_trains(monkeypatch, flags, gpus, requested,
                                                         expected):
    monkeypatch.setattr(environment.system, "cpu_flags", lambda: set(flags.split()))
    devices = [f"GPU:{i}" for i in range(len(gpus))]
    monkeypatch.setattr(environment.tf.config, "list_physical_devices", lambda kind=None: devices)
    monkeypatch.setattr(environment.tf.config.experimental, "get_device_details", lambda device: (
        {} if gpus[devices.index(device)] is None
        else {"compute_capability": gpus[devices.index(device)]}))
    assert environment.resolve_precision(requested) == expected


def test_mixed_bfloat16_model_keeps_float32_weights_and_outputs_and_no_global_policy():
    model = make_cnn(precision="mixed_bfloat16")
    assert keras.mixed_precision.global_policy().name == "float32"  # Nothing set globally.
    assert first_conv(model).dtype_policy.compute_dtype == "bfloat16"
    assert model.layers[-1].dtype_policy.compute_dtype == "float32"  # Stable softmax.
    assert all(w.dtype == "float32" for w in model.trainable_weights)
    out = model.predict(np.zeros((2, 28, 28), np.uint8), verbose=0)
    assert out.dtype == np.float32 and np.allclose(out.sum(axis=1), 1, atol=1e-3)


def test_mixed_float16_model_scales_its_loss():
    model = make_cnn(precision="mixed_float16")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert not isinstance(make_cnn().optimizer, keras.optimizers.LossScaleOptimizer)


def first_conv(model):
    """The first Conv2D of `model`, also inside a nested model (the flip-averaging one)."""
    return next(layer for layer in model._flatten_layers()
                if isinstance(layer, keras.layers.Conv2D))


@pytest.mark.slow
def test_precision_reaches_every_trial_and_the_saved_model(tiny_data, tmp_path, monkeypatch,
                                                           run_in_process):
    # KerasTuner clears the Keras session before each trial's build, and clearing resets the
    # global dtype policy: a policy set once before the search silently trained in float32.
    policies, real = [], hypermodel.build_model

    def recording(hp, **kwargs):
        model = real(hp, **kwargs)
        policies.append(first_conv(model).dtype_policy.name)
        return model

    monkeypatch.setattr(hypermodel, "build_model", recording)
    proc = run_in_process(*tiny_args(tiny_data, tmp_path, "--precision", "mixed_bfloat16",
                                     "--final-recipe", "flip-tta", trials=1))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert policies[-2:] == ["mixed_bfloat16"] * 2  # The trial, then the final training.
    assert keras.mixed_precision.global_policy().name == "float32"
    folder = tmp_path / "random_search"
    saved = keras.saving.load_model(folder / "final_model.keras")
    assert first_conv(saved).dtype_policy.name == "mixed_bfloat16"
    # Keras alone, in a fresh process, loads the mixed-precision, flip-averaged model, and it
    # scores what the summary says.
    summary = read_summary(folder)
    assert summary["precision_used"] == "mixed_bfloat16"
    assert setting(summary, "final_recipe")["flip_tta"] is True
    assert reload_accuracy(folder / "final_model.keras", tiny_data) == pytest.approx(
        summary["test_accuracy"], abs=1e-6)


def test_code_version_is_the_package_version_outside_a_git_checkout(monkeypatch):
    import subprocess as sp

    import fashion_tuning

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(sp, "run", no_git)
    assert environment.code_version() == {"package_version": fashion_tuning.__version__}
