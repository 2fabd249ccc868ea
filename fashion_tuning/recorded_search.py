"""What a results folder records of its search, and whether a run may resume it: only with
the same settings and in the same mode (one process, or distributed) once a trial ran to its
end, and only where every recorded trial is intact."""

import dataclasses
import json
import time
from pathlib import Path

from fashion_tuning import atomic
from fashion_tuning.atomic import read_json
from fashion_tuning.config import flag_name
from fashion_tuning.errors import FRESH_START, UserError
from fashion_tuning.results_folder import LOCK_FILE, empty
from fashion_tuning.trial_log import LOG_FILE, ended_trials, read_trial_log

# What a resumed run must match (the settings, the search space, the data's fingerprint), and
# the id of the run that started the folder (it names the TensorBoard log folder).
SETTINGS_FILE = "settings.json"
ORACLE_FILE = "oracle.json"  # KerasTuner's: the oracle's state and the trials it started.
TRIAL_KEYS = {"trial_id", "hyperparameters", "metrics", "status"}  # What KerasTuner reloads.
# The version of the files this code writes into a folder (settings.json records it); a
# folder of another version is refused, not converted.
FORMAT = 6
TEMPORARY = ".tmp-*"  # `atomic.replacing`'s names: what a killed write leaves behind.


def prepare(folder, overwrite):
    """Make the locked `folder` ready for a run: with `overwrite`, empty it; else refuse it if
    its recorded search cannot be resumed intact, and remove the trials its oracle never
    recorded (`check_resumable`). Either way, remove the temporary files that killed writes
    left."""
    import shutil

    folder = Path(folder)
    if overwrite:
        empty(folder)
    for trial_dir in [] if overwrite else check_resumable(folder):
        shutil.rmtree(trial_dir)
    for leftover in [*folder.glob(TEMPORARY), *folder.glob(f"trial_*/{TEMPORARY}")]:
        leftover.unlink()


def fixed_settings(config, search_space, data_fingerprint, distributed):
    """The settings a resumed search must share with the one that started the folder, and the
    mode it ran in: KerasTuner reloads a process's state only from `<tuner id>.json`, so a
    distributed folder resumed by one process (or the reverse) would run its trials again."""
    fixed = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
             if f.metadata.get("fixed_on_resume")}
    fixed.update(config.rule_constants())
    # Through JSON, so that it compares equal to what an earlier run recorded.
    return json.loads(json.dumps({**fixed, "search_space": search_space,
                                  "data": data_fingerprint, "distributed": distributed}))


def check_resumable(folder):
    """Refuse, naming the damaged file, a folder whose recorded search cannot be resumed intact.

    KerasTuner numbers a new trial by how many trial.json files it finds, so one missing
    trial folder would make it write the next trial over a completed one.

    Returns:
        The trial folders that `oracle.json` does not record and that never finished: a kill
        between KerasTuner's write of a new trial.json and its write of oracle.json leaves
        one, which the resume must not count (the oracle draws that trial again).
    """
    folder = Path(folder)
    if (folder / SETTINGS_FILE).is_file():
        _check_format(folder, read_json(folder / SETTINGS_FILE))
    started = []
    if (folder / ORACLE_FILE).exists():
        started = read_json(folder / ORACLE_FILE).get("start_order")
        if not isinstance(started, list):
            raise UserError(f"{folder / ORACLE_FILE}: has no list of started trials; "
                            f"{FRESH_START}")
    for trial_id in started:
        path = folder / f"trial_{trial_id}" / "trial.json"
        if not path.is_file():
            raise UserError(f"{path}: missing, though {ORACLE_FILE} records trial {trial_id} "
                            f"(a resume would write over another trial); {FRESH_START}")
        if not TRIAL_KEYS <= set(read_json(path)):
            raise UserError(f"{path}: lacks {', '.join(sorted(TRIAL_KEYS))}; {FRESH_START}")
        if (path.parent / LOG_FILE).exists():
            read_trial_log(path.parent / LOG_FILE)
    uncommitted = [p for p in sorted(folder.glob("trial_*"))
                   if p.name.split("_", 1)[1] not in started]
    for trial_dir in uncommitted:
        state = trial_dir / "trial.json"
        if (trial_dir / LOG_FILE).exists() or (
                state.exists() and read_json(state).get("status") != "RUNNING"):
            raise UserError(f"{trial_dir}: a finished trial that {folder / ORACLE_FILE} does "
                            f"not record (the file is missing or damaged); {FRESH_START}")
    if started and not (folder / SETTINGS_FILE).is_file():
        raise UserError(f"{folder / SETTINGS_FILE}: missing, so what the recorded trials ran "
                        f"with is unknown; {FRESH_START}")
    return uncommitted


# Recorded settings that no flag sets, as a refusal names them.
NOT_FLAGS = {"data": "the data", "pruning_min_completed": "the completed trials pruning waits for",
             "judged_from_epoch": "the first epoch at which trials are judged"}


def _describe(key, value):
    """A recorded setting as a person reads it."""
    if key == "data" and isinstance(value, dict):
        return (f"{value.get('train_images')} train / {value.get('test_images')} test images, "
                f"sha256 {value.get('sha256')}")
    return value


def _check_format(folder, recorded):
    """Refuse a folder that another version of this tool wrote, or a record lacking its mode
    or its id (what a resume reads beyond the settings, which `_mismatch` compares)."""
    if recorded.get("format") != FORMAT:
        raise UserError(f"{folder} holds a search written by another version of this tool "
                        f"(results format {recorded.get('format', 1)}, this one writes "
                        f"{FORMAT}); {FRESH_START}")
    if not {"distributed", "search_id"} <= set(recorded):
        raise UserError(f"{Path(folder) / SETTINGS_FILE}: lacks distributed, search_id; "
                        f"{FRESH_START}")


def _mismatch(folder, recorded, settings):
    """Why the search `recorded` in `folder` cannot be resumed with `settings`, as a UserError
    (None if it can): another mode (`fixed_settings` says why), or changed settings."""
    if recorded["distributed"] and not settings["distributed"]:
        return UserError(f"{folder} holds a distributed search: resume it with --workers N "
                         "(or KerasTuner's chief and worker variables), as it was started; "
                         "one process would run its trials again")
    if settings["distributed"] and not recorded["distributed"]:
        return UserError(f"{folder} holds a one-process search: resume it without --workers "
                         "(and without KerasTuner's chief and worker variables), as it was "
                         "started; a distributed run would run its trials again")
    ignored = ("format", "search_id", "distributed")
    # Both sides' keys: a setting missing from the record is a change, not a match.
    changed = [k for k in sorted(set(recorded) | set(settings))
               if k not in ignored and recorded.get(k) != settings.get(k)]
    if not changed:
        return None
    flags = ", ".join("the search space" if k == "search_space" else
                      f"{NOT_FLAGS.get(k) or flag_name(k)} (was {_describe(k, recorded.get(k))}, "
                      f"now {_describe(k, settings.get(k))})" for k in changed)
    return UserError(f"{folder} holds a search with other settings: {flags}; {FRESH_START}")


def check_or_record_settings(folder, settings, overwrite, record=True, wait_s=60):
    """Record `settings` (the folder's format and a new run id with them) for a new search;
    for a resumed one, refuse another format, mode or setting (`_mismatch`) once a trial has
    run to its end. Before that nothing is kept to protect: a run with other settings starts
    afresh there (the stopped run's oracle, with its seed, and its unfinished trials go).

    A distributed worker passes `record=False`: only its chief writes the record, which the
    worker waits for (up to `wait_s` seconds; where the chief starts afresh, for the record of
    this run's settings) and then checks like a resume.
    """
    path = Path(folder) / SETTINGS_FILE
    deadline = time.monotonic() + (0 if record else wait_s)
    while True:
        mismatch = None
        if path.is_file() and not overwrite:
            recorded = read_json(path)
            _check_format(folder, recorded)
            mismatch = _mismatch(folder, recorded, settings)
        if mismatch and ended_trials(folder):
            raise mismatch
        if record or (path.is_file() and not mismatch) or time.monotonic() >= deadline:
            break
        time.sleep(0.2)
    if not record and mismatch:
        raise mismatch
    if record and mismatch:  # The old record stays until replaced whole: workers read it.
        empty(folder, keep=(LOCK_FILE, SETTINGS_FILE))
    if record and (mismatch or overwrite or not path.is_file()):
        atomic.write_json(path, {**settings, "format": FORMAT,
                                 "search_id": time.strftime("%Y%m%d-%H%M%S")})


def search_id(folder):
    """The id recorded when the search in `folder` started."""
    return read_json(Path(folder) / SETTINGS_FILE)["search_id"]
