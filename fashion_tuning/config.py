"""Every default of a tuning run, in one place; the CLI is generated from it."""

import dataclasses
import hashlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from fashion_tuning.errors import UserError
from fashion_tuning.recipe import Recipe

OBJECTIVE = "val_accuracy"

# Strategy name (also the results sub-folder) -> KerasTuner oracle class name.
STRATEGIES = {
    "random_search": "RandomSearchOracle",
    "bayesian_optimization": "BayesianOptimizationOracle",
}

# The head and optimizer a Keras user would write without a search: the search space's
# defaults, which every search tries first, and what the untuned default trains on the fixed
# trunk (docs/results/frontier/).
HAND_PICKED = {"units": 256, "dropout": 0.3, "learning_rate": 1e-3, "optimizer": "adam"}

# What --quick changes: the whole pipeline on real data, in a short run that checks an install.
# It writes to its own folder so a quick run never resumes (or spoils) a full one. With 3
# trials, 2 initial points leave the Gaussian process one trial to choose; with the full
# default of 3, a quick Bayesian run would repeat the quick random one trial for trial.
QUICK = {"max_trials": 3, "epochs": 3, "train_limit": 6000, "results_dir": "results-quick",
         "initial_points": 2}


# A trial replaces the hand-picked configuration (--hand-picked-margin) only with a lead of
# more than two standard deviations of the difference between two trials of equal worth, which
# reseeding alone gives (the measured sd: docs/design.md, docs/results/trial-noise/).
HAND_PICKED_MARGIN = 0.0055

# Median stopping (pruning.py) judges a trial once this many trials have completed, and, like
# early stopping, only from half its schedule on (`Config.judged_from_epoch`): with fewer, the
# median is set by too few trials and cuts good ones (docs/design.md).
PRUNING_MIN_COMPLETED = 5

# KerasTuner's oracle seeds lie in [1, ORACLE_SEEDS]: within numpy's RandomState and
# scikit-learn's random_state (< 2**32), which the Bayesian oracle seeds with it.
ORACLE_SEEDS = 2**31 - 1
# Trial t's weights are seeded with seed + t, which numpy wants below 2**32.
MAX_SEED = 2**31 - 1


def _flag(help, default, **extra):
    return field(default=default, metadata={"help": help, **extra})


def _fixed(help, default, **extra):
    """A flag that a resumed search must keep: changing it would change what trials mean."""
    return _flag(help, default, fixed_on_resume=True, **extra)


@dataclass
class Config:
    """Settings of one run. Field names become `--kebab-case` flags."""

    # The reference project's contract: 10 trials, at most 30 epochs, batch 128, early
    # stopping. The cap and the patience act on longer schedules than the defaults.
    max_trials: int = _flag("number of hyperparameter sets to try", 10, metavar="N")
    epochs: int = _fixed("at most N epochs for a trial and for the final training; it "
                         "shortens nothing at the defaults (3-epoch trials, a 25-epoch "
                         "final training)", 30, metavar="N")
    batch_size: int = _fixed("mini-batch size of the trials and the final training", 128,
                             metavar="N")
    patience: int = _fixed("early-stopping patience, in epochs without a higher val_accuracy, "
                           "from half a trial's schedule on; it can stop only trials longer "
                           "than N + half their schedule, so none at the default 3 epochs", 3,
                           metavar="N")
    seed: int = _fixed("seeds the split, each trial's weights and the tuner's draws; any two "
                       "seeds draw unrelated trials, and both scripts with one seed share "
                       "their random first trials", 42, metavar="N")
    data_dir: str = _flag("folder with the four Fashion-MNIST IDX files "
                          "(default: $FASHION_MNIST_DIR, then the search order below)", None,
                          metavar="DIR")
    results_dir: str = _flag("results go to DIR/<strategy>/", "results", metavar="DIR")
    val_fraction: float = _fixed("share F of the training images held out for validation", 0.2,
                                 metavar="F")
    train_limit: int = _fixed("use only N of the 60,000 training images (stratified), "
                             "for quick runs", None, metavar="N")
    overwrite: bool = _flag("delete earlier results of this strategy and start afresh "
                            "(default: resume)", False)
    quick: bool = _flag("preset for a short run on real data (explicit flags win):", False)
    precision: str = _fixed("compute precision; auto = mixed_float16 on a GPU of compute "
                           "capability 7.0 or more, mixed_bfloat16 on a CPU with native BF16 "
                           "instructions, else float32", "float32",
                           choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"))
    tensorboard_dir: str = _flag("also write per-trial TensorBoard logs with KerasTuner's "
                                 "HParams data to DIR", None, metavar="DIR")
    workers: int = _flag("run a chief and N worker processes on this machine (KerasTuner's "
                         "distributed mode on loopback); the CPU threads are split between them",
                         None, metavar="N")
    pruning: bool = _fixed(
        "median stopping: from half a trial's schedule on, once "
        f"{PRUNING_MIN_COMPLETED} trials have completed, a trial whose best val_accuracy so far "
        "is below the completed trials' median at that epoch is stopped and recorded as "
        "pruned; --no-pruning runs every trial until early stopping or the end of its "
        "schedule", True)
    time_budget: float = _flag("start no new trial once the search time recorded in the results "
                               "folder plus the mean trial time would pass MINUTES; the final "
                               "training still runs (default: none)", None, metavar="MINUTES")
    trial_epochs: int = _fixed("every trial trains a complete schedule over N epochs (at most "
                               "--epochs): its learning rate decays to zero along a half "
                               "cosine, and the trial ends there", 3, metavar="N")
    final_epochs: int = _flag("the trained trial's configuration trains on all training images "
                              "over a complete schedule of N epochs (at most --epochs); another "
                              "N on a finished search redoes only the final training", 25,
                              metavar="N")
    final_recipe: Recipe = _flag(
        "what the final training adds: none, or some of " + ", ".join(
            f"{name} ({what})" for name, (what, _) in Recipe.offered().items()) + ", joined by "
        "commas; another recipe on a finished search redoes only the final training",
        Recipe.parse("flip,flip-tta"), metavar="PARTS", parse=Recipe.parse)
    hand_picked_margin: float = _flag(
        "the final training trains the top-scoring trial only if its val_accuracy beats the "
        "first trial's, the hand-picked configuration's, by more than M; else the hand-picked "
        "one (0: the top-scoring trial, whatever its lead). Another M on a finished search "
        "redoes the final training only if the pick changes", HAND_PICKED_MARGIN, metavar="M")
    initial_points: int = _fixed("the Gaussian process takes over after N trials: the "
                                "hand-picked one and N-1 random ones (KerasTuner's own "
                                "default, 3 x #hyperparameters, would leave all 10 trials "
                                "random)", 3, metavar="N",
                                strategies=("bayesian_optimization",),
                                oracle_arg="num_initial_points")

    def __post_init__(self):
        for name in ("max_trials", "epochs", "batch_size", "patience", "initial_points",
                     "trial_epochs", "final_epochs"):
            if getattr(self, name) < 1:
                raise UserError(f"{flag_name(name)} must be at least 1, got {getattr(self, name)}")
        # --epochs is the cap of both schedules.
        self.trial_epochs = min(self.trial_epochs, self.epochs)
        self.final_epochs = min(self.final_epochs, self.epochs)
        if not 0 <= self.seed <= MAX_SEED:
            raise UserError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}")
        if self.data_dir == "":
            raise UserError("--data-dir is empty; give a folder, or leave the flag out to use "
                            "the default search order")
        if isinstance(self.final_recipe, str):  # As code (not the flag) may give it.
            self.final_recipe = Recipe.parse(self.final_recipe)
        cores = os.cpu_count() or 1
        if self.workers is not None and not 1 <= self.workers <= min(cores, self.max_trials):
            raise UserError(f"--workers must be from 1 to {min(cores, self.max_trials)}: a process "
                            f"needs a CPU core ({cores} here) and a trial (--max-trials "
                            f"{self.max_trials}), got {self.workers}")
        # Finite: summary.json records it, and strict JSON has no inf or nan.
        if self.time_budget is not None and not 0 < self.time_budget < math.inf:
            raise UserError(f"--time-budget must be a finite, positive number of minutes, "
                            f"got {self.time_budget}")
        if self.train_limit is not None and self.train_limit < 100:
            raise UserError(f"--train-limit must be at least 100, got {self.train_limit}")
        if not 0 <= self.hand_picked_margin < 1:
            raise UserError(f"--hand-picked-margin must be at least 0 and below 1, "
                            f"got {self.hand_picked_margin}")
        if not 0 < self.val_fraction < 1:
            raise UserError(f"--val-fraction must be between 0 and 1 (exclusive), "
                            f"got {self.val_fraction}")

    @property
    def judged_from_epoch(self):
        """The first epoch (1-based) at which pruning and early stopping judge a trial: half
        its schedule. BatchNorm trials under the cosine schedule stall while the rate is high
        and climb through the last, low-rate epochs, so earlier judgements cut trials that end
        best (docs/design.md)."""
        return max(1, self.trial_epochs // 2)

    @property
    def oracle_seed(self):
        """KerasTuner's seed for `seed`: a hash of it, not the seed itself.

        KerasTuner draws hyperparameter i of trial t from `random.Random(oracle seed + d*t + i)`
        (d active hyperparameters), so consecutive oracle seeds replay each other's trials
        shifted by a few draws. Two hashed seeds' draws overlap only if the hashes fall within
        a run's few dozen draws of each other: odds of about 1 in 10 million for a pair.
        """
        digest = hashlib.sha256(f"fashion-tuning oracle seed {self.seed}".encode()).digest()
        return 1 + int.from_bytes(digest[:8], "big") % ORACLE_SEEDS

    def rule_constants(self):
        """The settings of pruning and early stopping that no flag sets."""
        return {"pruning_min_completed": PRUNING_MIN_COMPLETED,
                "judged_from_epoch": self.judged_from_epoch}

    def settings(self):
        """Every setting of the run, by the names of its flags (fields), and the rule's
        constants."""
        return {**dataclasses.asdict(self), **self.rule_constants()}

    def strategy_folder(self, strategy):
        """Where `strategy`'s results, and KerasTuner's files for it, go."""
        return Path(self.results_dir) / strategy


def flag_name(field_name):
    """The command-line flag of a `Config` field: max_trials -> --max-trials."""
    return "--" + field_name.replace("_", "-")


def quick_preset(strategy):
    """The part of `QUICK` that applies to `strategy`'s script."""
    names = {f.name for f in fields_for(strategy)}
    return {k: v for k, v in QUICK.items() if k in names}


def fields_for(strategy):
    """The `Config` fields that are flags of `strategy`'s script."""
    return [f for f in dataclasses.fields(Config)
            if strategy in f.metadata.get("strategies", (strategy,))]
