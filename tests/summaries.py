"""Summaries for the tools that read a study: whole fake ones, damaged ones, and checks on
what those tools print and draw."""

import json
import struct
from pathlib import Path

from fashion_tuning.config import Config
from fashion_tuning.data import CLASS_NAMES


def fake_summary(strategy, seed=1, test=0.9, scores=(0.8, 0.85, None, 0.84)):
    """A whole summary dict (every `RunResult` field) as a run writes it, which trains its top
    trial; a None score is a failed trial."""
    trials = [{"trial_id": str(i), "status": "failed" if s is None else "completed",
               "hyperparameters": {"units": 64 + 32 * i, "dropout": 0.1 * (1 + i % 2),
                                   "learning_rate": 1e-3, "optimizer": "adam"},
               "val_accuracy": s, "epochs_run": 3, "best_epoch": 2, "seconds": 30.0 + i,
               "peak_rss_mb": 900.0, "worker": None, "message": "",
               "history": {} if s is None else {"val_accuracy": [s - 0.05, s]},
               "pruned_at_epoch": None} for i, s in enumerate(scores)]
    top = max((t for t in trials if t["val_accuracy"] is not None),
              key=lambda t: t["val_accuracy"])
    config = Config(max_trials=len(scores), epochs=3, trial_epochs=3, final_epochs=2,
                    final_recipe="none", seed=seed, results_dir=f"study/seed_{seed}")
    return {
        "strategy": strategy, "oracle_seed": config.oracle_seed, "precision_used": "float32",
        "data_source": "directory tests",
        "data": {"sha256": "0123456789abcdef", "train_images": 300, "test_images": 100},
        "train_images": 240, "val_images": 60,
        "trained_trial_id": top["trial_id"], "trained_hyperparameters": top["hyperparameters"],
        "trained_val_accuracy": top["val_accuracy"], "top_trial_id": top["trial_id"],
        "top_val_accuracy": top["val_accuracy"],
        "final_images": 300, "test_accuracy": test, "test_loss": 0.3,
        "per_class_accuracy": {c: 0.5 + i / 100 for i, c in enumerate(CLASS_NAMES)},
        "confusion_matrix": [[100 if i == j else 1 for j in range(10)] for i in range(10)],
        "search_seconds": 126.0, "final_seconds": 20.0, "total_seconds": 146.0,
        "versions": {"python": "3.11", "keras": "3", "keras_tuner": "1"},
        "machine": {"cpu": "Test CPU", "cpu_flags": [], "cores": 2, "gpus": []},
        "model_sha256": "ab" * 32, "trials": trials, "oracle": {}, "stopped_by_budget": False,
        "code_version": {"commit": "0" * 40}, "started_at": "2024-01-01T00:00:00+00:00",
        "finished_at": "2024-01-01T00:02:26+00:00", "command_line": "random_search_tuning.py",
        "arguments": [], "settings": config.settings(),
    }


def train_first(summary):
    """`summary` as that of a run whose final training trained its first trial, the
    hand-picked one."""
    first = summary["trials"][0]
    summary.update(trained_trial_id=first["trial_id"],
                   trained_hyperparameters=first["hyperparameters"],
                   trained_val_accuracy=first["val_accuracy"])
    return summary


# Summaries damaged as a kill, a hand or another version may leave them: (how, a change to a
# whole summary dict, what the one-line error says).
SUMMARY_DAMAGE = [
    ("without trials", lambda s: s.pop("trials"), "lacks trials"),
    ("without settings", lambda s: s.pop("settings"), "lacks settings"),
    ("without a setting", lambda s: s["settings"].pop("hand_picked_margin"),
     "settings lack hand_picked_margin"),
    ("trials not objects", lambda s: s.update(trials=[1, 2]), "trials[0] is not an object"),
    ("a trial without a key", lambda s: s["trials"][1].pop("history"), "trials[1] lacks history"),
    ("a score as text", lambda s: s.update(test_accuracy="0.9"),
     'test_accuracy is "0.9", not a number'),
    ("a completed trial without a score", lambda s: s["trials"][0].update(val_accuracy=None),
     "trials[0] is completed without a score"),
    ("a setting of another kind", lambda s: s["settings"].update(hand_picked_margin="0.0055"),
     'settings.hand_picked_margin is "0.0055", not a number'),
    ("a flag setting as a number", lambda s: s["settings"].update(pruning=1),
     "settings.pruning is 1, not true or false or null"),
    ("a count setting as true", lambda s: s["settings"].update(max_trials=True),
     "settings.max_trials is true, not an integer"),
    ("a class without a score", lambda s: s["per_class_accuracy"].pop("Bag"),
     "per_class_accuracy lacks Bag"),
    ("a class score as text", lambda s: s["per_class_accuracy"].update(Bag="0.5"),
     'per_class_accuracy.Bag is "0.5", not a number or null'),
    ("a ragged confusion matrix", lambda s: s["confusion_matrix"][3].pop(),
     "confusion_matrix is not 10 rows of 10 integers"),
    ("a machine without its cpu", lambda s: s["machine"].pop("cpu"), "machine lacks cpu"),
    ("no trials", lambda s: s.update(trials=[]), "no trials"),
    ("a trial id not a number", lambda s: s["trials"][2].update(trial_id="x"),
     'trial_id "x" is not a number'),
    ("a trained trial that is not a trial", lambda s: s.update(trained_trial_id="9"),
     'trained_trial_id "9" is not a trial\'s'),
    ("a top trial that is not a trial", lambda s: s.update(top_trial_id="9"),
     'top_trial_id "9" is not a trial\'s'),
]


def damaged(folder, change):
    """Rewrite the summary.json in `folder` with `change` (of `SUMMARY_DAMAGE`) made."""
    summary = json.loads((Path(folder) / "summary.json").read_text())
    change(summary)
    write_summary(Path(folder), summary)


def write_summary(folder, summary):
    """Put `summary` into `folder`/summary.json, as a finished run would."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary))


def one_error_line(capsys):
    """The stderr of a tool that failed as promised: one line, no traceback."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def png_size(path):
    """(width, height) of a PNG file, after checking its signature."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])
