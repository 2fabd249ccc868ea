"""KerasTuner's chief/worker mode through --workers, on loopback with tiny data."""

import errno
import json
import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from fashion_tuning import cli, recorded_search, results_folder
from fashion_tuning.distributed import strip_workers_flag
from fashion_tuning.errors import UserError
from fashion_tuning.trial_log import LOG_FILE
from helpers import (assert_completed_and_distinct, folder_files, lock_holder, nothing_kept,
                     read_summary, read_until, refused, start_script, tiny_args, wait_until)


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


def wait_dead(pids, timeout=60):
    """Wait until none of `pids` is alive; return the ones still alive after `timeout`."""
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [pid for pid in pids if alive(pid)]


def assert_none_outlives(kids):
    left = wait_dead(kids)
    for pid in left:  # Do not leave them running if the test fails.
        os.kill(pid, signal.SIGKILL)
    assert not left, "a chief or worker outlived its launcher"


@pytest.mark.slow
def test_a_worker_killed_mid_trial_fails_the_run_then_two_workers_finish_it(
        tiny_data, tmp_path, in_process, capsys):
    args = ("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 3,
            "--epochs", 4, "--batch-size", 64, "--final-epochs", 1, "--final-recipe", "none")
    folder = tmp_path / "random_search"
    proc = start(*args, "--workers", 2)
    # Once a third trial was handed out (so one has completed), in the middle of a trial: of
    # the first worker to start an epoch after that.
    read_until(proc, "[chief] Search: Running Trial #3")
    victim = read_until(proc, "] Epoch ").splitlines()[-1].split("]")[0].lstrip("[")
    kids = children(proc.pid)
    os.kill(next(pid for pid in kids if tuner_id_of(pid) == victim), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err[-2000:]
    assert re.fullmatch(rf"error: {victim} exited with code -9; stopped the others; \d trials? "
                        rf"that ran to (its|their) end (is|are) kept in {folder}: run the same "
                        "command again to resume", err.strip().splitlines()[-1]), err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    assert_none_outlives(kids)
    done_before = {}
    for trial_file in folder.glob("trial_*/trial.json"):
        trial = json.loads(trial_file.read_text())
        if trial["status"] == "COMPLETED":
            done_before[trial["trial_id"]] = trial
    assert done_before

    again = start(*args, "--workers", 2)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, (out[-3000:], err[-3000:])
    assert "[worker0]" in out and "[worker1]" in out and "[chief]" in out
    summary = read_summary(folder)
    assert_completed_and_distinct(summary, 3)
    assert {t["worker"] for t in summary["trials"]} == {"worker0", "worker1"}
    for t in summary["trials"]:  # What completed before was kept, not run again.
        if t["trial_id"] in done_before:
            assert t["val_accuracy"] == done_before[t["trial_id"]]["score"]
    assert (folder / "final_model.keras").is_file()
    assert "worker" in (folder / "trials.csv").read_text().splitlines()[0].split(",")
    assert not children(again.pid)
    # One process would reload no tuner state (KerasTuner reads only `<tuner id>.json`) and
    # run every trial again: it is refused, and nothing in the folder changes.
    before = folder_files(folder)
    assert cli.main("random_search", [str(a) for a in args]) == 2
    assert "holds a distributed search: resume it with --workers" in capsys.readouterr().err
    assert folder_files(folder) == before


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGHUP])
def test_no_process_outlives_a_killed_or_hung_up_launcher(tiny_data, tmp_path, signum):
    results = tmp_path / "random_search"
    proc = start("--data-dir", tiny_data, "--results-dir", tmp_path, "--max-trials", 2,
                 "--workers", 2)
    wait_until(lambda: len(children(proc.pid)) == 3, proc)  # The chief and two workers.
    kids = children(proc.pid)
    chief = next(pid for pid in kids if tuner_id_of(pid) == "chief")
    # Once the chief holds the folder's lock, while they all import TensorFlow.
    wait_until(lambda: lock_holder(results) == str(chief), proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    if signum == signal.SIGHUP:  # Handled like Ctrl-C: the children are stopped, exit 129.
        assert proc.returncode == 129, err[-2000:]
        # Said once, by the launcher: not by the children it stopped too.
        assert err.strip().splitlines() == [f"interrupted by SIGHUP; {nothing_kept(results)}"]
    assert_none_outlives(kids)
    # The lock went with them: the next run takes it.
    results_folder.lock(results).close()


def test_a_usage_error_is_said_once_with_no_resume_advice(tmp_path, run_in_process):
    # Every process meets it; the same command would meet it again.
    proc = run_in_process(*tiny_args(tmp_path / "nope", tmp_path, trials=2), "--workers", 2)
    refused(proc, "nope: data directory does not exist")
    assert "error" not in proc.stdout and "resume" not in proc.stderr


@pytest.mark.slow
def test_resuming_with_other_settings_is_refused_once(copy, run_in_process):
    data_dir, results, target = copy
    settings = target / recorded_search.SETTINGS_FILE  # As `--workers` records the folder it starts.
    settings.write_text(json.dumps({**json.loads(settings.read_text()), "distributed": True}))
    before = folder_files(target)
    proc = run_in_process(*tiny_args(data_dir, results, "--seed", 7, trials=2), "--workers", 2)
    refused(proc, "--seed (was 42, now 7)", "--overwrite")
    assert "error" not in proc.stdout and "resume" not in proc.stderr
    assert folder_files(target) == before


def test_a_child_that_dies_otherwise_ends_the_run_with_what_a_rerun_does(tiny_data, tmp_path):
    proc = start(*tiny_args(tiny_data, tmp_path, trials=2), "--workers", 2)
    wait_until(lambda: len(children(proc.pid)) == 3, proc)
    kids = children(proc.pid)
    os.kill(next(pid for pid in kids if tuner_id_of(pid) == "worker1"), signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err[-2000:]
    # Once, by the launcher; the others, which it stopped, say nothing of their own stop.
    assert err.strip().splitlines() == [
        "error: worker1 exited with code -9; stopped the others; "
        f"{nothing_kept(tmp_path / 'random_search')}"]
    assert_none_outlives(kids)


def test_a_worker_waits_for_a_fresh_record_where_no_trial_ended(tmp_path):
    stopped_run, this_run = {"seed": 3, "distributed": True}, {"seed": 7, "distributed": True}
    recorded_search.check_or_record_settings(tmp_path, stopped_run, overwrite=False)
    (tmp_path / "trial_0").mkdir()  # Started, never ended.
    # The chief starts afresh, while the worker, which does not prepare the folder, waits.
    chief = threading.Timer(1, recorded_search.check_or_record_settings, (tmp_path, this_run, False))
    chief.start()
    recorded_search.check_or_record_settings(tmp_path, this_run, False, record=False, wait_s=60)
    chief.join()
    assert not (tmp_path / "trial_0").exists()
    # Once a trial ended, a worker with other settings is refused at once, as its chief is.
    (tmp_path / "trial_0").mkdir()
    (tmp_path / "trial_0" / LOG_FILE).write_text("{}")
    start = time.monotonic()
    with pytest.raises(UserError, match=r"--seed \(was 7, now 3\)"):
        recorded_search.check_or_record_settings(tmp_path, stopped_run, False, record=False,
                                                wait_s=60)
    assert time.monotonic() - start < 5


# A sitecustomize for the children of `--workers`: in the chief only, the `nth` opening for
# writing of a file named `target` fails with `errno`, all three from REFUSE_IN_CHIEF.
REFUSE_IN_CHIEF = """
import io, os
if os.environ.get("KERASTUNER_TUNER_ID") == "chief":
    target, nth, number = os.environ["REFUSE_IN_CHIEF"].split(":")
    seen, real_open = [0], io.open

    def open_or_fail(file, mode="r", *args, **kwargs):
        if "w" in mode and os.path.basename(str(file)).endswith(target):
            seen[0] += 1
            if seen[0] == int(nth):
                raise OSError(int(number), os.strerror(int(number)), str(file))
        return real_open(file, mode, *args, **kwargs)

    io.open = open_or_fail
"""


@pytest.mark.slow
def test_a_write_refused_while_the_chief_serves_a_worker_ends_the_run_for_a_resume(
        tiny_data, tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(REFUSE_IN_CHIEF)
    args = (*tiny_args(tiny_data, tmp_path, trials=2), "--workers", 2)
    # Its 3rd oracle.json: the second worker's first trial, inside a gRPC handler's thread.
    proc = start_script("random_search_tuning.py", *args, env={
        "PYTHONPATH": str(site), "REFUSE_IN_CHIEF": f"oracle.json:3:{errno.EDQUOT}"})
    out, err = proc.communicate(timeout=300)  # KerasTuner's worker would wait an hour.
    folder = tmp_path / "random_search"
    refused(subprocess.CompletedProcess(args, proc.returncode, out, err),
            f"the disk quota is exceeded on the device of {folder} while writing",
            "oracle.json; free some space and run the same command again (completed trials "
            "are kept)")
    statuses = [json.loads(p.read_text())["status"] for p in folder.glob("trial_*/trial.json")]
    assert statuses and not {"FAILED", "INVALID"} & set(statuses), statuses
    again = start("--workers", 2, *args[:-2])
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, (out[-3000:], err[-3000:])
    assert_completed_and_distinct(read_summary(folder), 2)
