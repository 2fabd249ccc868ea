"""One run from start to end: prepare the results folder, load the data, search, train the best
configuration on all training images, evaluate it on the test set, write the results."""

import contextlib
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

from fashion_tuning import data, distributed, progress, report, results
from fashion_tuning import folder as results_folder
from fashion_tuning.config import STRATEGIES, Config, Recipe
from fashion_tuning.errors import NoCompletedTrial, UserError
from fashion_tuning.evaluate import evaluate
from fashion_tuning.results import (MODEL_FILE, RunResult, best_trial, recorded_final,
                                    trial_records)


def run(strategy, config: Config, role, invocation, started, quiet_tensorflow=True, log=print):
    """The steps of one run of `strategy`, in order. Raises `UserError` for what a user can
    fix, `interrupt.Interrupted` on a signal, `NoCompletedTrial` if no trial completed.

    A distributed worker (`role` "worker") shares the chief's folder: it neither locks nor
    clears it, and it only runs trials; the chief trains the final model and writes the
    results once all workers are done.

    Args:
        strategy: a key of `STRATEGIES`.
        config: the run's settings.
        role: "single", "chief" or "worker" (`distributed.role`).
        invocation: how this run was started, for the summary: `started_at`, `command_line`,
            `arguments`.
        started: `time.perf_counter()` at the start, for the "ready after" line.
        quiet_tensorflow: hide what TensorFlow's C++ code prints while it is imported.
        log: where progress lines go.
    """
    folder = config.strategy_folder(strategy)
    results_folder.check_writable(folder)
    with results_folder.lock(folder) if role != "worker" else contextlib.nullcontext():
        if config.overwrite and role != "worker":
            results_folder.clear(folder)
        with _native_stderr_silenced(quiet_tensorflow):
            from fashion_tuning.environment import grow_gpu_memory
            from fashion_tuning.hypermodel import search_space

            grow_gpu_memory()  # Before the first TF op: a chief and its workers share a GPU.
            space = search_space()  # The first TF op, which probes for a GPU.
        dataset = data.load_fashion_mnist(config.data_dir)
        if not config.overwrite and role != "worker":  # The chief checks for its workers.
            results_folder.check_resumable(folder)
        # Only now, with the data validated: a failed start must not pin the settings.
        results_folder.check_or_record_settings(
            folder, results_folder.fixed_settings(config, space, dataset.fingerprint()),
            config.overwrite, record=role != "worker")
        log(f"Data: {dataset.source} ({len(dataset.y_train):,} train / "
            f"{len(dataset.y_test):,} test images); ready after "
            f"{time.perf_counter() - started:.1f} s (imports and validation)")
        if role == "worker":
            log(f"{distributed.tuner_id()}: asking the chief at {distributed.chief_address()} "
                "for trials")
        elif (folder / results_folder.ORACLE_FILE).is_file():
            log(resume_line(folder, config.max_trials))
        else:
            log(f"Starting a new search in {folder}")
        result = search_and_train(strategy, config, dataset, folder, role, invocation, log)
        if result is None:
            log(f"{distributed.tuner_id()}: no trials left; the chief trains the final model "
                "and reports")
            return
        paths = results.write_results(result, folder)
    log(report.summary_table(result.to_dict()))
    log("Wrote " + ", ".join(str(p) for p in (*paths, folder / MODEL_FILE)))


def resume_line(folder, max_trials):
    """What a resumed search will do, from the trials recorded in `folder`."""
    recorded = len(list(folder.glob("trial_*/trial.json")))
    if recorded > max_trials:
        return (f"Resuming the search in {folder}: {recorded} trials recorded, more than "
                f"--max-trials {max_trials}, so no new trial runs; the best of all {recorded} "
                "is reported")
    return (f"Resuming the search in {folder}: {recorded} of {max_trials} trials recorded "
            "(--overwrite starts afresh)")


@contextlib.contextmanager
def _native_stderr_silenced(enabled):
    """Hide what C++ code writes to stderr (TensorFlow's import-time INFO lines, which
    TF_CPP_MIN_LOG_LEVEL no longer reaches); Python exceptions still surface afterwards."""
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


def search_and_train(strategy, config: Config, dataset, folder, role, invocation, log=print):
    """Search, train the best configuration on all training images, evaluate it; write the
    model; return a `RunResult` (None in a distributed worker, which only runs trials).

    Args:
        strategy: a key of `STRATEGIES`.
        config: the run's settings.
        dataset: a validated `data.Dataset`.
        folder: the strategy's results folder, `RESULTS_DIR/<strategy>`.
        role: "single", "chief" or "worker" (`distributed.role`).
        invocation: how this run was started, for the summary: `started_at`, `command_line`,
            `arguments`.
        log: where progress lines go.
    """
    # Here, not at the top: TensorFlow takes seconds to import, and the checks of `run` before
    # it should not wait.
    from fashion_tuning import environment, final_training, hypermodel, tuner
    from fashion_tuning.callbacks import StopOnSignal, trial_callbacks

    precision = environment.resolve_precision(config.precision)
    log(f"Precision: {precision}")

    pool, train, val = data.split(dataset, config)
    try:
        search = tuner.make_tuner(strategy, config, folder,
                                  hypermodel.TunedCNN(config.trial_epochs, precision))
    except (KeyError, TypeError, ValueError, RuntimeError) as e:  # A damaged saved state.
        raise UserError(f"{folder}: KerasTuner cannot reload the search recorded there "
                        f"({type(e).__name__}: {e}); {results.FRESH_START}") from None
    # One log folder per run and strategy, so that one --tensorboard-dir holds many runs.
    log_dir = config.tensorboard_dir and Path(config.tensorboard_dir) / "-".join(
        filter(None, (strategy, results_folder.run_id(folder))))
    # Keras counts each trial's epochs out of its schedule's, which ends it.
    search.search(*train, validation_data=val, epochs=config.trial_epochs,
                  batch_size=config.batch_size, callbacks=trial_callbacks(config, log_dir),
                  verbose=2)
    if role == "worker":
        return None  # The chief, which holds every trial, trains the final model and reports.
    records = trial_records(folder, search.oracle.trials)
    stopped_by_budget = (len(records) < config.max_trials
                         and progress.budget_reached(folder, config.time_budget_seconds))
    if stopped_by_budget:
        log(f"Time budget: {len(records)} of {config.max_trials} trials fit in "
            f"{config.time_budget:g} min (recorded search time plus the mean trial time); "
            "no new trial was started. A larger --time-budget extends the search")
    best = best_trial(records)
    if best is None:
        raise NoCompletedTrial(f"none of the {len(records)} trials completed")
    recipe = Recipe.parse(config.final_recipe)
    plan = {"final_epochs": config.final_epochs, "final_recipe": asdict(recipe)}
    final = recorded_final(folder, best, records, plan)
    if final and not final_training.loads(folder / MODEL_FILE):
        log(f"{folder / MODEL_FILE} cannot be loaded: training the final model again")
        final = None
    if final:
        log(f"The search and the final training had finished: reporting the saved result "
            f"(test accuracy {final['test_accuracy']:.4f})")
    else:
        log(f"Best trial {best.trial_id}: val_accuracy {best.val_accuracy:.4f} at epoch "
            f"{best.best_epoch}; final training on all {len(pool[1]):,} training images: "
            f"{report.final_training_line(plan)}")
        trained, _, seconds = final_training.train_configuration(
            best.hyperparameters, config.seed, config.final_epochs, pool, config.batch_size,
            precision, recipe, callbacks=[StopOnSignal()], verbose=2)
        model = hypermodel.predictor(trained, recipe.flip_tta)
        final = {**plan, "final_images": len(pool[1]), "final_seconds": round(seconds, 1),
                 **evaluate(model, (dataset.x_test, dataset.y_test), config.batch_size,
                            callbacks=[StopOnSignal()])}
        final_training.save_model(model, folder / MODEL_FILE)
    search_seconds = results.elapsed_search_seconds(results.recorded_runs(folder).values())
    return RunResult(
        strategy=strategy,
        **{name: getattr(config, name) for name in results.AS_CONFIGURED},
        oracle_seed=search.oracle.seed,
        precision=precision,
        data_source=dataset.source,
        train_images=len(train[1]),
        val_images=len(val[1]),
        best_trial_id=best.trial_id,
        best_hyperparameters=best.hyperparameters,
        best_val_accuracy=best.val_accuracy,
        search_seconds=round(search_seconds, 1),
        total_seconds=round(search_seconds + final["final_seconds"], 1),
        **final,
        versions=environment.versions(),
        machine=environment.machine(),
        trials=[asdict(r) for r in records],
        oracle={"class": STRATEGIES[strategy], **tuner.oracle_args(strategy, config)},
        time_budget_minutes=config.time_budget,
        stopped_by_budget=stopped_by_budget,
        code_version=environment.code_version(),
        **invocation,
        finished_at=results.utc_now(),
        settings=config.settings(),
    )
