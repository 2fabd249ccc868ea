"""Damaged results folders, mixed data, a full disk: one line and exit 2, or a repair; never a
traceback, a lost trial or a summary of something that did not run."""

import errno
import json
import shutil
import subprocess

import keras
import pytest

from helpers import (SCRIPT, folder_files, read_summary, refused, run_script, tiny_args,
                     write_idx_dir)
from summaries import SUMMARY_DAMAGE, damaged


def test_a_missing_trial_folder_is_refused_and_no_trial_is_overwritten(copy, run_in_process):
    data_dir, results, folder = copy
    shutil.rmtree(folder / "trial_0")
    before = folder_files(folder)
    refused(run_in_process(*tiny_args(data_dir, results, trials=3)),
            "trial_0/trial.json: missing", "--overwrite")
    assert folder_files(folder) == before


@pytest.mark.parametrize("name, damage", [
    ("oracle.json", lambda p: p.write_text(p.read_text()[:40])),
    ("oracle.json", lambda p: p.write_text("[]")),
    ("trial_1/trial.json", lambda p: p.write_text("{not json")),
    ("trial_1/trial.json", lambda p: p.write_text("{}")),
    ("trial_0/trial_log.json", lambda p: p.write_text(p.read_text()[:10])),
    ("settings.json", lambda p: p.write_text(p.read_text()[:30])),
    ("settings.json", lambda p: p.unlink()),
    *(("settings.json", lambda p, key=key: p.write_text(json.dumps(
        {k: v for k, v in json.loads(p.read_text()).items() if k != key})))
      for key in ("distributed", "search_id")),
])
def test_a_damaged_state_file_is_named_with_the_fix(copy, run_in_process, name, damage):
    data_dir, results, folder = copy
    damage(folder / name)
    refused(run_in_process(*tiny_args(data_dir, results, trials=2)),
            f"{folder / name}:", "--overwrite", "--results-dir")


@pytest.mark.parametrize("damage", [
    lambda folder: (folder / "summary.json").write_text("{}"),
    lambda folder: (folder / "summary.json").write_text('{"trials": ['),
    lambda folder: (folder / "final_model.keras").write_bytes(
        (folder / "final_model.keras").read_bytes()[:5000]),
    # A field missing (one that an earlier format filled in when absent), or malformed.
    *(lambda folder, change=change: damaged(folder, change) for how, change, _ in SUMMARY_DAMAGE
      if how in ("without trials", "without settings", "a score as text",
                 "a ragged confusion matrix")),
])
def test_a_damaged_result_is_repaired_by_the_final_training(copy, run_in_process, damage):
    data_dir, results, folder = copy
    before = read_summary(folder)
    damage(folder)
    proc = run_in_process(*tiny_args(data_dir, results, trials=2))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "final training on all" in proc.stdout and "Running Trial" not in proc.stdout
    after = read_summary(folder)
    assert after["trials"] == before["trials"]
    assert after["test_accuracy"] == pytest.approx(before["test_accuracy"])
    assert keras.saving.load_model(folder / "final_model.keras").output_shape == (None, 10)


def test_a_setting_missing_from_the_record_is_a_settings_mismatch(copy, run_in_process):
    data_dir, results, folder = copy
    path = folder / "settings.json"
    recorded = json.loads(path.read_text())
    path.write_text(json.dumps({k: v for k, v in recorded.items() if k != "batch_size"}))
    refused(run_in_process(*tiny_args(data_dir, results, trials=2)),
            "other settings: --batch-size (was None, now ")


def test_other_data_is_a_settings_mismatch(copy, run_in_process, tmp_path, monkeypatch):
    data_dir, results, folder = copy
    other = write_idx_dir(tmp_path / "other", seed=5)
    before = folder_files(folder)
    refused(run_in_process(*tiny_args(other, results, trials=2)),
            "the data (was 300 train / 100 test images, sha256 ")
    # Also when the other data comes from the environment rather than the flag.
    monkeypatch.setenv("FASHION_MNIST_DIR", str(other))
    refused(run_in_process(*tiny_args(data_dir, results, trials=2)[2:]), "the data (was ")
    assert folder_files(folder) == before
    assert read_summary(folder)["data_source"] == f"directory {data_dir}"


def test_a_run_that_failed_on_its_data_leaves_nothing_behind(tmp_path, run_in_process):
    # Nothing recorded, settings.json least of all: the next run, whatever its flags, starts
    # in an empty folder.
    refused(run_in_process(*tiny_args(tmp_path / "nope", tmp_path, trials=1)),
            "data directory does not exist")
    assert [p.name for p in (tmp_path / "random_search").iterdir()] == []


def test_more_trials_recorded_than_max_trials_says_what_happens(copy, run_in_process):
    data_dir, results, folder = copy
    proc = run_in_process(*tiny_args(data_dir, results, trials=1))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "2 trials recorded, more than --max-trials 1, so no new trial runs" in proc.stdout


def test_a_plain_file_that_differs_from_its_gz_is_a_warning(copy, run_in_process, tmp_path):
    data_dir, results, folder = copy
    mixed = shutil.copytree(data_dir, tmp_path / "mixed")
    (mixed / "t10k-labels-idx1-ubyte").write_bytes(b"something else")
    proc = run_in_process(*tiny_args(mixed, results, trials=2))
    assert proc.returncode == 0, proc.stderr[-2000:]  # The .gz file is used: the same data.
    assert "t10k-labels-idx1-ubyte differs from" in proc.stderr


def test_disk_full_while_saving_the_model(copy, run_in_process, monkeypatch):
    data_dir, results, folder = copy
    (folder / "final_model.keras").unlink()  # The final training runs again, and saves.

    def full(self, path, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"PK partial")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(keras.Model, "save", full)
    proc = run_in_process(*tiny_args(data_dir, results, trials=2))
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert err.startswith("error: no space left on the device of") and "\n" not in err
    assert not list(folder.glob(".tmp-*")) and not (folder / "final_model.keras").exists()
    statuses = [json.loads(p.read_text())["status"] for p in folder.glob("trial_*/trial.json")]
    assert statuses == ["COMPLETED", "COMPLETED"]  # The trials are kept for the resume.


@pytest.mark.slow
def test_a_full_disk_during_the_search_is_one_line(tiny_data, tmp_path):
    # A real full device, as a user meets it: the one subprocess test of a full disk.
    small = tmp_path / "small"
    small.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(small)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        proc = run_script(SCRIPT, *tiny_args(tiny_data, small, trials=2))
        refused(proc, "error: no space left on the device of", "free some space")
        assert not list(small.rglob(".tmp-*"))
    finally:
        subprocess.run(["umount", str(small)], check=True)
