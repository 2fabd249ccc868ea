"""One run from start to end: check the folder and the data, prepare the folder, search, pick
the trial to train, train it on all training images, evaluate it on the test set, write the
results."""

import contextlib
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from fashion_tuning import (data, distributed, recorded_search, report, results, results_folder,
                            trials)
from fashion_tuning.config import STRATEGIES, Config
from fashion_tuning.errors import FRESH_START, NoCompletedTrial, UserError
from fashion_tuning.trial_log import elapsed_search_seconds, trial_logs


def run(strategy, config: Config, role, tuner_id, invocation, started, quiet_tensorflow=True,
        say=print):
    """The steps of one run of `strategy`, in order. Raises `UserError` for what a user can
    fix, `interrupt.Interrupted` on a signal, `NoCompletedTrial` if no trial completed.

    A distributed worker (`role` "worker") shares the chief's folder: it neither locks nor
    prepares it, and it only runs trials; the chief trains the final model and writes the
    results once all workers are done.

    Args:
        strategy: a key of `STRATEGIES`.
        config: the run's settings.
        role: "single", "chief" or "worker" (`distributed.role`).
        tuner_id: this process's KerasTuner id (`distributed.tuner_id`).
        invocation: how this run was started, for the summary: `started_at`, `command_line`,
            `arguments`.
        started: `time.perf_counter()` at the start, for the "ready after" line.
        quiet_tensorflow: hide what TensorFlow's C++ code prints while it is imported.
        say: where progress lines go.
    """
    folder = config.strategy_folder(strategy)
    owner = role != "worker"
    # What needs no TensorFlow is checked first, and --overwrite clears only after it passed.
    results_folder.check_writable(folder)
    if config.tensorboard_dir:  # Else each trial's log writer would fail, mid-search.
        results_folder.check_writable(config.tensorboard_dir, "--tensorboard-dir",
                                      "TensorBoard logs")
    dataset = data.load_fashion_mnist(config.data_dir)
    with results_folder.lock(folder) if owner else contextlib.nullcontext():
        if owner:
            recorded_search.prepare(folder, config.overwrite)
        with _native_stderr_silenced(quiet_tensorflow):
            from fashion_tuning import environment, hypermodel

            environment.grow_gpu_memory()  # Before the first TF op: workers share a GPU.
            space = hypermodel.search_space()  # The first TF op, which probes for a GPU.
        # The code as this invocation started: a commit made during a long run is not it.
        invocation = {**invocation, "code_version": environment.code_version()}
        recorded_search.check_or_record_settings(
            folder, recorded_search.fixed_settings(config, space, dataset.fingerprint(),
                                                  distributed=role != "single"),
            config.overwrite, record=owner)
        say(f"Data: {dataset.source} ({len(dataset.y_train):,} train / "
            f"{len(dataset.y_test):,} test images); ready after "
            f"{time.perf_counter() - started:.1f} s (imports and validation)")
        say(start_line(folder, config.max_trials, role, tuner_id))
        precision = environment.resolve_precision(config.precision)
        say(f"Precision: {precision}")
        pool, train, val = data.split(dataset, config)
        tuner = search(strategy, config, folder, (train, val), precision, role, tuner_id)
        if not owner:
            say(f"{tuner_id}: no trials left; the chief trains the final model "
                "and reports")
            return
        logs = trial_logs(folder)
        records = trials.trial_records(logs, tuner.oracle.trials)
        if tuner.oracle.stopped_by_budget:
            say(f"Time budget: {len(records)} of {config.max_trials} trials fit in "
                f"{config.time_budget:g} min; no new trial was started. A larger "
                "--time-budget extends the search")
        trained = trials.trained_trial(records, config.hand_picked_margin)
        if trained is None:
            raise NoCompletedTrial(f"none of the {len(records)} trials completed")
        final = final_model(folder, trained, records, config, pool,
                            (dataset.x_test, dataset.y_test), precision, say)
        result = run_result(strategy, config, tuner, dataset, (train, val), records, trained,
                            final, elapsed_search_seconds(logs.values()), precision,
                            invocation)
        paths = results.write_results(result, folder)
    say(report.summary_table(result.to_dict()))
    say("Wrote " + ", ".join(str(p) for p in (*paths, folder / results.MODEL_FILE)))


def start_line(folder, max_trials, role, tuner_id):
    """What this process's search will do: a worker (`tuner_id`) asks the chief; a chief or
    single process starts a search or resumes the trials recorded in `folder`."""
    if role == "worker":
        return (f"{tuner_id}: asking the chief at {distributed.chief_address()} "
                "for trials")
    if not (folder / recorded_search.ORACLE_FILE).is_file():
        return f"Starting a new search in {folder}"
    recorded = len(list(folder.glob("trial_*/trial.json")))
    if recorded > max_trials:
        return (f"Resuming the search in {folder}: {recorded} trials recorded, more than "
                f"--max-trials {max_trials}, so no new trial runs; the trial to train is picked "
                f"from all {recorded}")
    return (f"Resuming the search in {folder}: {recorded} of {max_trials} trials recorded "
            "(--overwrite starts afresh)")


@contextlib.contextmanager
def _native_stderr_silenced(enabled):
    """Hide what C++ code writes to stderr (TensorFlow's import-time INFO lines, which
    TF_CPP_MIN_LOG_LEVEL does not reach); Python exceptions still surface afterwards."""
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def search(strategy, config, folder, split, precision, role, tuner_id):
    """Run (or resume) KerasTuner's search of `strategy` over the `(train, val)` `split`, with
    its files in `folder`, as this process's `role` and `tuner_id` have it; return the tuner,
    whose oracle holds every trial."""
    from fashion_tuning.callbacks import trial_callbacks
    from fashion_tuning.hypermodel import TunedCNN
    from fashion_tuning.tuner import make_tuner

    train, val = split
    try:
        tuner = make_tuner(strategy, config, folder, TunedCNN(precision), role, tuner_id)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:  # A damaged saved state.
        raise UserError(f"{folder}: KerasTuner cannot reload the search recorded there "
                        f"({type(e).__name__}: {e}); {FRESH_START}") from None
    # One log folder per run and strategy, so that one --tensorboard-dir holds many runs.
    log_dir = config.tensorboard_dir and Path(config.tensorboard_dir) / (
        f"{strategy}-{recorded_search.search_id(folder)}")
    # Each trial's schedule spans its epochs and ends it.
    tuner.search(*train, validation_data=val, epochs=config.trial_epochs,
                 batch_size=config.batch_size, callbacks=trial_callbacks(config, log_dir),
                 verbose=2)
    return tuner


def final_model(folder, trained, records, config, pool, test, precision, say):
    """The summary's final-training fields (`results.FINAL_FIELDS`): those an earlier run
    recorded for this very search, plan and saved model, with its provenance
    (`results.recorded_final`); else train `trained` afresh on `pool`, evaluate it on `test`,
    save it, and return what that gave."""
    from fashion_tuning import final_training
    from fashion_tuning.callbacks import StopOnSignal

    final = results.recorded_final(folder, trained, records, config)
    if final:
        say(f"The search and the final training had finished: reporting the saved result "
            f"(test accuracy {final['test_accuracy']:.4f})")
        return final
    top = trials.top_trial(records)
    note = report.parenthesised(report.kept_note(
        trained.trial_id, top.trial_id, top.val_accuracy - trained.val_accuracy,
        config.hand_picked_margin))
    say(f"Trained trial {trained.trial_id}{note}: val_accuracy {trained.val_accuracy:.4f} at "
        f"epoch {trained.best_epoch}; final training on all {len(pool[1]):,} training images: "
        f"{report.final_training_line(config.final_epochs, config.final_recipe)}")
    model, scores, seconds = final_training.final_model(
        trained.hyperparameters, config, pool, test, precision, [StopOnSignal()], verbose=2)
    digest = final_training.save_model(model, folder / results.MODEL_FILE)
    return {"final_images": len(pool[1]), "final_seconds": round(seconds, 1), **scores,
            "model_sha256": digest}


def run_result(strategy, config, tuner, dataset, split, records, trained, final,
               search_seconds, precision, invocation):
    """The `RunResult` of a finished run: its facts, the search, the trained and the top
    trial, the final model's scores, where and how it ran, and its settings."""
    from fashion_tuning import environment
    from fashion_tuning.tuner import oracle_args

    train, val = split
    top = trials.top_trial(records)
    return results.RunResult(
        strategy=strategy, oracle_seed=tuner.oracle.seed, precision_used=precision,
        data_source=dataset.source, data=dataset.fingerprint(), train_images=len(train[1]),
        val_images=len(val[1]), trained_trial_id=trained.trial_id,
        trained_hyperparameters=trained.hyperparameters,
        trained_val_accuracy=trained.val_accuracy, top_trial_id=top.trial_id,
        top_val_accuracy=top.val_accuracy, search_seconds=round(search_seconds, 1),
        total_seconds=round(search_seconds + final["final_seconds"], 1),
        trials=[asdict(r) for r in records],
        oracle={"class": STRATEGIES[strategy], **oracle_args(strategy, config)},
        stopped_by_budget=tuner.oracle.stopped_by_budget, settings=config.settings(),
        **{"versions": environment.versions(), "machine": environment.machine(), **invocation,
           "finished_at": results.utc_now(), **final})
