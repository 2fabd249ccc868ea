"""Search, retrain the best configuration on all training images, evaluate on the test set."""

import json
import os
import platform
import resource
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from fashion_tuning import data as data_module
from fashion_tuning import distributed, interrupt
from fashion_tuning.config import OBJECTIVE, STRATEGIES, Config, fields_for
from fashion_tuning.errors import NoCompletedTrial
from fashion_tuning.hypermodel import build_model
from fashion_tuning.report import SUMMARY_FILE, atomic_write_text

RUN_FILE = "run.json"  # Our per-trial side file (epochs run, seconds) next to trial.json.
MODEL_FILE = "best_model.keras"


@dataclass
class TrialRecord:
    """One trial as reported: KerasTuner's state plus our timing."""

    trial_id: str
    status: str
    hyperparameters: dict
    val_accuracy: float
    epochs_run: int
    best_epoch: int
    seconds: float
    peak_rss_mb: float = None
    worker: str = None  # KerasTuner's tuner id of the process that ran the trial.
    message: str = ""
    history: dict = field(default_factory=dict)  # Per-epoch loss, val_accuracy, learning_rate...


@dataclass
class RunResult:
    """Everything a finished run reports; `summary.json` is `asdict()` of it."""

    strategy: str
    max_trials: int
    epochs: int
    batch_size: int
    patience: int
    seed: int
    val_fraction: float
    precision: str
    train_limit: int
    data_source: str
    train_images: int
    val_images: int
    best_trial_id: str
    best_hyperparameters: dict
    best_val_accuracy: float
    retrain_epochs: int
    test_accuracy: float
    test_loss: float
    per_class_accuracy: dict
    confusion_matrix: list
    search_seconds: float
    retrain_seconds: float
    total_seconds: float
    versions: dict
    machine: dict
    trials: list = field(default_factory=list)
    oracle: dict = field(default_factory=dict)

    def to_dict(self):
        return asdict(self)


class StopOnSignal(keras.callbacks.Callback):
    """Lets Ctrl-C/SIGTERM stop Keras at the next batch end, as `interrupt.Interrupted`."""

    def on_train_begin(self, logs=None):
        interrupt.enter_keras()

    def on_train_end(self, logs=None):
        interrupt.leave_keras()

    on_test_begin = on_predict_begin = on_train_begin
    on_test_end = on_predict_end = on_train_end

    def on_train_batch_end(self, batch, logs=None):
        interrupt.check()

    on_test_batch_end = on_predict_batch_end = on_train_batch_end


class CNNTuner(kt.Tuner):
    """`kt.Tuner` that seeds each trial, times it and fails trials whose loss is not finite."""

    def __init__(self, seed, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed

    def run_trial(self, trial, *args, **kwargs):
        keras.backend.clear_session()  # Keep ten trials from piling up graphs.
        # Seed per trial so a resumed search re-runs a trial exactly as before.
        keras.utils.set_random_seed(self.seed + int(trial.trial_id))
        start = time.perf_counter()
        histories = super().run_trial(trial, *args, **kwargs)
        history = histories[0].history
        run = {"epochs_run": len(history["loss"]), "seconds": time.perf_counter() - start,
               "worker": distributed.tuner_id(),
               # Peak resident memory of the process so far: flat across trials, or a leak.
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               # Per-epoch curves, for reports and plots.
               "history": {k: [float(v) for v in vs] for k, vs in history.items()}}
        atomic_write_text(Path(self.get_trial_dir(trial.trial_id)) / RUN_FILE, json.dumps(run))
        bad = [i for i, v in enumerate(history["loss"]) if not np.isfinite(v)]
        if bad:
            # FailedTrialError makes KerasTuner mark the trial FAILED (no retry),
            # instead of COMPLETED with a meaningless val_accuracy.
            raise kt.errors.FailedTrialError(f"loss became non-finite in epoch {bad[0] + 1}")
        return histories


def oracle_args(strategy, config):
    """The strategy-specific oracle arguments that come from flags."""
    return {f.metadata["oracle_arg"]: getattr(config, f.name)
            for f in fields_for(strategy) if "oracle_arg" in f.metadata}


def make_oracle(strategy, config):
    """The KerasTuner oracle of `strategy`, configured from `config`."""
    oracle_class = getattr(kt.oracles, STRATEGIES[strategy])
    return oracle_class(
        objective=kt.Objective(OBJECTIVE, direction="max"),
        max_trials=config.max_trials,
        seed=config.seed,
        # Every trial gets its chance: KerasTuner raises RuntimeError once this many fail
        # in a row (default 3); we report failed trials and exit 1 if none completed.
        max_consecutive_failed_trials=config.max_trials + 1,
        **oracle_args(strategy, config),
    )


def build_under(policy, builder=None):
    """`builder(hp)` (default: `build_model`) that first sets Keras' dtype `policy`.

    The policy must be set at every build: `keras.backend.clear_session()`, which KerasTuner
    calls before building each trial's model and we call before the retrain, resets it to
    float32, so a policy set once before the search would reach no model.
    """
    def build(hp):
        keras.mixed_precision.set_global_policy(policy)
        return (builder or build_model)(hp)
    return build


def make_tuner(strategy, config, build):
    """Create, or reload where one was saved, the tuner in `results_dir/strategy`;
    `build` makes each trial's model (see `build_under`)."""
    return CNNTuner(
        seed=config.seed,
        oracle=make_oracle(strategy, config),
        hypermodel=build,
        directory=config.results_dir,
        project_name=strategy,
        overwrite=False,  # --overwrite is done by the CLI, which keeps its folder lock.
    )


def search_space():
    """The hyperparameters `build_model` declares, as JSON-able configs."""
    hp = kt.HyperParameters()
    build_model(hp)
    keras.backend.clear_session()
    return [{"class": type(p).__name__, **p.get_config()} for p in hp.space]


def split(dataset, config):
    """The (optionally limited) training pool and its stratified train/validation split."""
    x, y = data_module.subset(dataset.x_train, dataset.y_train, config.train_limit, config.seed)
    train_idx, val_idx = data_module.stratified_split(y, config.val_fraction, config.seed)
    return (x, y), (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])


def search_callbacks(config):
    """Callbacks of every trial (KerasTuner deep-copies them per trial)."""
    return [
        keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=config.patience, restore_best_weights=True),
        keras.callbacks.TerminateOnNaN(),
        StopOnSignal(),
    ] + ([keras.callbacks.TensorBoard(log_dir=config.tensorboard_dir)]
         if config.tensorboard_dir else [])  # KerasTuner adds per-trial dirs and HParams.


def trial_records(tuner):
    """`TrialRecord`s of every trial KerasTuner knows, in trial-id order."""
    records = []
    for trial_id, trial in sorted(tuner.oracle.trials.items(), key=lambda kv: int(kv[0])):
        run_file = Path(tuner.project_dir) / f"trial_{trial_id}" / RUN_FILE
        run = json.loads(run_file.read_text()) if run_file.is_file() else {}
        score = trial.score if trial.status == "COMPLETED" else None
        records.append(TrialRecord(
            trial_id=trial_id,
            status=trial.status.lower(),
            hyperparameters=dict(trial.hyperparameters.values),
            val_accuracy=None if score is None else float(score),
            epochs_run=run.get("epochs_run"),
            best_epoch=None if trial.best_step is None else int(trial.best_step) + 1,
            seconds=run.get("seconds"),
            peak_rss_mb=run.get("peak_rss_mb"),
            worker=run.get("worker"),
            message=(trial.message or "").strip().splitlines()[-1] if trial.message else "",
            history=run.get("history", {}),
        ))
    return records


def best_completed(records):
    """The completed trial with the highest val_accuracy (first one on ties), or None."""
    completed = [r for r in records if r.status == "completed"]
    return max(completed, key=lambda r: r.val_accuracy, default=None)


def retrain_and_evaluate(hyperparameters, epochs, train, test, config, model_path, build):
    """Train the best configuration on all training images and evaluate it on the test set;
    `build` makes the model (see `build_under`).

    Returns:
        A dict of the `RunResult` fields it decides (`RETRAIN_FIELDS`); the confusion
        matrix is a list of rows, true class by predicted class.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    hp = kt.HyperParameters()
    hp.values.update(hyperparameters)
    start = time.perf_counter()
    model = build(hp)
    stop = [StopOnSignal()]
    model.fit(*train, epochs=epochs, batch_size=config.batch_size, callbacks=stop, verbose=2)
    seconds = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(*test, batch_size=config.batch_size,
                                              callbacks=stop, verbose=0)
    predicted = model.predict(test[0], batch_size=config.batch_size, callbacks=stop,
                              verbose=0).argmax(axis=1)
    per_class = {
        name: float(np.mean(predicted[test[1] == c] == c))
        for c, name in enumerate(data_module.CLASS_NAMES)
    }
    confusion = np.zeros((data_module.NUM_CLASSES,) * 2, dtype=int)
    np.add.at(confusion, (test[1], predicted), 1)
    tmp = model_path.with_name(".tmp-" + model_path.name)
    model.save(tmp)
    os.replace(tmp, model_path)
    return {"retrain_epochs": epochs, "test_loss": float(test_loss),
            "test_accuracy": float(test_accuracy), "per_class_accuracy": per_class,
            "confusion_matrix": confusion.tolist(), "retrain_seconds": round(seconds, 1)}


RETRAIN_FIELDS = ("retrain_epochs", "test_loss", "test_accuracy", "per_class_accuracy",
                  "confusion_matrix", "retrain_seconds")


def finished_retrain(folder, best, records):
    """The retrain fields of an earlier run of this very search, or None if it must be done.

    It counts as done when summary.json and the model exist and the summary holds the
    same trials (ids and statuses) and the same best trial as the search now.
    """
    summary_path = Path(folder) / SUMMARY_FILE
    if not (summary_path.is_file() and (Path(folder) / MODEL_FILE).is_file()):
        return None
    summary = json.loads(summary_path.read_text())
    same_trials = [(t["trial_id"], t["status"]) for t in summary["trials"]] == [
        (r.trial_id, r.status) for r in records]
    if not same_trials or summary["best_trial_id"] != best.trial_id:
        return None
    return {k: summary[k] for k in RETRAIN_FIELDS}


def run(strategy, config: Config, dataset, log=print):
    """Search, retrain and evaluate; write the model; return a `RunResult`
    (None in a distributed worker, which only runs trials).

    Args:
        strategy: a key of `STRATEGIES`.
        config: the run's settings.
        dataset: a validated `data.Dataset`.
        log: where progress lines go.
    """
    precision = resolve_precision(config.precision)
    log(f"Precision: {precision}")
    build = build_under(precision)
    pool, train, val = split(dataset, config)
    tuner = make_tuner(strategy, config, build)
    tuner.search(
        *train,
        validation_data=val,
        epochs=config.epochs,
        batch_size=config.batch_size,
        callbacks=search_callbacks(config),
        verbose=2,
    )
    if distributed.role() == "worker":
        return None  # The chief, which holds every trial, retrains and reports.
    records = trial_records(tuner)
    best = best_completed(records)
    if best is None:
        raise NoCompletedTrial(f"none of the {len(records)} trials completed")
    retrain = finished_retrain(tuner.project_dir, best, records)
    if retrain:
        log(f"The search and the retrain had finished: reporting the saved result "
            f"(test accuracy {retrain['test_accuracy']:.4f})")
    else:
        log(f"Best trial {best.trial_id}: val_accuracy {best.val_accuracy:.4f} at epoch "
            f"{best.best_epoch}; retraining on all {len(pool[1]):,} training images "
            f"for {best.best_epoch} epochs")
        retrain = retrain_and_evaluate(
            best.hyperparameters, best.best_epoch, pool,
            (dataset.x_test, dataset.y_test), config, Path(tuner.project_dir) / MODEL_FILE,
            build)
    search_seconds = sum(r.seconds or 0 for r in records)
    return RunResult(
        strategy=strategy,
        max_trials=config.max_trials,
        epochs=config.epochs,
        batch_size=config.batch_size,
        patience=config.patience,
        seed=config.seed,
        val_fraction=config.val_fraction,
        precision=precision,
        train_limit=config.train_limit,
        data_source=dataset.source,
        train_images=len(train[1]),
        val_images=len(val[1]),
        best_trial_id=best.trial_id,
        best_hyperparameters=best.hyperparameters,
        best_val_accuracy=best.val_accuracy,
        search_seconds=round(search_seconds, 1),
        total_seconds=round(search_seconds + retrain["retrain_seconds"], 1),
        **retrain,
        versions=versions(),
        machine=machine(),
        trials=[asdict(r) for r in records],
        oracle={"class": STRATEGIES[strategy], **oracle_args(strategy, config)},
    )


def versions():
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_tuner": kt.__version__,
        "numpy": np.__version__,
    }


def _cpuinfo(key):
    """The first `key` line of /proc/cpuinfo ("" where there is none, e.g. on macOS)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def machine():
    """CPU model and core count, recorded with every result."""
    return {"cpu": _cpuinfo("model name") or platform.processor() or platform.machine(),
            "cores": os.cpu_count(), "gpus": len(tf.config.list_physical_devices("GPU"))}


def resolve_precision(precision):
    """The Keras dtype policy for `--precision` ("auto" decided by the hardware)."""
    if precision != "auto":
        return precision
    native_bf16 = {"avx512_bf16", "amx_bf16"} & set(_cpuinfo("flags").split())
    if native_bf16 and not tf.config.list_physical_devices("GPU"):
        return "mixed_bfloat16"
    return "float32"
