"""The trials as a run reports them, and the two that matter: the one that scored highest and
the one whose configuration the final training trains."""

from dataclasses import dataclass, field


@dataclass
class TrialRecord:
    """One trial as reported: KerasTuner's state plus our `trial_log.TrialLog`.

    `status` is KerasTuner's, lower-case, except that a trial that median stopping ended is
    "pruned" (KerasTuner, and so its oracle, sees it as completed with its score so far).
    """

    trial_id: str
    status: str
    hyperparameters: dict
    val_accuracy: float | None
    epochs_run: int | None
    best_epoch: int | None
    seconds: float | None
    peak_rss_mb: float | None = None
    worker: str | None = None
    message: str = ""
    history: dict = field(default_factory=dict)
    pruned_at_epoch: int | None = None


def trial_records(logs, oracle_trials):
    """`TrialRecord`s of KerasTuner's `{trial_id: Trial}` with their `{trial_id: TrialLog}`
    `logs` (`trial_log.trial_logs`), in trial-id order."""
    records = []
    for trial_id, trial in sorted(oracle_trials.items(), key=lambda kv: int(kv[0])):
        log = logs.get(trial_id)
        score = trial.score if trial.status == "COMPLETED" else None
        pruned = trial.status == "COMPLETED" and log is not None and log.outcome == "pruned"
        records.append(TrialRecord(
            trial_id=trial_id,
            status="pruned" if pruned else trial.status.lower(),
            hyperparameters=dict(trial.hyperparameters.values),
            val_accuracy=None if score is None else float(score),
            epochs_run=log and log.epochs_run,
            best_epoch=None if trial.best_step is None else int(trial.best_step) + 1,
            seconds=log and log.seconds,
            peak_rss_mb=log and log.peak_rss_mb,
            worker=log and log.worker,
            message=(trial.message or "").strip().splitlines()[-1] if trial.message else "",
            history=log.history if log else {},
            pruned_at_epoch=log.pruned_at_epoch if pruned else None,
        ))
    return records


# The statuses of a trial with a score: pruned trials keep their best before they stopped.
SCORED = ("completed", "pruned")
# Scores are shares of the validation images kept as float32: a lead of exactly the margin (66
# of 12,000 images for 0.0055) must not turn on their last bit. Far below one image's share.
ROUNDING = 1e-6


def trained_trial(records, margin=0.0):
    """The trial whose configuration the final training trains, or None if none was scored.

    That is the top trial (`top_trial`), unless the first trial, the hand-picked
    configuration (`tuner.HandPickedFirst`), scored within `margin` of it: a smaller lead is
    within what reseeding one configuration changes, so the hand-picked one stays. A pruned
    trial's score is its best before it was stopped, below the median of the completed ones
    then, so it is the top one only if it really scored highest.
    """
    top = top_trial(records)
    first = records[0] if records else None
    if (first and first.status in SCORED
            and top.val_accuracy - first.val_accuracy <= margin + ROUNDING):
        return first
    return top


def top_trial(records):
    """The scored `TrialRecord` (completed or pruned) with the highest val_accuracy (the first
    one on ties), or None: the search's own best, whichever trial the final training trains."""
    return max((r for r in records if r.status in SCORED), key=lambda r: r.val_accuracy,
               default=None)
