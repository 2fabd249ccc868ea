"""What a person reads: the closing console table, and the figures of compare and study."""

from fashion_tuning import atomic
from fashion_tuning.config import Recipe


def format_duration(seconds):
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


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


def final_training_line(summary):
    """"12 epochs on 60,000 images" (and the recipe's additions, where it has any), from a
    summary or a final-training plan."""
    added = Recipe(**summary.get("final_recipe", {})).parts()
    images = summary.get("final_images")
    return (f"{summary['final_epochs']} epochs" + (f" on {images:,} images" if images else "")
            + (f" with {', '.join(added)}" if added else ""))


def summary_table(summary):
    """The closing console table, from a summary dict."""
    budget = summary.get("time_budget_minutes")
    rows = [
        ("Strategy", summary["strategy"]),
        ("Best val accuracy", f"{summary['best_val_accuracy']:.4f}"),
        ("Test accuracy", f"{summary['test_accuracy']:.4f}"),
        ("Test loss", f"{summary['test_loss']:.4f}"),
        ("Best hyperparameters", format_hyperparameters(summary["best_hyperparameters"])),
        ("Best trial", summary["best_trial_id"]),
        ("Final training", final_training_line(summary)),
        ("Trials run", f"{trial_counts(summary['trials'])} (max {summary['max_trials']}"
                       + (f"; time budget {budget:g} min"
                          + (", reached" if summary.get("stopped_by_budget") else "")
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
