"""Time: the search time a folder has recorded, the time budget, and the line after each trial."""

import statistics

from fashion_tuning.report import format_duration
from fashion_tuning.trial_log import elapsed_search_seconds, trial_logs


def mean_trial_seconds(logs):
    """Mean wall time of the `TrialLog`s in `logs` (0 when there are none)."""
    seconds = [log.seconds for log in logs]
    return statistics.fmean(seconds) if seconds else 0.0


def budget_reached(folder, time_budget):
    """Whether one more trial would take the search in `folder` past `time_budget` minutes
    (`past_budget`; None: no budget)."""
    if time_budget is None:
        return False
    logs = list(trial_logs(folder).values())
    return past_budget(elapsed_search_seconds(logs), mean_trial_seconds(logs), time_budget)


def past_budget(elapsed_seconds, mean_trial, time_budget):
    """The time budget's rule: no new trial once the search time so far plus the mean trial
    time so far passes `time_budget` minutes."""
    return elapsed_seconds + mean_trial > time_budget * 60


def _scored(logs):
    """`{trial_id: best val_accuracy}` of the trials in `logs` that were scored."""
    scores = {trial_id: log.best_score() for trial_id, log in logs.items()}
    return {trial_id: score for trial_id, score in scores.items() if score is not None}


def progress_line(folder, trial_id, max_trials, final_epochs, time_budget=None,
                  final_images_ratio=1.0):
    """One line after trial `trial_id` ended: k/N, its score and outcome, the best so far, the
    search time so far, and an estimate of the time left: the search, and the final training
    of `final_epochs` on `final_images_ratio` times the trials' training images."""
    logs = trial_logs(folder)
    log = logs[trial_id]
    scores = _scored(logs)
    elapsed = elapsed_search_seconds(list(logs.values()))
    outcome = log.outcome
    if outcome == "pruned":
        outcome = f"pruned at epoch {log.pruned_at_epoch}"
    own = f"val_accuracy {scores[trial_id]:.4f}, {outcome}" if trial_id in scores else outcome
    line = f"[trial {len(logs)}/{max_trials}] trial_{trial_id}: {own}"
    if not scores:
        return f"{line} | search {format_duration(elapsed)}"
    best_id = max(scores, key=scores.get)
    search_left = max(0, max_trials - len(logs)) * mean_trial_seconds(list(logs.values()))
    if time_budget is not None:
        search_left = min(search_left, max(0.0, time_budget * 60 - elapsed))
    best = logs[best_id]
    # At the best trial's time per epoch, scaled to the final training's images.
    epoch_seconds = best.seconds / len(best.history["val_accuracy"]) * final_images_ratio
    final_left = epoch_seconds * final_epochs
    return (f"{line} | best {scores[best_id]:.4f} (trial_{best_id}) | search "
            f"{format_duration(elapsed)} | left ~{format_duration(search_left + final_left)} "
            f"(search ~{format_duration(search_left)}, final training "
            f"~{format_duration(final_left)})")
