"""Start-up and epoch timing of the benchmark: a plain `fit` against a trial inside KerasTuner,
float32 against mixed_bfloat16."""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STARTUP = ("import sys, time; t = time.perf_counter(); "
           "from fashion_tuning import pipeline; from fashion_tuning.data import load_fashion_mnist; "
           "load_fashion_mnist(sys.argv[1] or None); print(time.perf_counter() - t)")


class EpochTimer:
    """Records the wall time of each epoch (a Keras callback, built lazily)."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._start)

            def __deepcopy__(self, memo):  # KerasTuner deep-copies callbacks: share this one.
                return self

        return _Timer()


def startup_seconds(reps, data_dir=None):
    """Median time to import the package and load + validate the real data, in a new process."""
    times = []
    for _ in range(reps):
        out = subprocess.run([sys.executable, "-c", STARTUP, data_dir or ""],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times), times


def epoch_times(mode, train, val, config, epochs, workdir, precision="float32"):
    """Per-epoch seconds (first epoch dropped: it traces the graph) of the model with
    `make_cnn`'s defaults trained `epochs` epochs, either by plain
    `model.fit` or inside a one-trial KerasTuner search."""
    import keras

    from fashion_tuning.callbacks import trial_callbacks
    from fashion_tuning.hypermodel import make_cnn
    from fashion_tuning.tuner import TrialRunner

    keras.backend.clear_session()
    keras.utils.set_random_seed(1)
    timer = EpochTimer()
    callbacks = trial_callbacks(config) + [timer]
    fit_args = dict(validation_data=val, epochs=epochs, batch_size=config.batch_size, verbose=0)
    if mode == "plain":
        make_cnn(precision=precision).fit(*train, callbacks=callbacks, **fit_args)
    else:
        import keras_tuner as kt

        tuner = TrialRunner(
            seed=1, judged_from_epoch=config.judged_from_epoch,
            trial_epochs=config.trial_epochs, final_epochs=config.final_epochs,
            oracle=kt.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=1,
                                                 seed=1),
            hypermodel=lambda hp: make_cnn(precision=precision),
            directory=workdir,
            project_name=f"t{time.time_ns()}")
        tuner.search(*train, callbacks=callbacks, **fit_args)
    return timer.times[1:]


# name -> (plain fit or inside a tuner, precision)
RUNS = {"plain": ("plain", "float32"), "tuner": ("tuner", "float32"),
        "plain_bf16": ("plain", "mixed_bfloat16")}


def throughput(dataset, config, reps, epochs, runs):
    """Median images/s of each of `runs` (keys of RUNS), interleaved rep by rep so that
    the machine's slow and fast moments fall on every run alike."""
    from fashion_tuning.data import split

    _, train, val = split(dataset, config)
    per_run = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(reps):
            for name in runs:
                mode, precision = RUNS[name]
                per_run[name] += epoch_times(mode, train, val, config, epochs, workdir, precision)
    images = len(train[1])
    return {name: {"images_per_s": images / statistics.median(t), "epoch_s": statistics.median(t),
                   "epochs_timed": len(t), "epoch_s_all": t} for name, t in per_run.items()}
