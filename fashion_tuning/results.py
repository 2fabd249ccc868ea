"""The run's records and the files that hold them: run.json per trial, summary.json, trials.csv."""

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fashion_tuning import atomic
from fashion_tuning.errors import UserError

# Per trial, beside KerasTuner's trial.json: outcome (completed, pruned or failed), the epoch
# it was pruned at, start time and seconds, epochs run, worker, peak memory, and the per-epoch
# history (see `TrialRunner` in tuner.py). The name stays: old folders still resume.
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
TRIALS_FILE = "trials.csv"
MODEL_FILE = "best_model.keras"
FRESH_START = "pass --overwrite to start afresh or choose another --results-dir"
TRIAL_COLUMNS = ("trial_id", "status", "val_accuracy", "best_epoch", "epochs_run",
                 "pruned_at_epoch", "seconds", "peak_rss_mb", "worker")


@dataclass
class TrialRecord:
    """One trial as reported: KerasTuner's state plus our timing.

    `status` is KerasTuner's, lower-case, except that a trial that median stopping ended is
    "pruned" (KerasTuner, and so its oracle, sees it as completed with its score so far).
    """

    trial_id: str
    status: str
    hyperparameters: dict
    val_accuracy: float
    epochs_run: int
    best_epoch: int
    seconds: float
    peak_rss_mb: float = None
    worker: str = None  # KerasTuner's tuner id of the process that ran the trial.
    message: str = ""
    history: dict = field(default_factory=dict)  # Per-epoch loss, val_accuracy, ...
    pruned_at_epoch: int = None


@dataclass
class RunResult:
    """Everything a finished run reports; `summary.json` is `asdict()` of it."""

    strategy: str
    max_trials: int
    epochs: int
    batch_size: int
    patience: int
    trial_epochs: int
    seed: int
    oracle_seed: int  # KerasTuner's, derived from `seed` (`Config.oracle_seed`).
    val_fraction: float
    precision: str
    train_limit: int
    data_source: str
    train_images: int
    val_images: int
    best_trial_id: str
    best_hyperparameters: dict
    best_val_accuracy: float
    final_epochs: int  # A complete schedule of its own.
    final_recipe: dict  # `config.Recipe` as a dict.
    final_images: int
    test_accuracy: float
    test_loss: float
    per_class_accuracy: dict
    confusion_matrix: list
    search_seconds: float
    final_seconds: float
    total_seconds: float
    versions: dict
    machine: dict
    trials: list = field(default_factory=list)
    oracle: dict = field(default_factory=dict)
    pruning: bool = True
    time_budget_minutes: float = None
    stopped_by_budget: bool = False
    # Provenance: the code (`environment.code_version`), this invocation's start and end
    # (ISO 8601, UTC), how it was started, and every setting by its flag's name.
    code_version: dict = field(default_factory=dict)
    started_at: str = None
    finished_at: str = None
    command_line: str = None
    arguments: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def to_dict(self):
        return asdict(self)


# The `RunResult` fields that are the run's `Config` values as they are.
AS_CONFIGURED = ("max_trials", "epochs", "batch_size", "patience", "trial_epochs", "seed",
                 "val_fraction", "train_limit", "pruning")

# The `RunResult` fields that say how the final training ran, and those it and the test
# evaluation decide.
FINAL_PLAN = ("final_epochs", "final_recipe")
FINAL_FIELDS = (*FINAL_PLAN, "final_images", "test_loss", "test_accuracy",
                "per_class_accuracy", "confusion_matrix", "final_seconds")
# Names that summaries of earlier versions used.
OLD_NAMES = {"retrain_epochs": "final_epochs", "retrain_seconds": "final_seconds"}


def utc_now():
    """The time now, ISO 8601 in UTC, to the second, as summaries record times."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def read_json(path):
    """The JSON object in `path`; a damaged or unreadable file is a one-line UserError."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot be read ({type(e).__name__}: {e}); {FRESH_START}"
                        ) from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: holds {type(value).__name__}, not an object; {FRESH_START}")
    return value


def write_trial_run(trial_dir, run):
    """Record our facts about one trial (a dict) in its folder."""
    atomic.write_json(Path(trial_dir) / RUN_FILE, run)


def recorded_runs(folder):
    """`{trial_id: run}` of every trial in `folder` whose run.json was written (it finished)."""
    runs = {}
    for path in Path(folder).glob(f"trial_*/{RUN_FILE}"):
        runs[path.parent.name.split("_", 1)[1]] = read_json(path)
    return runs


def outcome(run):
    """A run.json's outcome: "completed", "pruned" or "failed" (files from before pruning
    recorded none; their trials ran to their end)."""
    return run.get("outcome", "completed")


def elapsed_search_seconds(runs):
    """Wall time the trials in `runs` (run.json dicts) took, overlaps counted once.

    Trials of one process follow each other; those of `--workers` overlap, and then this is
    the search's wall time, not the sum of its trials. Gaps between resumed runs don't count.
    """
    runs = list(runs)
    intervals = sorted((r["started_at"], r["started_at"] + r["seconds"])
                       for r in runs if r.get("started_at") is not None)
    total = sum(r.get("seconds") or 0 for r in runs if r.get("started_at") is None)
    covered_until = float("-inf")
    for start, end in intervals:
        total += max(0.0, end - max(start, covered_until))
        covered_until = max(covered_until, end)
    return total


def trial_records(folder, oracle_trials):
    """`TrialRecord`s of KerasTuner's `{trial_id: Trial}` in `folder`, in trial-id order."""
    records = []
    runs = recorded_runs(folder)
    for trial_id, trial in sorted(oracle_trials.items(), key=lambda kv: int(kv[0])):
        run = runs.get(trial_id, {})
        score = trial.score if trial.status == "COMPLETED" else None
        pruned = trial.status == "COMPLETED" and outcome(run) == "pruned"
        records.append(TrialRecord(
            trial_id=trial_id,
            status="pruned" if pruned else trial.status.lower(),
            hyperparameters=dict(trial.hyperparameters.values),
            val_accuracy=None if score is None else float(score),
            epochs_run=run.get("epochs_run"),
            best_epoch=None if trial.best_step is None else int(trial.best_step) + 1,
            seconds=run.get("seconds"),
            peak_rss_mb=run.get("peak_rss_mb"),
            worker=run.get("worker"),
            message=(trial.message or "").strip().splitlines()[-1] if trial.message else "",
            history=run.get("history", {}),
            pruned_at_epoch=run.get("pruned_at_epoch") if pruned else None,
        ))
    return records


def best_trial(records):
    """The scored trial (completed or pruned) with the highest val_accuracy (first one on
    ties), or None. A pruned trial's score is its best before it was stopped, below the median
    of the completed ones then, so it wins only if it really scored best."""
    scored = [r for r in records if r.status in ("completed", "pruned")]
    return max(scored, key=lambda r: r.val_accuracy, default=None)


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
    paths = Path(folder) / SUMMARY_FILE, Path(folder) / TRIALS_FILE
    atomic.write_json(paths[0], summary)
    atomic.write_text(paths[1], trials_csv(summary["trials"]))
    return paths


def read_summary(folder):
    """The summary dict that `write_results` wrote into `folder`, or None if there is none.

    Raises:
        UserError: the file is damaged.
    """
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        return None
    return {OLD_NAMES.get(k, k): v for k, v in read_json(path).items()}


def recorded_final(folder, best, records, plan):
    """The final-training fields that an earlier run of this very search recorded, or None if
    the final training must be done.

    It counts as done when summary.json and the model exist and the summary holds the same
    trials (ids and statuses), the same best trial, and the same `plan` (a dict of the
    `FINAL_PLAN` fields) as now.
    """
    try:
        summary = read_summary(folder)
    except UserError:
        return None  # Damaged: the final training runs again and writes a whole one.
    needed = {*FINAL_FIELDS, "trials", "best_trial_id"}
    if not summary or not needed <= set(summary) or not (Path(folder) / MODEL_FILE).is_file():
        return None
    same_trials = [(t["trial_id"], t["status"]) for t in summary["trials"]] == [
        (r.trial_id, r.status) for r in records]
    same_plan = {k: summary[k] for k in FINAL_PLAN} == plan
    if not same_trials or summary["best_trial_id"] != best.trial_id or not same_plan:
        return None
    return {k: summary[k] for k in FINAL_FIELDS}
