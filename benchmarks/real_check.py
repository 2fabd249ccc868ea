"""The simulation against the real runs at the defaults: the same measures of a search, real
or simulated, and each real measure's interval over seeds beside the simulation's mean."""

from glob import glob

import numpy as np

from benchmarks.common import read_summary_at
from benchmarks.verdict import BUDGETS, best_so_far, mean_interval, pick
from fashion_tuning.config import STRATEGIES
from fashion_tuning.study_check import PER_SEED


def search_measures(trials, budget, margin):
    """What a search's first `budget` trials (dicts with `score`, `status` and `seconds`, real
    or simulated) say: the best score seen, it minus the hand-picked first trial's score (free
    of the split's offset, which shifts every trial of a real seed alike), whether the trained
    trial is the hand-picked one, how many trials median stopping stopped, and the minutes.
    A measure without a value (the hand-picked trial failed: nothing to be over; a trial's
    seconds unrecorded) is None."""
    trials = trials[:budget]
    best, first = best_so_far([t["score"] for t in trials])[-1], trials[0]["score"]
    return {"best_seen": best, "best_over_first": None if first is None else best - first,
            "kept_hand_picked": None if best is None else float(pick(trials, margin) == 0),
            "pruned": float(sum(t["status"] == "pruned" for t in trials)),
            "search_minutes": None if any(t["seconds"] is None for t in trials)
            else sum(t["seconds"] for t in trials) / 60}


# Settings a real run may hold at other than the defaults and still be a default search: the
# seed, where and how it ran, its length (a longer search's first trials are the shorter one),
# and what only the final training reads.
NOT_THE_SEARCH = PER_SEED + ("max_trials", "final_epochs", "final_recipe", "hand_picked_margin")


def real_runs(patterns):
    """The real default searches among the summaries that the globs `patterns` name: one per
    strategy and seed, the longest where a search was extended into another folder.

    Raises:
        UserError: a run searched at other than the default settings, naming the setting.
    """
    from fashion_tuning.config import fields_for
    from fashion_tuning.errors import UserError
    from fashion_tuning.results import setting

    runs = {}
    for path in (p for pattern in patterns for p in sorted(glob(str(pattern)))):
        summary = read_summary_at(path)
        for f in fields_for(summary["strategy"]):
            if f.name not in NOT_THE_SEARCH and setting(summary, f.name) != f.default:
                raise UserError(f"{path}: searched with {f.name} {setting(summary, f.name)}, not "
                                f"the default {f.default}; pass --real with default runs only")
        key = summary["strategy"], setting(summary, "seed")
        if key not in runs or len(summary["trials"]) > len(runs[key]["trials"]):
            runs[key] = summary
    return [runs[k] for k in sorted(runs)]


def real_trials(summary):
    """A real run's trials (`summary.json`) in the form `search_measures` reads."""
    return [{"score": t["val_accuracy"], "status": t["status"], "seconds": t["seconds"]}
            for t in summary["trials"]]


def check_against_real(runs, summaries, budgets=BUDGETS):
    """The simulated runs beside the real ones (`summary.json` dicts, default settings), per
    strategy and budget that real runs reached: each measure's real mean with its 95 %
    interval over seeds, and the simulation's mean (and where it falls)."""
    from fashion_tuning.config import HAND_PICKED_MARGIN
    from fashion_tuning.results import setting

    rows = []
    for strategy in STRATEGIES:
        real = [s for s in summaries if s["strategy"] == strategy]
        sim = [r["trials"] for r in runs if r["strategy"] == strategy]
        for budget in budgets:
            reached = [real_trials(s) for s in real if setting(s, "max_trials") >= budget
                       and len(s["trials"]) >= budget]
            if len(reached) < 2:
                continue
            real_m = [search_measures(t, budget, HAND_PICKED_MARGIN) for t in reached]
            sim_m = [search_measures(t, budget, HAND_PICKED_MARGIN) for t in sim]
            for key in real_m[0]:
                values = [m[key] for m in real_m if m[key] is not None]
                if len(values) < 2:
                    continue
                interval = (share_interval(values) if key == "kept_hand_picked"
                            else mean_interval(values))
                sim_mean = float(np.mean([m[key] for m in sim_m]))
                low, high = interval["ci95"]
                rows.append({"strategy": strategy, "budget": budget, "measure": key,
                             "real_runs": len(values), "real": interval, "simulated": sim_mean,
                             "within": bool(low <= sim_mean <= high)})
    return rows


def share_interval(flags):
    """The share of true `flags` and its exact 95 % interval (Clopper-Pearson): a t interval
    of six 1s would be [1, 1]."""
    from scipy import stats

    k, n = int(sum(flags)), len(flags)
    ci = stats.binomtest(k, n).proportion_ci(0.95, method="exact")
    return {"mean": k / n, "ci95": [float(ci.low), float(ci.high)]}


def check_markdown(rows):
    """`check_against_real`'s rows as a Markdown table."""
    from fashion_tuning.report import markdown_table

    return markdown_table(
        ["strategy", "trials", "measure", "real runs", "real mean [95 %]", "simulated mean",
         "within"],
        [[r["strategy"], r["budget"], r["measure"], r["real_runs"],
          "{:.4f} [{:.4f}, {:.4f}]".format(r["real"]["mean"], *r["real"]["ci95"]),
          f"{r['simulated']:.4f}", "yes" if r["within"] else "**no**"] for r in rows])
