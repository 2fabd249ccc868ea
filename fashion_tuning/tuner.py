"""The KerasTuner side: our `Tuner` subclass and the oracle of each strategy."""

import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np

from fashion_tuning import distributed, progress, pruning, results, system
from fashion_tuning import folder as results_folder
from fashion_tuning.config import OBJECTIVE, STRATEGIES, fields_for
from fashion_tuning.errors import DiskFull, disk_full


class TrialRunner(kt.Tuner):
    """`kt.Tuner` that seeds each trial, prunes it by median stopping from epoch
    `judged_from_epoch` to before its last, `trial_epochs` (unless `pruning` is False), records
    its outcome, timing and history in `run.json`, fails trials whose loss is not finite, and
    prints a progress line after each trial (`progress.progress_line`, which `final_epochs`
    and `final_images_ratio` are for)."""

    def __init__(self, seed, judged_from_epoch, trial_epochs, final_epochs, pruning=True,
                 time_budget_s=None, final_images_ratio=1.0, **kwargs):
        super().__init__(**kwargs)
        self.seed, self.pruning = seed, pruning
        self.judged_from_epoch, self.trial_epochs = judged_from_epoch, trial_epochs
        self.time_budget_s = time_budget_s
        self.final_epochs, self.final_images_ratio = final_epochs, final_images_ratio

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
        except Exception as e:
            if disk_full(e):  # Not a failed trial: the run stops, and a resume re-runs it.
                raise DiskFull(e) from e
            raise
        history = histories[0].history
        bad = [i for i, v in enumerate(history["loss"]) if not np.isfinite(v)]
        outcome = "failed" if bad else "pruned" if stopper and stopper.pruned_at else "completed"
        results.write_trial_run(self.get_trial_dir(trial.trial_id), {
            "outcome": outcome, "pruned_at_epoch": stopper and stopper.pruned_at,
            "median_at_pruning": stopper and stopper.median,
            "started_at": started_at, "seconds": time.perf_counter() - start,
            "epochs_run": len(history["loss"]), "worker": distributed.tuner_id(),
            # Peak resident memory of the process so far: flat across trials, or a leak.
            "peak_rss_mb": system.peak_memory_mb(),
            # Per-epoch curves, for reports, plots and the pruning rule.
            "history": {k: [float(v) for v in vs] for k, vs in history.items()}})
        if bad:
            # FailedTrialError makes KerasTuner mark the trial FAILED (no retry),
            # instead of COMPLETED with a meaningless val_accuracy.
            raise kt.errors.FailedTrialError(f"loss became non-finite in epoch {bad[0] + 1}")
        return histories

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        if Path(self.get_trial_dir(trial.trial_id), results.RUN_FILE).is_file():
            print(progress.progress_line(self.project_dir, trial.trial_id,
                                         self.oracle.max_trials, self.final_epochs,
                                         self.time_budget_s, self.final_images_ratio))


class TimeBudget:
    """Oracle mixin: no new trial once `progress.budget_reached` (the oracle lives in the
    chief when distributed, so this holds for every worker)."""

    time_budget_s = None

    def populate_space(self, trial_id):
        if progress.budget_reached(self._project_dir, self.time_budget_s):
            return {"status": "STOPPED", "values": None}  # As KerasTuner's own oracles do.
        return super().populate_space(trial_id)


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
        if "restarts_state" in state:  # Older folders start from the seed, as they did.
            kind, keys, position, has_gauss, gauss = state["restarts_state"]
            self._random_state.set_state((kind, np.array(keys, dtype=np.uint32), position,
                                          has_gauss, gauss))


# The oracle of each strategy: KerasTuner's, with the time budget (and for the Bayesian one,
# its saved restarts).
ORACLES = {name: type(cls, (TimeBudget,) + ((SavedRestarts,) if name == "bayesian_optimization"
                                            else ()) + (getattr(kt.oracles, cls),), {})
           for name, cls in STRATEGIES.items()}


def oracle_args(strategy, config):
    """The strategy-specific oracle arguments that come from flags."""
    return {f.metadata["oracle_arg"]: getattr(config, f.name)
            for f in fields_for(strategy) if "oracle_arg" in f.metadata}


def make_oracle(strategy, config, seed):
    """The KerasTuner oracle of `strategy`, configured from `config`, drawing from `seed`."""
    oracle = ORACLES[strategy](
        objective=kt.Objective(OBJECTIVE, direction="max"),
        max_trials=config.max_trials,
        seed=seed,
        # Every trial gets its chance: KerasTuner raises RuntimeError once this many fail
        # in a row (default 3); we report failed trials and exit 1 if none completed.
        max_consecutive_failed_trials=config.max_trials + 1,
        **oracle_args(strategy, config),
    )
    oracle.time_budget_s = config.time_budget_seconds
    return oracle


def make_tuner(strategy, config, folder, hypermodel):
    """Create, or reload where one was saved, the tuner whose files are in `folder`
    (`RESULTS_DIR/<strategy>`); `hypermodel` (a `kt.HyperModel`, or a function of `hp`)
    builds and trains each trial's model."""
    return TrialRunner(
        seed=config.seed,
        judged_from_epoch=config.judged_from_epoch,
        trial_epochs=config.trial_epochs,
        pruning=config.pruning,
        time_budget_s=config.time_budget_seconds,
        final_epochs=config.final_epochs,
        final_images_ratio=1 / (1 - config.val_fraction),  # All training images, not 1 - f.
        # A resumed search draws on from the seed its oracle recorded, as it started.
        oracle=make_oracle(strategy, config,
                           results_folder.recorded_oracle_seed(folder) or config.oracle_seed),
        hypermodel=hypermodel,
        directory=folder.parent,
        project_name=folder.name,
        overwrite=False,  # --overwrite is done by the CLI, which keeps its folder lock.
    )
