"""Median stopping: end a trial whose best val_accuracy so far trails the finished trials'.

The rule of Google Vizier, Optuna's `MedianPruner` and Ray Tune's median stopping rule: at
epoch `judged_from_epoch` (1-based) and later, once `min_completed` trials have completed (run
to their own end, not pruned), a trial stops at the first epoch where its best validation
accuracy so far is below the median of the completed trials' best validation accuracy up to
that same epoch. A completed trial that ended before that epoch counts with its best over all
its epochs.

The history comes from the trials' `trial_log.json` files in the results folder, so the rule
sees what every process recorded there: one process, `--workers`, or several hosts.
"""

import math
import statistics

import keras

from fashion_tuning.trial_log import trial_logs
from fashion_tuning.config import PRUNING_MIN_COMPLETED as MIN_COMPLETED


def median_to_beat(scores, completed, judged_from_epoch, min_completed=MIN_COMPLETED):
    """The median that the trial with per-epoch val_accuracy `scores` fell below at its last
    epoch, or None if it may go on.

    Args:
        scores: the trial's val_accuracy per epoch so far.
        completed: per-epoch val_accuracy lists of the completed trials.
    """
    epoch = len(scores)
    if epoch < judged_from_epoch or len(completed) < min_completed:
        return None
    median = statistics.median(max(history[:epoch]) for history in completed)
    return median if max(scores) < median else None


class MedianStopping(keras.callbacks.Callback):
    """Applies `median_to_beat` at each epoch end of one trial before its `trial_epochs` (the
    end of its schedule) and stops it when it says so.

    After the fit, `pruned_at` is the epoch (1-based) it stopped the trial at, or None, and
    `median` the median the trial fell below.
    """

    def __init__(self, folder, judged_from_epoch, trial_epochs, min_completed=MIN_COMPLETED):
        super().__init__()
        self.folder, self.min_completed = folder, min_completed
        self.judged_from_epoch, self.trial_epochs = judged_from_epoch, trial_epochs
        self.scores, self.pruned_at, self.median = [], None, None

    def __deepcopy__(self, memo):  # KerasTuner deep-copies callbacks: keep this one readable.
        return self

    def on_epoch_end(self, epoch, logs=None):
        self.scores.append(float((logs or {}).get("val_accuracy", float("nan"))))
        if not self.judged_from_epoch <= len(self.scores) < self.trial_epochs:
            # Before the first judged epoch, not even worth reading the folder. At the last
            # epoch the trial ends anyway: stopping it would save nothing, and would record a
            # finished trial as pruned and keep it out of the median of later trials.
            return
        median = median_to_beat(self.scores, completed_histories(self.folder),
                                self.judged_from_epoch,
                                self.min_completed)
        if median is not None:
            self.pruned_at, self.median = epoch + 1, median
            self.model.stop_training = True


def completed_histories(folder):
    """Per-epoch val_accuracy of each trial in `folder` that completed (not pruned, not failed)."""
    histories = [log.history.get("val_accuracy")
                 for log in trial_logs(folder).values() if log.outcome == "completed"]
    return [h for h in histories if h and all(v is not None and math.isfinite(v) for v in h)]
