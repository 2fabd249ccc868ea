"""KerasTuner's chief/worker mode through --workers, on loopback with tiny data."""

import json
import os
import signal
import time
from pathlib import Path

import pytest

from fashion_tuning import cli, folder
from fashion_tuning.distributed import strip_workers_flag
from helpers import (assert_completed_and_distinct, folder_files, read_summary, start_script,
                     wait_for)


def children(pid):
    """PIDs whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def tuner_id_of(pid):
    try:
        env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in env:
        if item.startswith(b"KERASTUNER_TUNER_ID="):
            return item.split(b"=", 1)[1].decode()
    return None


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"


def start(*args):
    return start_script("random_search_tuning.py", *args)


def test_strip_workers_flag():
    assert strip_workers_flag(["--workers", "2", "--epochs", "3", "--workers=4"]) == [
        "--epochs", "3"]


def test_two_workers_share_four_trials(tiny_data, tmp_path, in_process, capsys):
    args = ("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 4,
            "--epochs", 2, "--batch-size", 64)
    proc = start(*args, "--workers", 2)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, (out[-3000:], err[-3000:])
    assert "[worker0]" in out and "[worker1]" in out and "[chief]" in out
    folder = tmp_path / "random_search"
    summary = read_summary(folder)
    assert_completed_and_distinct(summary, 4)
    assert {t["worker"] for t in summary["trials"]} == {"worker0", "worker1"}
    assert (folder / "best_model.keras").is_file()
    assert "worker" in (folder / "trials.csv").read_text().splitlines()[0].split(",")
    assert not children(proc.pid)
    # One process would reload no tuner state (KerasTuner reads only `<tuner id>.json`) and
    # run every trial again: it is refused, and nothing in the folder changes.
    before = folder_files(folder)
    assert cli.main("random_search", [str(a) for a in args]) == 2
    assert "holds a distributed search: resume it with --workers" in capsys.readouterr().err
    assert folder_files(folder) == before


def test_killed_worker_fails_the_run_cleanly(tiny_data, tmp_path):
    proc = start("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 6,
                 "--epochs", 40, "--patience", 40, "--trial-epochs", 40, "--batch-size", 32,
                 "--workers", 2)
    folder = tmp_path / "random_search"
    wait_for(folder / "trial_1" / "trial.json", proc)
    kids = children(proc.pid)
    victim = next(pid for pid in kids if tuner_id_of(pid) == "worker1")
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert "worker1 exited" in err
    assert not any(alive(pid) for pid in kids), "a child process was left behind"


def test_interrupted_distributed_run_resumes(tiny_data, tmp_path):
    args = ("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 4,
            "--epochs", 30, "--patience", 30, "--trial-epochs", 30, "--batch-size", 32,
            "--workers", 2)
    folder = tmp_path / "random_search"
    proc = start(*args)
    wait_for(folder / "trial_2" / "trial.json", proc)
    kids = children(proc.pid)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "run the same command again to resume" in err
    assert not any(alive(pid) for pid in kids)
    done_before = {}
    for trial_file in folder.glob("trial_*/trial.json"):
        trial = json.loads(trial_file.read_text())
        if trial["status"] == "COMPLETED":
            done_before[trial["trial_id"]] = trial

    again = start(*args)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, (out[-2000:], err[-2000:])
    summary = read_summary(folder)
    assert_completed_and_distinct(summary, 4)
    for t in summary["trials"]:
        if t["trial_id"] in done_before:
            assert t["val_accuracy"] == done_before[t["trial_id"]]["score"]


def wait_dead(pids, timeout=60):
    """Wait until none of `pids` is alive; return the ones still alive after `timeout`."""
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGHUP])
def test_no_process_outlives_a_killed_or_hung_up_launcher(tiny_data, tmp_path, signum):
    args = ("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 4,
            "--epochs", 40, "--patience", 40, "--trial-epochs", 40, "--batch-size", 32,
            "--workers", 2)
    proc = start(*args)
    wait_for(tmp_path / "random_search" / "trial_1" / "trial.json", proc)
    kids = children(proc.pid)
    assert len(kids) == 3  # The chief and two workers.
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    if signum == signal.SIGHUP:  # Handled like Ctrl-C: the children are stopped, exit 129.
        assert proc.returncode == 129, err[-2000:]
    left = wait_dead(kids)
    for pid in left:  # Do not leave them running if the test fails.
        os.kill(pid, signal.SIGKILL)
    assert not left, "a chief or worker outlived its launcher"
    # The lock went with them: the next run takes it.
    folder.lock(tmp_path / "random_search").close()
