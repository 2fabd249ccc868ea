"""The KerasTuner side: our `Tuner` subclass and the oracle of each strategy."""

import functools
import json
import os
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np

from fashion_tuning import atomic, distributed, progress, pruning, system, trial_log
from fashion_tuning.callbacks import TensorBoard
from fashion_tuning.config import OBJECTIVE, STRATEGIES, fields_for
from fashion_tuning.errors import (NotTheTrials, UserError, WriteFailed, in_log_writer,
                                   store_errno)


class Tuner(kt.Tuner):
    """`kt.Tuner` that seeds each trial, prunes it by median stopping from epoch
    `judged_from_epoch` to before its last, `trial_epochs` (unless `pruning` is False), records
    its outcome, timing and history in `trial_log.json`, fails trials whose loss is not finite,
    and prints `progress_line(trial_id)` after each trial.

    Args:
        role: this process's, "single", "chief" or "worker" (`distributed.role`): a chief serves
            the oracle instead of running trials.
        tuner_id: this process's (`distributed.tuner_id`), recorded with each trial it runs.
    """

    def __init__(self, seed, judged_from_epoch, trial_epochs, role, tuner_id, progress_line,
                 pruning=True, **kwargs):
        super().__init__(**kwargs)
        self.seed, self.pruning = seed, pruning
        self.judged_from_epoch, self.trial_epochs = judged_from_epoch, trial_epochs
        self.role, self.tuner_id, self.progress_line = role, tuner_id, progress_line

    def run_trial(self, trial, *args, **kwargs):
        keras.backend.clear_session()  # Keep ten trials from piling up graphs.
        # Seed per trial so a resumed search re-runs a trial exactly as before.
        keras.utils.set_random_seed(self.seed + int(trial.trial_id))
        stopper = pruning.MedianStopping(self.project_dir, self.judged_from_epoch,
                                         self.trial_epochs,
                                         pruning.MIN_COMPLETED) if self.pruning else None
        if stopper:
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), stopper]
        started_at, start = time.time(), time.perf_counter()
        try:
            histories = super().run_trial(trial, *args, **kwargs)
            history = histories[0].history
            bad = [i for i, v in enumerate(history["loss"]) if not np.isfinite(v)]
            trial_log.write_trial_log(self.get_trial_dir(trial.trial_id), trial_log.TrialLog(
                outcome="failed" if bad else "pruned" if stopper and stopper.pruned_at
                else "completed",
                started_at=started_at, seconds=time.perf_counter() - start,
                epochs_run=len(history["loss"]), worker=self.tuner_id,
                peak_rss_mb=system.peak_memory_mb(),
                # Strict JSON: a non-finite value (a diverged trial's loss) is null.
                history={k: [float(v) if np.isfinite(v) else None for v in vs]
                         for k, vs in history.items()},
                pruned_at_epoch=stopper and stopper.pruned_at,
                median_at_pruning=stopper and stopper.median))
        except Exception as e:
            # Not the trial's failure but its files' (its logs, checkpoints and trial log, the
            # other trials' logs that pruning reads): the run stops, a resume runs it again.
            if in_log_writer(e):
                logs = next((c.folder for c in kwargs.get("callbacks", ())
                             if isinstance(c, TensorBoard)), None)
                raise WriteFailed(e, logs, "--tensorboard-dir") from e
            if isinstance(e, OSError) or store_errno(e):
                raise WriteFailed(e) from e
            if isinstance(e, UserError):
                raise NotTheTrials(e) from e
            raise
        if bad:
            # FailedTrialError makes KerasTuner mark the trial FAILED (no retry),
            # instead of COMPLETED with a meaningless val_accuracy.
            raise kt.errors.FailedTrialError(f"loss became non-finite in epoch {bad[0] + 1}")
        return histories

    def search(self, *fit_args, **fit_kwargs):
        if self.role != "chief":
            return super().search(*fit_args, **fit_kwargs)
        self.save()  # As KerasTuner's chief does, then serves its oracle until all are done.
        distributed.serve_oracle(self.oracle)

    def save(self):
        """KerasTuner's `save`, with `<tuner_id>.json` replaced atomically."""
        if not self._is_worker():
            self.oracle.save()
        save_state(self._get_tuner_fname(), self.get_state())

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if Path(self.get_trial_dir(trial.trial_id), trial_log.LOG_FILE).is_file():
            print(self.progress_line(trial.trial_id))


def save_state(path, state):
    """Write KerasTuner's `state` to `path` as its own `save_json` does (its format), but to a
    temporary name renamed into place: a kill or a full disk mid-write leaves the old file.

    Raises:
        WriteFailed: the write failed, whatever the errno (a full disk, a quota, a stale NFS
            handle, ...); a BaseException, so that no `except Exception` of KerasTuner's around
            a trial records it as the trial's failure.
    """
    try:
        atomic.write_text(path, json.dumps(state))
    except OSError as e:
        raise WriteFailed(e) from e


class AtomicSaves:
    """Oracle mixin: oracle.json and every trial.json are written through `save_state`."""

    def save(self):
        save_state(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        save_state(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"),
                   trial.get_state())


class TimeBudget:
    """Oracle mixin: no new trial once `progress.budget_reached` (the oracle lives in the
    chief when distributed, so this holds for every worker)."""

    def __init__(self, *args, time_budget=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.time_budget, self.stopped_by_budget = time_budget, False

    def populate_space(self, trial_id):
        if progress.budget_reached(self._project_dir, self.time_budget):
            self.stopped_by_budget = True  # What the summary records.
            return {"status": "STOPPED", "values": None}  # As KerasTuner's own oracles do.
        return super().populate_space(trial_id)


class HandPickedFirst:
    """Oracle mixin: the first trial is the space's defaults (`config.HAND_PICKED`), as
    SMAC's initial design and Optuna's `enqueue_trial` start from what a user would write; the
    strategy draws the rest. The search then weighs every configuration against that one."""

    def populate_space(self, trial_id):
        if self.trials:
            return super().populate_space(trial_id)
        return {"status": "RUNNING",
                "values": {p.name: p.default for p in self.hyperparameters.space}}


class SavedRestarts:
    """Bayesian oracle mixin: the random state that picks the starting points of the
    acquisition's optimiser is saved with the oracle, so that a resumed search proposes what an
    uninterrupted one would (KerasTuner seeds it afresh in every process)."""

    def get_state(self):
        kind, keys, position, has_gauss, gauss = self._random_state.get_state()
        return {**super().get_state(),
                "restarts_state": [kind, keys.tolist(), position, has_gauss, gauss]}

    def set_state(self, state):
        super().set_state(state)
        kind, keys, position, has_gauss, gauss = state["restarts_state"]
        self._random_state.set_state((kind, np.array(keys, dtype=np.uint32), position,
                                      has_gauss, gauss))


class TrialsInOrder:
    """Oracle mixin: a reloaded oracle holds its trials in the order they were created, as an
    uninterrupted one does. KerasTuner reloads them in the order the file system lists their
    folders, and its Gaussian process, fitted on the same rows in another order, proposes
    other values (in the last digits, which can change the next pick)."""

    def reload(self):
        super().reload()
        # A trial's id is KerasTuner's count of the trials created before it.
        self.trials = dict(sorted(self.trials.items(), key=lambda item: int(item[0])))


# The oracle of each strategy: KerasTuner's, with atomic saves, the time budget, the
# hand-picked first trial, its trials reloaded in order (and for the Bayesian one, its saved
# restarts).
ORACLES = {name: type(cls, (AtomicSaves, TimeBudget, HandPickedFirst, TrialsInOrder)
                      + ((SavedRestarts,) if name == "bayesian_optimization" else ())
                      + (getattr(kt.oracles, cls),), {})
           for name, cls in STRATEGIES.items()}


def oracle_args(strategy, config):
    """The strategy-specific oracle arguments that come from flags."""
    return {f.metadata["oracle_arg"]: getattr(config, f.name)
            for f in fields_for(strategy) if "oracle_arg" in f.metadata}


def make_oracle(strategy, config, seed):
    """The KerasTuner oracle of `strategy`, configured from `config`, drawing from `seed`."""
    return ORACLES[strategy](
        objective=kt.Objective(OBJECTIVE, direction="max"),
        max_trials=config.max_trials,
        seed=seed,
        # Every trial gets its chance: KerasTuner raises RuntimeError once this many fail
        # in a row (default 3); we report failed trials and exit 1 if none completed.
        max_consecutive_failed_trials=config.max_trials + 1,
        time_budget=config.time_budget,
        **oracle_args(strategy, config),
    )


def make_tuner(strategy, config, folder, hypermodel, role, tuner_id):
    """Create, or reload where one was saved, the tuner whose files are in `folder`
    (`RESULTS_DIR/<strategy>`); `hypermodel` (a `kt.HyperModel`, or a function of `hp`)
    builds and trains each trial's model; `role` and `tuner_id` are this process's."""
    return Tuner(
        seed=config.seed,
        judged_from_epoch=config.judged_from_epoch,
        trial_epochs=config.trial_epochs,
        pruning=config.pruning,
        role=role,
        tuner_id=tuner_id,
        progress_line=functools.partial(
            progress.progress_line, folder, max_trials=config.max_trials,
            final_epochs=config.final_epochs, time_budget=config.time_budget,
            final_images_ratio=1 / (1 - config.val_fraction)),  # All training images, not 1 - f.
        # A resumed oracle reloads its seed and draw state from oracle.json, as it started.
        oracle=make_oracle(strategy, config, config.oracle_seed),
        hypermodel=hypermodel,
        directory=folder.parent,
        project_name=folder.name,
        overwrite=False,  # `recorded_search.prepare` does --overwrite, under the folder's lock.
    )
