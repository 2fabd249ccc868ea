"""Trust: the summary describes the saved model; a kill or a full disk inside any write,
KerasTuner's included, costs at most the trial in progress; a folder keeps its mode;
--overwrite clears only after the checks."""

import errno
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fashion_tuning import cli, recorded_search
from fashion_tuning.results import setting
from helpers import ROOT, SCRIPT, folder_files, model_accuracy, read_summary, tiny_args

# Runs a script like a user, but dies (as SIGKILL or a power cut would) inside the `nth` write
# of a file named `target`: after the file was opened and truncated, before any content. It
# covers Python's open (our atomic writes) and TensorFlow's file class (KerasTuner's own).
DIE_IN_WRITE = """
import io, os, runpy, sys
target, nth, script = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seen, real_open = [0], io.open

def die_on_nth(file, mode):
    if "w" in mode and os.path.basename(str(file)).endswith(target):
        seen[0] += 1
        if seen[0] == nth:
            real_open(file, mode).close()
            os._exit(137)

def dying_open(file, mode="r", *args, **kwargs):
    die_on_nth(file, mode)
    return real_open(file, mode, *args, **kwargs)

io.open = dying_open
import builtins; builtins.open = dying_open
from keras_tuner.src.backend import io as kt_io
real_file = kt_io.File
def dying_file(filename, mode):
    die_on_nth(filename, mode)
    return real_file(filename, mode)
kt_io.File = dying_file
sys.argv = [script, *sys.argv[4:]]
runpy.run_path(script, run_name="__main__")
"""


def run_main(args, capsys):
    """`cli.main` of the random search in this process: (exit code, stdout, stderr)."""
    code = cli.main("random_search", [str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_same_result(folder, reference, data_dir):
    """The run in `folder` ended as the uninterrupted `reference` summary did, its model
    reproduces its summary, and no temporary file is left."""
    summary = read_summary(folder)
    assert [(t["trial_id"], t["status"], t["val_accuracy"]) for t in summary["trials"]] == [
        (t["trial_id"], t["status"], t["val_accuracy"]) for t in reference["trials"]]
    assert summary["test_accuracy"] == reference["test_accuracy"]
    assert model_accuracy(folder / "final_model.keras", data_dir) == pytest.approx(
        summary["test_accuracy"], abs=1e-6)
    assert not list(folder.rglob(".tmp-*"))


@pytest.mark.slow
def test_a_model_that_is_not_the_summarys_is_trained_again(copy, in_process, capsys):
    # What a run with other final-training flags, killed between replacing the model and
    # writing its summary, leaves: a loadable model that the summary does not describe.
    import keras

    data_dir, results, folder = copy
    reference = read_summary(folder)
    model = keras.saving.load_model(folder / "final_model.keras")
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.save(folder / "final_model.keras")
    code, out, err = run_main(tiny_args(data_dir, results, trials=2), capsys)
    assert code == 0, err
    assert "reporting the saved result" not in out and "final training on all" in out
    assert_same_result(folder, reference, data_dir)


@pytest.mark.slow
@pytest.mark.parametrize("target, nth", [
    ("oracle.json", 3),  # Trial 0 ended: its trial.json says so, oracle.json not yet.
    ("oracle.json", 5),  # Trial 1 created: its trial.json exists, oracle.json not yet.
])
def test_a_kill_inside_a_keras_tuner_write_costs_at_most_that_trial(
        finished, tmp_path, in_process, capsys, target, nth):
    data_dir, reference_results = finished
    args = [str(a) for a in tiny_args(data_dir, tmp_path, trials=2)]
    killed = subprocess.run([sys.executable, "-c", DIE_IN_WRITE, target, str(nth),
                             str(ROOT / SCRIPT), *args], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert killed.returncode == 137, killed.stderr[-2000:]
    folder = tmp_path / "random_search"
    assert json.loads((folder / "oracle.json").read_text())  # Whole, as before the write.
    code, out, err = run_main(args, capsys)
    assert code == 0, err
    assert_same_result(folder, read_summary(reference_results / "random_search"), data_dir)


def full_disk_on(monkeypatch, target, nth):
    """Make the `nth` opening for writing of a file named `target` fail as a full disk does."""
    seen, real_open = [0], io.open

    def open_or_fail(file, mode="r", *args, **kwargs):
        if "w" in mode and os.path.basename(str(file)).endswith(target):
            seen[0] += 1
            if seen[0] == nth:
                raise OSError(errno.ENOSPC, "No space left on device", str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(io, "open", open_or_fail)


@pytest.mark.slow
@pytest.mark.parametrize("target, nth", [("oracle.json", 3), ("trial_log.json", 2)])
def test_a_full_disk_inside_the_search_is_one_line_and_keeps_every_completed_trial(
        finished, tmp_path, monkeypatch, in_process, capsys, target, nth):
    data_dir, reference_results = finished
    args = tiny_args(data_dir, tmp_path, trials=2)
    with monkeypatch.context() as patch:
        full_disk_on(patch, target, nth)
        code, out, err = run_main(args, capsys)
    assert code == 2
    assert err.startswith("error: no space left on the device of") and "\n" not in err.strip()
    folder = tmp_path / "random_search"
    statuses = [json.loads(p.read_text())["status"] for p in folder.glob("trial_*/trial.json")]
    assert "FAILED" not in statuses and "INVALID" not in statuses
    code, out, err = run_main(args, capsys)
    assert code == 0, err
    assert_same_result(folder, read_summary(reference_results / "random_search"), data_dir)


@pytest.mark.slow
def test_temporary_files_of_killed_writes_are_removed_when_the_folder_is_next_used(
        copy, in_process, capsys):
    data_dir, results, folder = copy
    (folder / ".tmp-99999-final_model.keras").write_bytes(b"PK partial model")
    (folder / "trial_0" / ".tmp-99999-trial_log.json").write_text('{"outc')
    code, out, err = run_main(tiny_args(data_dir, results, trials=2), capsys)
    assert code == 0, err
    assert "reporting the saved result" in out
    assert not list(folder.rglob(".tmp-*"))


@pytest.mark.slow
def test_a_summary_from_before_a_recipe_field_existed_is_reported_not_retrained(
        copy, in_process, capsys):
    data_dir, results, folder = copy
    summary_file = folder / "summary.json"
    summary = json.loads(summary_file.read_text())
    recipe = summary["settings"]["final_recipe"]
    del recipe["first_stage_convs"]  # As if added to `Recipe` since that run.
    summary_file.write_text(json.dumps(summary))
    code, out, err = run_main(tiny_args(data_dir, results, trials=2), capsys)
    assert code == 0, err
    assert "reporting the saved result" in out
    assert setting(read_summary(folder), "final_recipe") == {
        "flip": True, "flip_tta": True, "first_stage_convs": 1}


@pytest.mark.slow
def test_overwrite_clears_nothing_when_the_data_is_wrong(copy, tmp_path, in_process, capsys):
    data_dir, results, folder = copy
    before = folder_files(folder)
    code, out, err = run_main(
        tiny_args(tmp_path / "mistyped", results, "--overwrite", trials=2), capsys)
    assert code == 2 and "data directory does not exist" in err
    assert folder_files(folder) == before


@pytest.mark.slow
@pytest.mark.parametrize("recorded, role_env, fragment", [
    (True, {}, "holds a distributed search: resume it with --workers N"),
    (False, {"KERASTUNER_ORACLE_IP": "127.0.0.1", "KERASTUNER_ORACLE_PORT": "1",
             "KERASTUNER_TUNER_ID": "chief"}, "holds a one-process search: resume it without"),
])
def test_a_folder_is_resumed_only_in_its_own_mode(copy, in_process, capsys, monkeypatch,
                                                  recorded, role_env, fragment):
    data_dir, results, folder = copy
    settings = folder / recorded_search.SETTINGS_FILE
    # As `--workers` (a chief with its workers) records a folder it starts.
    settings.write_text(json.dumps({**json.loads(settings.read_text()), "distributed": recorded}))
    before = folder_files(folder)
    for name, value in role_env.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_main(tiny_args(data_dir, results, trials=3), capsys)
    assert code == 2 and fragment in err and "\n" not in err.strip(), err
    assert folder_files(folder) == before  # No trial ran again, nothing was rewritten.


@pytest.mark.slow
def test_a_folder_of_another_version_is_refused_with_the_fix(copy, in_process, capsys):
    data_dir, results, folder = copy
    settings = folder / recorded_search.SETTINGS_FILE
    recorded = json.loads(settings.read_text())
    del recorded["format"]
    settings.write_text(json.dumps(recorded))
    before = folder_files(folder)
    code, out, err = run_main(tiny_args(data_dir, results, trials=2), capsys)
    assert code == 2 and "another version of this tool" in err and "--overwrite" in err
    assert folder_files(folder) == before


def test_the_data_is_checked_before_tensorflow_is_imported(tmp_path):
    # A user's data mistake is answered without waiting for TensorFlow.
    probe = ("import sys; from fashion_tuning import cli; "
             f"code = cli.main('random_search', ['--data-dir', {str(tmp_path / 'no')!r}, "
             f"'--results-dir', {str(tmp_path)!r}]); "
             "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'; "
             "sys.exit(code)")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "data directory does not exist" in proc.stderr

