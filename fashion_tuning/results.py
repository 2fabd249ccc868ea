"""The run's records and the files that hold them: summary.json and trials.csv."""

import csv
import dataclasses
import hashlib
import io
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from fashion_tuning import atomic
from fashion_tuning.atomic import read_json
from fashion_tuning.errors import UserError
from fashion_tuning.recipe import Recipe

SUMMARY_FILE = "summary.json"  # `RunResult`.
TRIALS_FILE = "trials.csv"
MODEL_FILE = "best_model.keras"
REBUILD = "run the same tuning command again to rebuild it (completed trials are kept)"
TRIAL_COLUMNS = ("trial_id", "status", "val_accuracy", "best_epoch", "epochs_run",
                 "pruned_at_epoch", "seconds", "peak_rss_mb", "worker")


@dataclass
class TrialRecord:
    """One trial as reported: KerasTuner's state plus our `trial_log.TrialLog`.

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
    worker: str = None
    message: str = ""
    history: dict = field(default_factory=dict)
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
    precision_used: str  # The dtype policy (`settings.precision` is the one asked for).
    train_limit: int
    data_source: str
    train_images: int
    val_images: int
    best_trial_id: str
    best_hyperparameters: dict
    best_val_accuracy: float
    final_epochs: int  # A complete schedule of its own.
    final_recipe: dict  # `recipe.Recipe` as a dict.
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
    # Of `MODEL_FILE` as saved (always written; reports read summaries without it too): a
    # result is reused only while that very file is there.
    model_sha256: str = None
    trials: list = field(default_factory=list)
    oracle: dict = field(default_factory=dict)
    pruning: bool = True
    time_budget: float = None  # Minutes, as --time-budget.
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


# What every summary holds: the `RunResult` fields without a default.
REQUIRED = tuple(f.name for f in dataclasses.fields(RunResult)
                 if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
# The fields that say how the final training ran, and those it and the test evaluation decide.
FINAL_PLAN = ("final_epochs", "final_recipe")
FINAL_FIELDS = (*FINAL_PLAN, "final_images", "test_loss", "test_accuracy",
                "per_class_accuracy", "confusion_matrix", "final_seconds", "model_sha256")


def utc_now():
    """The time now, ISO 8601 in UTC, to the second, as summaries record times."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def sha256_of(path):
    """The SHA-256 (hex) of the file at `path`."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def trial_records(runs, oracle_trials):
    """`TrialRecord`s of KerasTuner's `{trial_id: Trial}` with their `{trial_id: TrialLog}`
    `runs` (`trial_log.trial_logs`), in trial-id order."""
    records = []
    for trial_id, trial in sorted(oracle_trials.items(), key=lambda kv: int(kv[0])):
        run = runs.get(trial_id)
        score = trial.score if trial.status == "COMPLETED" else None
        pruned = trial.status == "COMPLETED" and run is not None and run.outcome == "pruned"
        records.append(TrialRecord(
            trial_id=trial_id,
            status="pruned" if pruned else trial.status.lower(),
            hyperparameters=dict(trial.hyperparameters.values),
            val_accuracy=None if score is None else float(score),
            epochs_run=run and run.epochs_run,
            best_epoch=None if trial.best_step is None else int(trial.best_step) + 1,
            seconds=run and run.seconds,
            peak_rss_mb=run and run.peak_rss_mb,
            worker=run and run.worker,
            message=(trial.message or "").strip().splitlines()[-1] if trial.message else "",
            history=run.history if run else {},
            pruned_at_epoch=run.pruned_at_epoch if pruned else None,
        ))
    return records


# The statuses of a trial with a score: pruned trials keep their best before they stopped.
SCORED = ("completed", "pruned")


def best_trial(records, margin=0.0):
    """The trial whose configuration the final training trains, or None if none was scored.

    That is the scored trial (completed or pruned) with the highest val_accuracy (first one on
    ties), unless the first trial, the hand-picked configuration (`tuner.HandPickedFirst`),
    scored within `margin` of it: a smaller lead is within what reseeding one configuration
    changes, so the hand-picked one stays. A pruned trial's score is its best before it was
    stopped, below the median of the completed ones then, so it wins only if it really scored
    best.
    """
    scored = [r for r in records if r.status in SCORED]
    top = max(scored, key=lambda r: r.val_accuracy, default=None)
    first = records[0] if records else None
    if first and first.status in SCORED and top.val_accuracy - first.val_accuracy <= margin:
        return first
    return top


def top_trial(trials):
    """The scored trial of `trials` (summary dicts) with the highest val_accuracy (first one on
    ties), or None: the search's own best, whichever trial the final training trained."""
    return max((t for t in trials if t["status"] in SCORED), key=lambda t: t["val_accuracy"],
               default=None)


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


def read_summary(folder, required=REQUIRED):
    """The summary dict that `write_results` wrote into `folder`, or None if there is none.

    Args:
        required: the fields the caller reads; a study of archived runs asks for fewer than
            every summary of this version has.

    Raises:
        UserError: the file is damaged, or lacks a `required` field.
    """
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        return None
    summary = read_json(path, fix=REBUILD)
    missing = [name for name in required if name not in summary]
    if missing:
        raise UserError(f"{path}: lacks {', '.join(missing[:3])}"
                        f"{' and more' if len(missing) > 3 else ''}; {REBUILD}")
    return summary


def recorded_final(folder, best, records, plan):
    """The final-training fields that an earlier run of this very search recorded, or None if
    the final training must be done.

    It counts as done when summary.json holds the same trials (ids and statuses), the same best
    trial and the same `plan` (the `FINAL_PLAN` fields) as now, and the model file on disk is
    the one it describes (its SHA-256): a model saved by a run killed before its summary was
    written is never reported with an older summary's numbers.
    """
    model = Path(folder) / MODEL_FILE
    try:
        summary = read_summary(folder)
    except UserError:
        return None  # Damaged: the final training runs again and writes a whole one.
    if not summary or not model.is_file() or sha256_of(model) != summary.get("model_sha256"):
        return None
    same_trials = [(t["trial_id"], t["status"]) for t in summary["trials"]] == [
        (r.trial_id, r.status) for r in records]
    try:  # As a recipe: a field added to `Recipe` since takes its default, as that run did.
        recorded = Recipe.recorded(summary["final_recipe"])
    except TypeError:  # A field this version lacks.
        return None
    same_plan = recorded == Recipe(**plan["final_recipe"]) and all(
        summary[k] == plan[k] for k in FINAL_PLAN if k != "final_recipe")
    if not same_trials or summary["best_trial_id"] != best.trial_id or not same_plan:
        return None
    return {**{k: summary[k] for k in FINAL_FIELDS}, **plan}
