"""The results folder: writable, used by one run at a time, emptied for a fresh start; what a
stopped run leaves there. Whether a run may resume what it records: `recorded_search`."""

import os
from pathlib import Path

from fashion_tuning import system
from fashion_tuning.errors import UserError
from fashion_tuning.trial_log import ended_trials

LOCK_FILE = ".lock"


def check_writable(folder, flag="--results-dir", holds="results"):
    """Create `folder` and prove it is writable, before any data is loaded.

    The probe file is unique to this call: a distributed chief and its workers check the
    same folder at the same moment, and with a shared name one would delete the other's probe.

    Args:
        flag: the flag that names another folder, for the message.
        holds: what the folder is for, for the message.
    """
    import tempfile

    folder = Path(folder)
    blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise UserError(f"{blocker}: is a file, not a folder, so {folder} cannot hold {holds}; "
                        f"move the file away or pass another {flag}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as e:
        raise UserError(f"{folder}: {holds} folder is not writable ({e.strerror}); "
                        f"fix its permissions or pass another {flag}") from None


def lock(folder):
    """Take an exclusive lock on `folder`, held until the returned file is closed or this
    process ends.

    The OS drops the lock when its process dies, however it dies, so a lock left by a
    killed run is never stale: the next run simply takes it (`system.try_lock`).

    Returns:
        The open lock file; keep a reference to it.
    """
    handle = open(Path(folder) / LOCK_FILE, "a+")
    if not system.try_lock(handle):
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


def empty(folder, keep=(LOCK_FILE,)):
    """Delete everything in `folder` but the files named in `keep`."""
    import shutil

    for entry in Path(folder).iterdir():
        if entry.name in keep:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def what_is_kept(folder):
    """What a stopped run leaves in `folder` for the next one, as a clause of its last line."""
    ended = ended_trials(folder)
    if not ended:
        return (f"no trial had run to its end, so nothing is kept in {folder}: the next run "
                "there starts afresh, with these settings or others")
    trials = "1 trial that ran to its end is" if ended == 1 else (
        f"{ended} trials that ran to their end are")
    return f"{trials} kept in {folder}: run the same command again to resume"


