"""trial_log.json: what happened when a trial ran (outcome, timing, per-epoch history), beside
KerasTuner's trial.json; its one reader and writer."""

from dataclasses import asdict, dataclass, field
from pathlib import Path

from fashion_tuning import atomic
from fashion_tuning.atomic import read_json
from fashion_tuning.errors import FRESH_START, UserError

LOG_FILE = "trial_log.json"


@dataclass
class TrialLog:
    """Our facts about one trial that ran to its end, written when it ends (`trial_log.json`)."""

    outcome: str  # "completed", "pruned" (median stopping ended it) or "failed".
    started_at: float  # Unix time.
    seconds: float
    epochs_run: int
    worker: str  # KerasTuner's tuner id of the process that ran it.
    peak_rss_mb: float = None  # The process's peak so far: flat across trials, or a leak.
    history: dict = field(default_factory=dict)  # Per-epoch loss, val_accuracy, ...
    pruned_at_epoch: int = None
    median_at_pruning: float = None

    def best_score(self):
        """Its best val_accuracy, or None if it failed or recorded none."""
        scores = self.history.get("val_accuracy")
        return max(scores) if scores and self.outcome != "failed" else None


def write_trial_log(trial_dir, log: TrialLog):
    """Write `log` as the trial folder's trial_log.json."""
    atomic.write_json(Path(trial_dir) / LOG_FILE, asdict(log))


def read_trial_log(path):
    """The `TrialLog` in the trial_log.json at `path`; a damaged one is a one-line UserError."""
    recorded = read_json(path)
    try:
        return TrialLog(**recorded)
    except TypeError:
        raise UserError(f"{path}: not a trial log of this version; {FRESH_START}") from None


def trial_logs(folder):
    """`{trial_id: TrialLog}` of every trial in `folder` that ran to its end."""
    return {path.parent.name.split("_", 1)[1]: read_trial_log(path)
            for path in Path(folder).glob(f"trial_*/{LOG_FILE}")}


def ended_trials(folder):
    """How many trials in `folder` ran to their end (what a resume keeps)."""
    return len(list(Path(folder).glob(f"trial_*/{LOG_FILE}")))


def elapsed_search_seconds(logs):
    """Wall time the `TrialLog`s in `logs` took, overlaps counted once.

    Trials of one process follow each other; those of `--workers` overlap, and then this is
    the search's wall time, not the sum of its trials. Gaps between resumed runs don't count.
    """
    total, covered_until = 0.0, float("-inf")
    for start, end in sorted((log.started_at, log.started_at + log.seconds) for log in logs):
        total += max(0.0, end - max(start, covered_until))
        covered_until = max(covered_until, end)
    return total
