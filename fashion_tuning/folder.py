"""The results folder: writable, used by one run at a time, resumed only with the same settings."""

import dataclasses
import fcntl
import json
import os
from pathlib import Path

from fashion_tuning import atomic
from fashion_tuning.config import flag_name
from fashion_tuning.errors import UserError

LOCK_FILE = ".lock"
SETTINGS_FILE = "settings.json"  # What a resumed run must match.
# What a folder recorded before a setting existed ran as: the value that old code behaved as.
BEFORE_RECORDED = {"no_pruning": True}


def check_writable(folder):
    """Create `folder` and prove it is writable, before any data is loaded.

    The probe file is unique to this call: a distributed chief and its workers check the
    same folder at the same moment, and a shared name let one delete the other's probe.
    """
    import tempfile

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as e:
        raise UserError(f"{folder}: results folder is not writable ({e.strerror}); "
                        "fix its permissions or pass another --results-dir") from None


def lock(folder):
    """Take an exclusive lock on `folder`, held until the returned file is closed or this
    process ends.

    The kernel drops an flock when its process dies, however it dies, so a lock left
    by a killed run is never stale: the next run simply takes it.

    Returns:
        The open lock file; keep a reference to it.
    """
    handle = open(Path(folder) / LOCK_FILE, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"{folder}: results folder is in use by process {other}; wait for it "
                        "to finish or pass another --results-dir") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def clear(folder):
    """Delete everything in `folder` but our lock (for --overwrite)."""
    import shutil

    for entry in Path(folder).iterdir():
        if entry.name == LOCK_FILE:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def fixed_settings(config, search_space):
    """The settings a resumed search must share with the one that started the folder."""
    fixed = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
             if f.metadata.get("fixed_on_resume")}
    # Through JSON, so that it compares equal to what a earlier run recorded.
    return json.loads(json.dumps({**fixed, "search_space": search_space}))


def check_or_record_settings(folder, settings, overwrite, record=True):
    """Record `settings` for a new search; for a resumed one, refuse any that changed.

    A distributed worker passes `record=False`: only its chief writes the record.
    """
    path = Path(folder) / SETTINGS_FILE
    if path.is_file() and not overwrite:
        recorded = {**BEFORE_RECORDED, **json.loads(path.read_text())}
        changed = [k for k in sorted(set(recorded) | set(settings))
                   if recorded.get(k) != settings.get(k)]
        if changed:
            flags = ", ".join(k if k == "search_space" else flag_name(k) +
                              f" (was {recorded.get(k)}, now {settings.get(k)})" for k in changed)
            raise UserError(f"{folder} holds a search with other settings: {flags}; pass "
                            "--overwrite to start afresh or choose another --results-dir")
        return
    if record:
        atomic.write_json(path, settings)
