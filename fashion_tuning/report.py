"""What a person reads: the closing console table, the helper tools' tables, figures and
error lines."""

import sys

import numpy as np

from fashion_tuning import atomic
from fashion_tuning.errors import UserError
from fashion_tuning.exits import ending
from fashion_tuning.results import final_recipe, setting


def format_duration(seconds):
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def number(value, digits=4):
    """`value` to `digits` decimals, or "n/a" where a summary records none (null)."""
    return "n/a" if value is None else f"{value:.{digits}f}"


def format_hyperparameters(hp):
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in sorted(hp.items()))


def trial_counts(trials):
    """"7 completed, 3 pruned of 10" (failed and other statuses too, where there are any)."""
    counts = {}
    for t in trials:
        counts[t["status"]] = counts.get(t["status"], 0) + 1
    parts = [f"{counts.pop('completed', 0)} completed"]
    parts += [f"{n} {status}" for status, n in sorted(counts.items())]
    return f"{', '.join(parts)} of {len(trials)}"


def final_training_line(epochs, recipe, images=None):
    """"12 epochs on 60,000 images" (and what the `recipe` adds, where it adds anything)."""
    added = recipe.parts()
    return (f"{epochs} epochs" + (f" on {images:,} images" if images else "")
            + (f" with {', '.join(added)}" if added else ""))


def final_training(summary):
    """`final_training_line` of the run that wrote `summary`."""
    return final_training_line(setting(summary, "final_epochs"), final_recipe(summary),
                               summary["final_images"])


def parenthesised(note):
    """" (note)", or "" for no note."""
    return f" ({note})" if note else ""


def kept_note(trained_id, top_id, lead, margin):
    """"" if the trained trial is the top one; else why the final training trains it: it is the
    hand-picked first trial, and the top trial's `lead` was within `margin`
    (--hand-picked-margin)."""
    if trained_id == top_id:
        return ""
    return (f"the hand-picked first trial: trial {top_id} scored {lead:.4f} higher, within "
            f"--hand-picked-margin {margin:g}")


def trained_and_top(summary):
    """The "Trained trial" and "Top trial" cells of a summary's tables: each trial's id and
    val accuracy, and why the trained one is not the top one where it is not."""
    trained, top = summary["trained_trial_id"], summary["top_trial_id"]
    note = kept_note(trained, top, summary["top_val_accuracy"] - summary["trained_val_accuracy"],
                     setting(summary, "hand_picked_margin"))
    return (f"{trained}: val accuracy {summary['trained_val_accuracy']:.4f}{parenthesised(note)}",
            f"{top}: val accuracy {summary['top_val_accuracy']:.4f}")


def markdown_table(header, rows):
    """A Markdown table of `header` (cells) and `rows` (lists of cells)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def summary_table(summary):
    """The closing console table, from a summary dict."""
    budget = setting(summary, "time_budget")
    trained, top = trained_and_top(summary)
    rows = [
        ("Strategy", summary["strategy"]),
        ("Trained trial", trained),
        ("Top trial", top),
        ("Test accuracy", f"{summary['test_accuracy']:.4f}"),
        ("Test loss", number(summary["test_loss"])),
        ("Trained hyperparameters", format_hyperparameters(summary["trained_hyperparameters"])),
        ("Final training", final_training(summary)),
        ("Trials run", f"{trial_counts(summary['trials'])} (max {setting(summary, 'max_trials')}"
                       + (f"; time budget {budget:g} min"
                          + (", reached" if summary["stopped_by_budget"] else "")
                          if budget else "") + ")"),
        ("Search time", format_duration(summary["search_seconds"])),
        ("Final training time", format_duration(summary["final_seconds"])),
        ("Elapsed time", format_duration(summary["total_seconds"])),
        ("Data", summary["data_source"]),
    ]
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 2 + max(len(v) for _, v in rows))
    return "\n".join([line, *(f"{k:<{width}}  {v}" for k, v in rows), line])


def save_figure(fig, path):
    """Save the matplotlib `fig` as a PNG, atomically, and close it."""
    import matplotlib.pyplot as plt

    try:
        with atomic.replacing(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)


def mean_and_sd(curves):
    """Mean and standard deviation over equal-length rows; NaN wherever a run has no score
    yet, so that a mean curve starts once every run has one."""
    curves = np.array(curves, dtype=float)
    return curves.mean(axis=0), curves.std(axis=0)


def best_so_far_at(runs, grid):
    """Each run's best so far at every time of `grid` (that of its last trial ended by then,
    NaN before its first), one row per run of `(seconds, best)` points."""
    rows = []
    for run in runs:
        times = np.array([t for t, _ in run])
        bests = np.array([np.nan if b is None else b for _, b in run], dtype=float)
        ended = np.searchsorted(times, grid, side="right") - 1
        rows.append(np.where(ended >= 0, bests[np.maximum(ended, 0)], np.nan))
    return rows


def plot_study(strategies, labels, path):
    """Mean best-so-far validation accuracy (±1 sd band) against trial number and against
    search time, per strategy of `strategies` (study.json's) under its name in `labels`."""
    import matplotlib.pyplot as plt

    fig, (by_trial, by_time) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    end = max(run[-1][0] for stats in strategies.values() for run in stats["best_so_far_by_time"])
    grid = np.linspace(0, end, 200)
    for (strategy, stats), color in zip(strategies.items(), ("tab:blue", "tab:orange")):
        curves = stats["best_so_far_curves"]
        n = min(len(c) for c in curves)
        by_trial_rows = [[np.nan if v is None else v for v in c[:n]] for c in curves]
        for ax, x, rows in ((by_trial, np.arange(1, n + 1), by_trial_rows),
                            (by_time, grid / 60,
                             best_so_far_at(stats["best_so_far_by_time"], grid))):
            mean, sd = mean_and_sd(rows)
            ax.plot(x, mean, color=color, label=f"{labels[strategy]} (mean of {len(curves)})")
            ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2)
    by_trial.set_xlabel("trial")
    by_time.set_xlabel("search time (minutes)")
    by_trial.set_ylabel("best validation accuracy so far")
    for ax in (by_trial, by_time):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)


def run_tool(run, folder=None, flag="--results-dir"):
    """Call `run()` and return its exit code. What a helper tool's user can cause, a UserError
    or an OSError while writing into `folder` (if it writes), is one line on stderr and exit 2
    (`exits.ending`); `flag` is the one that names another folder."""
    try:
        return run()
    except (UserError, OSError) as e:
        ended = ending(e, folder, flag, kept="", any_os_error=True)
        if ended is None:
            raise
        code, line = ended
        print(line, file=sys.stderr)
        return code
