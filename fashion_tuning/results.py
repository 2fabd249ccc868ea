"""The files that hold a finished run's results: summary.json (`RunResult`), written and read
back whole, and trials.csv."""

import csv
import hashlib
import io
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from fashion_tuning import atomic
from fashion_tuning.atomic import read_json
from fashion_tuning.errors import UserError
from fashion_tuning.recipe import Recipe
from fashion_tuning.summary_check import (contents_problem, fields_problem,
                                          settings_problem)
from fashion_tuning.trials import SCORED, TrialRecord

SUMMARY_FILE = "summary.json"  # `RunResult`.
TRIALS_FILE = "trials.csv"
MODEL_FILE = "final_model.keras"
REBUILD = "run the same tuning command again to rebuild it (completed trials are kept)"
TRIAL_COLUMNS = ("trial_id", "status", "val_accuracy", "best_epoch", "epochs_run",
                 "pruned_at_epoch", "seconds", "peak_rss_mb", "worker")


@dataclass
class RunResult:
    """Everything a finished run reports; `summary.json` is `asdict()` of it (docs/summary.md).
    A field is null only where its type allows None: a run of this version records every one;
    a summary archived from an earlier version holds null where its run recorded none."""

    strategy: str
    oracle_seed: int | None  # KerasTuner's, derived from the seed (`Config.oracle_seed`).
    precision_used: str  # The dtype policy (`settings.precision` is the one asked for).
    data_source: str
    data: dict  # `data.Dataset.fingerprint()`: what the run was trained and tested on.
    train_images: int
    val_images: int
    # The trial whose configuration the final training trained (`trained_trial`), and the
    # trial that scored highest (`top_trial`, KerasTuner's "best"): not always the same one.
    trained_trial_id: str
    trained_hyperparameters: dict
    trained_val_accuracy: float
    top_trial_id: str
    top_val_accuracy: float
    final_images: int | None
    test_accuracy: float
    test_loss: float | None
    per_class_accuracy: dict
    confusion_matrix: list
    search_seconds: float
    final_seconds: float
    total_seconds: float
    versions: dict
    machine: dict
    # Of `MODEL_FILE` as saved: a result is reused or reported only while that very file is
    # there (or, for an archived summary, no model file at all).
    model_sha256: str | None
    trials: list  # `TrialRecord`s as dicts.
    oracle: dict
    stopped_by_budget: bool
    # Provenance: the code (`environment.code_version`), this invocation's start and end
    # (ISO 8601, UTC) and how it was started.
    code_version: dict | None
    started_at: str | None
    finished_at: str | None
    command_line: str | None
    arguments: list | None
    # Every setting, once, by its flag's name, and the rule's constants (`Config.settings`);
    # read through `setting`.
    settings: dict

    def to_dict(self):
        return asdict(self)


# What the final training and the test evaluation decide.
FINAL_FIELDS = ("final_images", "test_loss", "test_accuracy", "per_class_accuracy",
                "confusion_matrix", "final_seconds", "model_sha256")
# Where, with what and when the final model was made: a rerun that only reports it keeps them.
MADE_BY = ("versions", "machine", "code_version", "started_at", "finished_at", "command_line",
           "arguments")


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
        UserError: the file is damaged: not JSON, or a field of `RunResult` is missing or not
            of its kind (`summary_problem`).
    """
    path = Path(folder) / SUMMARY_FILE
    if not path.is_file():
        return None
    summary = read_json(path, fix=REBUILD)
    problem = summary_problem(summary)
    if problem:
        raise UserError(f"{path}: damaged ({problem}); {REBUILD}")
    return summary


def summary_problem(summary):
    """What makes `summary` (a dict) other than a whole summary of this format, or "": every
    `RunResult` field of its kind, every trial a whole `TrialRecord` (a scored one with its
    score), every setting of its kind, a final recipe that this `Recipe` trains, and the nested
    fields as the reports read them (`summary_check`)."""
    problem = fields_problem(summary, RunResult)
    for i, trial in enumerate([] if problem else summary["trials"]):
        problem = problem or fields_problem(trial, TrialRecord, f"trials[{i}]") or (
            f"trials[{i}] is {trial['status']} without a score"
            if trial["status"] in SCORED and trial["val_accuracy"] is None else "")
    problem = problem or settings_problem(summary["settings"])
    if problem:
        return problem
    if not isinstance(setting(summary, "final_recipe"), dict):
        return "settings' final_recipe is not an object"
    try:
        final_recipe(summary)
    except TypeError as e:  # A part this version does not train, or a value of another kind.
        return f"settings' final_recipe is not a recipe of this version ({e})"
    return contents_problem(summary)


def setting(summary, name):
    """The setting `name` (a `Config` field, or a constant of `Config.rule_constants`) of the
    run that wrote `summary` (one `read_summary` accepted, which holds every setting); None only
    where `summary_check.NULLABLE` allows it: its default, or an archived run's unrecorded one."""
    return summary["settings"][name]


def final_recipe(summary):
    """The `Recipe` the final training of `summary`'s run added: its recorded fields, a field
    it lacks at its default (a TypeError for a field this `Recipe` lacks)."""
    return Recipe(**setting(summary, "final_recipe"))


def check_model(folder, summary):
    """Refuse `summary`, read from `folder`, if the model file there is not the one it
    describes (a run killed between saving a model and writing its summary); an archived
    summary, without a model file, has nothing to check.

    Raises:
        UserError: naming the model file and the fix.
    """
    model = Path(folder) / MODEL_FILE
    if model.is_file() and sha256_of(model) != summary["model_sha256"]:
        raise UserError(f"{model}: not the model that {SUMMARY_FILE} describes; run the same "
                        "tuning command again: it retrains and reports that model")


def recorded_final(folder, trained, records, config):
    """The final-training fields (`FINAL_FIELDS`) and the provenance (`MADE_BY`) that an
    earlier run of this very search recorded, or None if the final training must be done.

    It counts as done when summary.json holds the same trials (ids and statuses), the same
    trained trial, the same final epochs and recipe as `config`, and the model file on disk is
    the one it describes (its SHA-256): a model saved by a run killed before its summary was
    written is never reported with an older summary's numbers.
    """
    model = Path(folder) / MODEL_FILE
    try:
        summary = read_summary(folder)
    except UserError:
        return None  # Damaged: the final training runs again and writes a whole one.
    if not summary or not model.is_file() or sha256_of(model) != summary["model_sha256"]:
        return None
    same_trials = [(t["trial_id"], t["status"]) for t in summary["trials"]] == [
        (r.trial_id, r.status) for r in records]
    same_plan = (final_recipe(summary) == config.final_recipe
                 and setting(summary, "final_epochs") == config.final_epochs)
    if not same_trials or summary["trained_trial_id"] != trained.trial_id or not same_plan:
        return None
    return {k: summary[k] for k in FINAL_FIELDS + MADE_BY}
