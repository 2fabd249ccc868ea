"""The simulated study in one picture: best-so-far curves against the real runs', and the true
value of what each strategy trains, by trial count."""

import numpy as np

from benchmarks.real_check import real_trials
from benchmarks.verdict import best_so_far, mean_interval, pick
from fashion_tuning.config import HAND_PICKED_MARGIN, STRATEGIES

COLORS = {"random_search": "tab:blue", "bayesian_optimization": "tab:orange"}
NAMES = {"random_search": "Random", "bayesian_optimization": "Bayesian"}


def plot_simulation(runs, summaries, path, margin=HAND_PICKED_MARGIN):
    """Left: the best score seen minus the hand-picked first trial's, by trial, simulated (mean
    and the middle 95 % of single runs) and real (one line a run). Right: the true value (the
    surrogate's mean) of the configuration trained at `margin`, mean over seeds with its 95 %
    interval, by trial count."""
    import matplotlib.pyplot as plt

    from fashion_tuning.report import save_figure

    fig, (seen, trained) = plt.subplots(1, 2, figsize=(11, 4.2))
    for s in STRATEGIES:
        sim = [r["trials"] for r in runs if r["strategy"] == s]
        n = min(len(t) for t in sim)
        x = np.arange(1, n + 1)
        over = np.array([[b - t[0]["score"] for b in best_so_far([u["score"] for u in t[:n]])]
                         for t in sim])
        seen.plot(x, over.mean(axis=0), color=COLORS[s], label=f"{NAMES[s]}, simulated")
        seen.fill_between(x, *np.percentile(over, [2.5, 97.5], axis=0), color=COLORS[s],
                          alpha=0.15)
        # A real run whose hand-picked trial failed has nothing to be over.
        real = [real_trials(r) for r in summaries if r["strategy"] == s]
        for k, t in enumerate(t for t in real if t[0]["score"] is not None):
            curve = best_so_far([u["score"] for u in t])
            seen.plot(np.arange(1, len(t) + 1), [b - t[0]["score"] for b in curve],
                      color=COLORS[s], lw=0.7, ls="--",
                      label=f"{NAMES[s]}, real runs" if k == 0 else None)
        true = np.array([[t[pick(t[:b], margin)]["mean"] for b in x] for t in sim])
        # The tables' interval (Student's t), trial count by trial count.
        low, high = np.array([mean_interval(column)["ci95"] for column in true.T]).T
        trained.plot(x, true.mean(axis=0), color=COLORS[s], label=NAMES[s])
        trained.fill_between(x, low, high, color=COLORS[s], alpha=0.2)
    seen.set_ylabel("best score seen minus the hand-picked trial's")
    trained.set_ylabel(f"true value trained (margin {margin:g})")
    for ax in (seen, trained):
        ax.set_xlabel("trials")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize="small")
    fig.tight_layout()
    save_figure(fig, path)
