"""The surrogate against the real searches' own trials (`docs/results/study/`): trials it was
not fitted to, drawn where each strategy looks rather than uniformly. Were the surrogate too
kind where the Gaussian process proposes, the simulation would favour the Bayesian oracle.

A real seed has its own split, which shifts every trial of that seed alike, so a residual
(real score minus the surrogate's mean) is taken relative to the mean residual of its seed's
trials that no Gaussian process chose (the hand-picked and random ones): the residual of the
trials the Gaussian process chose then says how much too kind or too harsh the surrogate is
where that oracle looks. Median
stopping keeps only some trials to the end, and not at random, so the epoch-1 val_accuracy,
which every trial has, is compared too (against the surrogate's epoch-1 mean).
"""

import numpy as np

from benchmarks.surrogate import features
from benchmarks.verdict import mean_interval
from fashion_tuning.results import setting

PHASES = ("hand-picked", "random", "gaussian process")


def phase(summary, index):
    """Who chose trial `index` of a real run: the hand-picked first trial, a random draw, or
    the Bayesian oracle's Gaussian process (after its --initial-points)."""
    if index == 0:
        return "hand-picked"
    if summary["strategy"] == "bayesian_optimization" and \
            index >= setting(summary, "initial_points"):
        return "gaussian process"
    return "random"


def residuals(surrogate, summaries):
    """Per phase: the trials, and the mean residual (with its 95 % interval) and RMS of the
    score (completed trials) and of the epoch-1 val_accuracy (all trials), each relative to
    its seed's hand-picked and random trials. A Bayesian run's random trials replay the
    random run's of its seed, so only the random run's count where there is one."""
    rows = []
    randoms = {setting(s, "seed") for s in summaries if s["strategy"] == "random_search"}
    for s in summaries:
        for i, t in enumerate(s["trials"]):
            epoch_1 = (t.get("history") or {}).get("val_accuracy", [None])[0]
            replayed = s["strategy"] == "bayesian_optimization" and setting(s, "seed") in randoms
            if epoch_1 is None or (replayed and phase(s, i) != "gaussian process"):
                continue
            x = features([t["hyperparameters"]])
            rows.append({"seed": setting(s, "seed"), "phase": phase(s, i),
                         "score": t["val_accuracy"] if t["status"] == "completed" else None,
                         "score_mean": float(surrogate.mean(x)[0]), "epoch_1": epoch_1,
                         "epoch_1_mean": float(surrogate.models[0].predict(x)[0])})
    report = {}
    for what in ("score", "epoch_1"):
        kept = [r for r in rows if r[what] is not None]
        raw = {id(r): r[what] - r[f"{what}_mean"] for r in kept}
        offset = {seed: np.mean([raw[id(r)] for r in kept if r["seed"] == seed
                                 and r["phase"] != "gaussian process"])
                  for seed in {r["seed"] for r in kept}}
        for name in PHASES:
            res = [raw[id(r)] - offset[r["seed"]] for r in kept if r["phase"] == name]
            if len(res) > 1:
                report.setdefault(name, {})[what] = {
                    "trials": len(res), **mean_interval(res),
                    "rms": float(np.sqrt(np.mean(np.square(res))))}
    return report


def residuals_markdown(report, runs):
    from fashion_tuning.report import markdown_table

    def cell(r):
        return "" if r is None else "{:+.4f} [{:+.4f}, {:+.4f}], RMS {:.4f} ({} trials)".format(
            r["mean"], *r["ci95"], r["rms"], r["trials"])

    return "\n".join([
        f"Against the {runs} real searches' own trials (residual: real minus the surrogate's "
        "mean, relative to that of its seed's hand-picked and random trials):", "",
        markdown_table(["chosen by", "score (completed trials)", "epoch 1 (all trials)"],
                       [[name, cell(r.get("score")), cell(r.get("epoch_1"))]
                        for name, r in report.items()]), ""])
