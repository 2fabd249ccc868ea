"""The KerasTuner side: our `Tuner` subclass and the oracle of each strategy."""

import resource
import time

import keras
import keras_tuner as kt
import numpy as np

from fashion_tuning import distributed, results
from fashion_tuning.config import OBJECTIVE, STRATEGIES, fields_for


class TrialRunner(kt.Tuner):
    """`kt.Tuner` that seeds each trial, records its timing and history in `run.json`, and
    fails trials whose loss is not finite."""

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
        results.write_trial_run(self.get_trial_dir(trial.trial_id), {
            "epochs_run": len(history["loss"]), "seconds": time.perf_counter() - start,
            "worker": distributed.tuner_id(),
            # Peak resident memory of the process so far: flat across trials, or a leak.
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            # Per-epoch curves, for reports and plots.
            "history": {k: [float(v) for v in vs] for k, vs in history.items()}})
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


def make_tuner(strategy, config, folder, build):
    """Create, or reload where one was saved, the tuner whose files are in `folder`
    (`RESULTS_DIR/<strategy>`); `build(hp)` makes each trial's model."""
    return TrialRunner(
        seed=config.seed,
        oracle=make_oracle(strategy, config),
        hypermodel=build,
        directory=folder.parent,
        project_name=folder.name,
        overwrite=False,  # --overwrite is done by the CLI, which keeps its folder lock.
    )
