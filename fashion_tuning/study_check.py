"""Which runs a multi-seed study may pool: both strategies at every seed with the same
settings, but where and how each ran, on the same data and at the same precision."""

import dataclasses
import json

from fashion_tuning.compare import LABELS
from fashion_tuning.config import STRATEGIES, Config, fields_for
from fashion_tuning.errors import UserError
from fashion_tuning.results import final_recipe

# The settings that may differ between runs: the seed, and where and how a run ran.
PER_SEED = ("seed", "results_dir", "data_dir", "overwrite", "tensorboard_dir", "quick",
            "workers")
# What every run must share besides its settings: the data (its fingerprint, wherever it was
# read from), the images of each phase, and the precision used (two runs of --precision auto
# may resolve it differently).
SAME_RUN = ("data", "train_images", "val_images", "final_images", "precision_used")
# The settings of one script alone (`initial_points`): compared between that strategy's runs.
ONE_SCRIPT = {f.name for f in dataclasses.fields(Config)} - set.intersection(
    *({f.name for f in fields_for(s)} for s in STRATEGIES))


def _seeds(seeds):
    return f"seed{'s' * (len(seeds) > 1)} {', '.join(map(str, seeds))}"


def _where(runs, strategies):
    """Where `runs` ((seed, strategy) pairs) are: "at seeds 1, 3" for the seeds that hold every
    one of `strategies`' runs, then per strategy the rest: "in Random Search at seed 2"."""
    whole = sorted({seed for seed, _ in runs if all((seed, s) in runs for s in strategies)})
    parts = [f"at {_seeds(whole)}"] if whole else []
    for strategy in strategies:
        rest = [seed for seed, s in runs if s == strategy and seed not in whole]
        parts += [f"in {LABELS[strategy]} at {_seeds(rest)}"] if rest else []
    return " and ".join(parts)


def check_settings(per_seed):
    """Refuse runs that a study may not pool.

    Args:
        per_seed: `{seed: {strategy: summary}}`, both strategies at each seed.

    Raises:
        UserError: naming every setting but those of `PER_SEED`, and every fact of `SAME_RUN`,
            in which the runs differ, across seeds and strategies (a setting of `ONE_SCRIPT`:
            across that strategy's seeds), with its values and the runs of each.
    """
    values = {}  # (name, its strategy or None for both) -> {value as JSON: [(seed, strategy)]}
    for seed, runs in per_seed.items():
        for strategy, run in runs.items():
            for name, value in {**run["settings"], **{k: run[k] for k in SAME_RUN}}.items():
                if name not in PER_SEED:  # A recipe by its flag's words, not its fields.
                    shown = str(final_recipe(run)) if name == "final_recipe" else value
                    key = name, strategy if name in ONE_SCRIPT else None
                    values.setdefault(key, {}).setdefault(json.dumps(shown), []).append(
                        (seed, strategy))
    differences = [f"{name} " + " but ".join(
        f"{value} {_where(runs, [group] if group else STRATEGIES)}"
        for value, runs in by_value.items())
        for (name, group), by_value in values.items() if len(by_value) > 1]
    if differences:
        raise UserError("the study's runs differ in settings or data: " + "; ".join(differences)
                        + "; run them again with the same flags and data, or move some to "
                        "another --results-dir")
