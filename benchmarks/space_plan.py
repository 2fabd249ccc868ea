"""The plan of `benchmarks.space_trials`: which trainings, in which order, at which trial
seeds, and its record beside the trainings (`<name>.plan.json`), which a rerun must match.

The plan: the hand-picked configuration at trial seed 42 (the default seed-42 search's trial
00); then the configurations drawn by KerasTuner's `RandomSearchOracle`, each at its own trial
seed, in blocks of (configurations / noise configurations); after each of the first (noise
configurations) blocks, one of its configurations again at `NOISE_SEEDS` - 1 more trial seeds
(chosen so that the first few cover the learning-rate range for each optimizer), and the
hand-picked one at another seed while its repeats last. Any prefix of the plan is a sample of
the same design (and, where the blocks are whole, the plan of twice as many of each begins
with this one).
"""

import hashlib
import json
import math
from pathlib import Path

from fashion_tuning import atomic
from fashion_tuning.config import HAND_PICKED, MAX_SEED, Config
from fashion_tuning.errors import UserError

HAND_PICKED_ID = "hand-picked"
NOISE_SEEDS = 3  # Trial seeds of a noise configuration, its first included.
# What a plan file records besides its flags, as a refusal names it.
RECORDED = {"trial": "trial settings", "final": "final-training settings", "data": "dataset",
            "space": "search space",
            "entries": "draws (another version of KerasTuner or of the space)"}


def plan_path(out):
    """Where the plan of the trainings in `out` is recorded: `<name>.plan.json` beside it."""
    return Path(out).with_name(Path(out).stem + ".plan.json")


def trial_seed(plan_seed, config_id, repeat):
    """The trial seed of `config_id`'s `repeat`-th training (0: its first): the hand-picked
    one's first is the default search's trial 00's; the others hash their names."""
    if config_id == HAND_PICKED_ID and repeat == 0:
        return Config().seed  # `tuner.Tuner` seeds trial t with seed + t.
    digest = hashlib.sha256(f"space trials {plan_seed} {config_id} {repeat}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % (MAX_SEED + 1)


def draw_configurations(count, plan_seed):
    """`count` configurations as KerasTuner's `RandomSearchOracle`, seeded with `plan_seed`,
    draws its trials: each hyperparameter's own `random_sample`, from a seed that advances by
    one a draw, so that they follow the distribution of a random search's trials.

    Returns:
        `(configurations, space)`: the hyperparameter values, and the space as KerasTuner
        records it (`HyperParameters.get_config()["space"]`).
    """
    import keras_tuner as kt

    from fashion_tuning.hypermodel import space_hyperparameters

    hp = space_hyperparameters()
    oracle = kt.oracles.RandomSearchOracle(seed=plan_seed, max_trials=max(count, 1))
    oracle.update_space(hp)
    # The oracle skips a draw that repeats an earlier trial; a float learning rate never does.
    return [oracle.populate_space(str(i))["values"] for i in range(count)], \
        hp.get_config()["space"]


def spread_point(n):
    """The n-th point (n >= 0) of the golden-ratio sequence in [0, 1): 0.5, 0.118, 0.736,
    0.354, 0.972, ...: any first few spread evenly over the interval, ends included."""
    return (0.5 + n * (math.sqrt(5) - 1) / 2) % 1


def noise_configuration(members, configs, number, space):
    """The index, among `members`, of the `number`-th noise configuration: the optimizers take
    turns, and each aims at the next `spread_point` of the learning-rate range (log scale),
    along which a trial's noise may change."""
    param = {p["config"]["name"]: p["config"] for p in space}
    rate, optimizers = param["learning_rate"], param["optimizer"]["values"]
    low, high = math.log(rate["min_value"]), math.log(rate["max_value"])
    target = spread_point(number // len(optimizers))
    wanted = optimizers[number % len(optimizers)]

    def distance(i):
        at = (math.log(configs[i]["learning_rate"]) - low) / (high - low)
        return configs[i]["optimizer"] != wanted, abs(at - target)
    return min(members, key=distance)


def make_plan(configs, noise_configs, hand_picked_repeats, plan_seed, space):
    """The trainings, in order (the module's docstring): each a dict of its `index`, `config`
    (an id), `kind` ("hand-picked", "uniform" or "repeat"), `repeat` (0 for a configuration's
    first training), `trial_seed` and `hyperparameters`."""
    def entry(config_id, repeat, hps):
        kind = "repeat" if repeat else "uniform" if config_id != HAND_PICKED_ID else config_id
        return {"config": config_id, "kind": kind, "repeat": repeat,
                "trial_seed": trial_seed(plan_seed, config_id, repeat), "hyperparameters": hps}

    name = "uniform-{:03d}".format
    entries = [entry(HAND_PICKED_ID, 0, dict(HAND_PICKED))]
    block = len(configs) // noise_configs if noise_configs else max(len(configs), 1)
    starts = range(0, len(configs), block)
    for number, start in enumerate(starts):
        members = range(start, min(start + block, len(configs)))
        entries += [entry(name(i), 0, configs[i]) for i in members]
        if number < noise_configs:
            pick = noise_configuration(members, configs, number, space)
            entries += [entry(name(pick), r, configs[pick]) for r in range(1, NOISE_SEEDS)]
        if number < hand_picked_repeats:
            entries.append(entry(HAND_PICKED_ID, number + 1, dict(HAND_PICKED)))
    entries += [entry(HAND_PICKED_ID, r, dict(HAND_PICKED))
                for r in range(len(starts) + 1, hand_picked_repeats + 1)]
    return [{"index": i, **e} for i, e in enumerate(entries)]


def recorded_plan(out):
    """The plan recorded for the trainings in `out`, or None if there is none yet."""
    path = plan_path(out)
    return atomic.read_json(path, "restore it from git or pass another --out") \
        if path.is_file() else None


def record_plan(out, plan):
    """Record `plan` (a dict: flags, trial settings, data, space, entries) for `out`."""
    atomic.write_json(plan_path(out), plan)


def check_same(recorded, current, out):
    """Raise a UserError unless `recorded` (the plan file) holds `current`'s value of each of
    its keys (compared as JSON)."""
    for key, value in current.items():
        if recorded.get(key) == json.loads(json.dumps(value)):
            continue
        if key == "flags":
            flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in recorded[key].items())
            raise UserError(f"{out} follows the plan of {flags} ({plan_path(out)}); run with "
                            "those flags or pass another --out")
        raise UserError(f"{out} was planned with other {RECORDED[key]} ({plan_path(out)}); "
                        "pass another --out")
