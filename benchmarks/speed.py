"""Start-up and epoch timing of the benchmark: the product's trial trained alone against inside
KerasTuner's search, float32 against mixed_bfloat16."""

import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, epoch_clock

STARTUP = ("import sys, time; t = time.perf_counter(); from fashion_tuning import pipeline; "
           "from fashion_tuning.data import load_fashion_mnist; "
           "load_fashion_mnist(sys.argv[1] or None); print(time.perf_counter() - t)")


def startup_seconds(reps, data_dir=None):
    """Median time to import the package and load + validate the real data, in a new process."""
    times = []
    for _ in range(reps):
        out = subprocess.run([sys.executable, "-c", STARTUP, data_dir or ""],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times), times


def epoch_times(mode, train, val, config, epochs, workdir, precision="float32"):
    """Per-epoch seconds (first epoch dropped: it traces the graph) of the trial that every
    search runs first, the hand-picked configuration as `hypermodel.TunedCNN` trains it (its
    batches and cosine schedule, over `epochs` epochs), either trained alone
    (`final_training.train_configuration`) or as the one trial of the product's search
    (`tuner.make_tuner`), with the trials' callbacks."""
    from fashion_tuning.callbacks import trial_callbacks
    from fashion_tuning.config import HAND_PICKED

    clock = []
    callbacks = trial_callbacks(config) + [epoch_clock(clock)]
    if mode == "plain":
        from fashion_tuning.final_training import train_configuration

        train_configuration(HAND_PICKED, config.seed, epochs, train, config.batch_size,
                            precision, callbacks=callbacks, validation_data=val, verbose=0)
    else:
        from fashion_tuning import tuner
        from fashion_tuning.hypermodel import TunedCNN

        one_trial = dataclasses.replace(config, max_trials=1, trial_epochs=epochs)
        folder = Path(workdir) / f"t{time.time_ns()}" / "random_search"
        tuner.make_tuner("random_search", one_trial, folder, TunedCNN(precision), "single",
                         "tuner0").search(
            *train, validation_data=val, epochs=epochs, batch_size=config.batch_size,
            callbacks=callbacks, verbose=0)
    return [wall for wall, _ in clock[1:]]


# name -> (trained alone or inside a tuner, precision)
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
