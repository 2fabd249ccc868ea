"""Turn a `RunResult` into summary.json, trials.csv and the console table."""

import csv
import io
import json
import os
from pathlib import Path

SUMMARY_FILE = "summary.json"
TRIALS_FILE = "trials.csv"
TRIAL_COLUMNS = ("trial_id", "status", "val_accuracy", "best_epoch", "epochs_run", "seconds",
                 "peak_rss_mb", "worker")


def atomic_write_text(path, text):
    """Write `text` to `path` via a temporary file and a rename: never half-written."""
    path = Path(path)
    tmp = path.with_name(".tmp-" + path.name)
    tmp.write_text(text)
    os.replace(tmp, path)


def trials_csv(trials):
    """CSV text, one row per trial: fixed columns, then one column per hyperparameter."""
    hp_names = sorted({name for t in trials for name in t["hyperparameters"]})
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*TRIAL_COLUMNS, *hp_names, "message"])
    for t in trials:
        writer.writerow([*(t[c] for c in TRIAL_COLUMNS),
                         *(t["hyperparameters"].get(n) for n in hp_names), t["message"]])
    return out.getvalue()


def write_results(result, folder):
    """Write `summary.json` and `trials.csv` into `folder`; return their paths."""
    summary = result.to_dict()
    folder = Path(folder)
    paths = folder / SUMMARY_FILE, folder / TRIALS_FILE
    atomic_write_text(paths[0], json.dumps(summary, indent=2) + "\n")
    atomic_write_text(paths[1], trials_csv(summary["trials"]))
    return paths


def format_duration(seconds):
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def format_hyperparameters(hp):
    return ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in sorted(hp.items()))


def summary_table(summary):
    """The closing console table, from a summary dict."""
    completed = sum(t["status"] == "completed" for t in summary["trials"])
    rows = [
        ("Strategy", summary["strategy"]),
        ("Best val accuracy", f"{summary['best_val_accuracy']:.4f}"),
        ("Test accuracy", f"{summary['test_accuracy']:.4f}"),
        ("Test loss", f"{summary['test_loss']:.4f}"),
        ("Best hyperparameters", format_hyperparameters(summary["best_hyperparameters"])),
        ("Best trial", f"{summary['best_trial_id']} (retrained {summary['retrain_epochs']} "
                       "epochs)"),
        ("Trials run", f"{completed} completed of {len(summary['trials'])} "
                       f"(max {summary['max_trials']})"),
        ("Search time", format_duration(summary["search_seconds"])),
        ("Retrain time", format_duration(summary["retrain_seconds"])),
        ("Elapsed time", format_duration(summary["total_seconds"])),
        ("Data", summary["data_source"]),
    ]
    width = max(len(k) for k, _ in rows)
    line = "-" * (width + 2 + max(len(v) for _, v in rows))
    return "\n".join([line, *(f"{k:<{width}}  {v}" for k, v in rows), line])
