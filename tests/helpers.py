"""What the tests share: tiny IDX data, starting a script as a user would, reading its results."""

import gzip
import json
import os
import re
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fashion_tuning import results
from fashion_tuning.config import Config
from fashion_tuning.data import CLASS_NAMES, DEBIAN_DIR, FILES

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = {"random_search": "random_search_tuning.py",
           "bayesian_optimization": "bayesian_tuning.py"}
SCRIPT = SCRIPTS["random_search"]  # Where one script stands for both.
# Configurations of the search space, for trainings outside a search.
HPS = [{"units": 64, "dropout": 0.1, "learning_rate": 1e-3, "optimizer": "adam"},
       {"units": 96, "dropout": 0.2, "learning_rate": 3e-3, "optimizer": "rmsprop"},
       {"units": 128, "dropout": 0.3, "learning_rate": 2e-3, "optimizer": "adam"}]


def idx_bytes(array, magic):
    """Serialise a uint8 array as an IDX file."""
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_images(labels, seed):
    """Images whose class is visible: a bright bar whose row depends on the label."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 60, size=(len(labels), 28, 28), dtype=np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 + 2 * c: 4 + 2 * c, 4:24] = 230
    return images


def write_idx_dir(directory, n_train=300, n_test=100, gz=True, seed=0):
    """Write the four IDX files for a tiny balanced dataset; return the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    y_train = np.arange(n_train) % 10
    y_test = np.arange(n_test) % 10
    arrays = {
        "train_images": make_images(y_train, seed), "train_labels": y_train,
        "test_images": make_images(y_test, seed + 1), "test_labels": y_test,
    }
    for key, (stem, magic, _) in FILES.items():
        raw = idx_bytes(np.asarray(arrays[key]), magic)
        if gz:
            (directory / (stem + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (directory / stem).write_bytes(raw)
    return directory


def tiny_args(data_dir, results_dir, *extra, trials=1, epochs=1, batch_size=64):
    """The flags of a short run on tiny data; `extra` flags come last and win."""
    return ("--data-dir", data_dir, "--results-dir", results_dir, "--max-trials", trials,
            "--epochs", epochs, "--batch-size", batch_size, *extra)


def _env(extra=None):
    env = {k: v for k, v in os.environ.items()
           if k != "FASHION_MNIST_DIR" and not k.startswith("KERASTUNER_")}
    env.update(extra or {})
    return env


def run_script(script, *args, env=None, timeout=600):
    """Run a top-level script to its end as a user would; return the CompletedProcess."""
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)],
                          capture_output=True, text=True, env=_env(env), timeout=timeout,
                          cwd=ROOT)


def start_script(script, *args, env=None):
    """Start a top-level script in the background; return the Popen (text pipes)."""
    return subprocess.Popen([sys.executable, str(ROOT / script), *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env(env), cwd=ROOT)


def read_until(proc, *markers):
    """Read `proc`'s stdout up to a line holding each of `markers`, in turn; return it all."""
    read = []
    for marker in markers:
        for line in proc.stdout:  # The CLI flushes every line.
            read.append(line)
            if marker in line:
                break
        else:
            _, err = proc.communicate(timeout=60)
            pytest.fail(f"{marker!r} never came (exit {proc.returncode}):\n{''.join(read)}"
                        f"{err[-2000:]}")
    return "".join(read)


def wait_until(done, proc, timeout=120):
    """Wait until `done()` is true, failing if `proc` exits first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not done():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, f"{done} never came true"
        time.sleep(0.05)


def lock_holder(folder):
    """The pid that the process holding `folder`'s lock wrote there ("" before one did)."""
    lock = Path(folder) / ".lock"
    return lock.read_text() if lock.is_file() else ""


def wait_for(path, proc, timeout=300):
    """Wait until `path` exists, failing if `proc` exits first or `timeout` passes."""
    wait_until(lambda: Path(path).exists(), proc, timeout)


def refused(proc, *fragments):
    """Exit 2, one line on stderr, no traceback, holding every fragment; returns the line."""
    assert proc.returncode == 2, (proc.stdout[-2000:], proc.stderr[-2000:])
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in proc.stderr, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def nothing_kept(folder):
    """How a run stopped before any trial ran to its end says so, naming its `folder`."""
    return (f"no trial had run to its end, so nothing is kept in {folder}: the next run there "
            "starts afresh, with these settings or others")


def folder_files(folder):
    """`{path: bytes}` of every file under `folder` but the lock: what a refusal must keep."""
    return {p: p.read_bytes() for p in Path(folder).rglob("*")
            if p.is_file() and p.name != ".lock"}


def model_accuracy(model_path, data_dir):
    """Test accuracy of the saved model at `model_path` on the IDX files in `data_dir`."""
    import keras

    from fashion_tuning.data import load_idx_dir

    d = load_idx_dir(data_dir)
    model = keras.saving.load_model(model_path)
    return float(model.evaluate(d.x_test, d.y_test, batch_size=128, verbose=0)[1])


def read_summary(folder):
    """The summary.json of a strategy folder, as a dict, read as every reader reads it."""
    summary = results.read_summary(folder)
    assert summary is not None, f"no summary.json in {folder}"
    return summary


def progress_lines(out):
    """The (k, N) of each line `[trial k/N]` in `out`, after checking what every such line
    says: the trial's score and outcome, the best so far, the time so far and left."""
    lines = re.findall(r"^\[trial \d+/\d+\] .*$", out, flags=re.M)
    for line in lines:
        assert re.search(r"val_accuracy \d\.\d{4}, (completed|pruned at epoch \d+) \| best "
                         r"\d\.\d{4} \(trial_\d\) \| search \d+ min \d\d s \| left ~\d+ min "
                         r"\d\d s \(search ~", line), line
    return [re.match(r"\[trial (\d+)/(\d+)\]", line).groups() for line in lines]


def assert_completed_and_distinct(summary, count):
    """`count` trials, all completed, no two with the same hyperparameters."""
    assert [t["status"] for t in summary["trials"]] == ["completed"] * count, summary["trials"]
    assert len({json.dumps(t["hyperparameters"], sort_keys=True)
                for t in summary["trials"]}) == count


def requires_debian_data(test):
    """Skip `test` without Debian's dataset-fashion-mnist, except in CI, where it must run."""
    installed = all((DEBIAN_DIR / (stem + ".gz")).is_file() for stem, _, _ in FILES.values())
    if installed or os.environ.get("CI") == "true":
        return test
    return pytest.mark.skip(reason="Debian package dataset-fashion-mnist is not installed")(test)


EVALUATE = """
import sys, keras
from fashion_tuning.data import load_idx_dir
d = load_idx_dir(sys.argv[2])
model = keras.saving.load_model(sys.argv[1])
print(model.evaluate(d.x_test, d.y_test, batch_size=128, verbose=0)[1])
"""


def reload_accuracy(model_path, data_dir):
    """Test accuracy of a saved model on the IDX files in `data_dir`, in a fresh process."""
    out = subprocess.run([sys.executable, "-c", EVALUATE, str(model_path), str(data_dir)],
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def fake_summary(strategy, seed=1, test=0.9, scores=(0.8, 0.85, None, 0.84)):
    """A whole summary dict (every `RunResult` field) as a run writes it, which trains its top
    trial; a None score is a failed trial."""
    trials = [{"trial_id": str(i), "status": "failed" if s is None else "completed",
               "hyperparameters": {"units": 64 + 32 * i, "dropout": 0.1 * (1 + i % 2),
                                   "learning_rate": 1e-3, "optimizer": "adam"},
               "val_accuracy": s, "epochs_run": 3, "best_epoch": 2, "seconds": 30.0 + i,
               "peak_rss_mb": 900.0, "worker": None, "message": "",
               "history": {} if s is None else {"val_accuracy": [s - 0.05, s]},
               "pruned_at_epoch": None} for i, s in enumerate(scores)]
    top = max((t for t in trials if t["val_accuracy"] is not None),
              key=lambda t: t["val_accuracy"])
    config = Config(max_trials=len(scores), epochs=3, trial_epochs=3, final_epochs=2,
                    final_recipe="none", seed=seed, results_dir=f"study/seed_{seed}")
    return {
        "strategy": strategy, "oracle_seed": config.oracle_seed, "precision_used": "float32",
        "data_source": "directory tests",
        "data": {"sha256": "0123456789abcdef", "train_images": 300, "test_images": 100},
        "train_images": 240, "val_images": 60,
        "trained_trial_id": top["trial_id"], "trained_hyperparameters": top["hyperparameters"],
        "trained_val_accuracy": top["val_accuracy"], "top_trial_id": top["trial_id"],
        "top_val_accuracy": top["val_accuracy"],
        "final_images": 300, "test_accuracy": test, "test_loss": 0.3,
        "per_class_accuracy": {c: 0.5 + i / 100 for i, c in enumerate(CLASS_NAMES)},
        "confusion_matrix": [[100 if i == j else 1 for j in range(10)] for i in range(10)],
        "search_seconds": 126.0, "final_seconds": 20.0, "total_seconds": 146.0,
        "versions": {"python": "3.11", "keras": "3", "keras_tuner": "1"},
        "machine": {"cpu": "Test CPU", "cpu_flags": [], "cores": 2, "gpus": []},
        "model_sha256": "ab" * 32, "trials": trials, "oracle": {}, "stopped_by_budget": False,
        "code_version": {"commit": "0" * 40}, "started_at": "2024-01-01T00:00:00+00:00",
        "finished_at": "2024-01-01T00:02:26+00:00", "command_line": "random_search_tuning.py",
        "arguments": [], "settings": config.settings(),
    }


def train_first(summary):
    """`summary` as that of a run whose final training trained its first trial, the
    hand-picked one."""
    first = summary["trials"][0]
    summary.update(trained_trial_id=first["trial_id"],
                   trained_hyperparameters=first["hyperparameters"],
                   trained_val_accuracy=first["val_accuracy"])
    return summary


# Summaries damaged as a kill, a hand or another version may leave them: (how, a change to a
# whole summary dict, what the one-line error says).
SUMMARY_DAMAGE = [
    ("without trials", lambda s: s.pop("trials"), "lacks trials"),
    ("without settings", lambda s: s.pop("settings"), "lacks settings"),
    ("without a setting", lambda s: s["settings"].pop("hand_picked_margin"),
     "settings lack hand_picked_margin"),
    ("trials not objects", lambda s: s.update(trials=[1, 2]), "trials[0] is not an object"),
    ("a trial without a key", lambda s: s["trials"][1].pop("history"), "trials[1] lacks history"),
    ("a score as text", lambda s: s.update(test_accuracy="0.9"),
     'test_accuracy is "0.9", not a number'),
    ("a completed trial without a score", lambda s: s["trials"][0].update(val_accuracy=None),
     "trials[0] is completed without a score"),
    ("a setting of another kind", lambda s: s["settings"].update(hand_picked_margin="0.0055"),
     'settings.hand_picked_margin is "0.0055", not a number'),
    ("a flag setting as a number", lambda s: s["settings"].update(pruning=1),
     "settings.pruning is 1, not true or false or null"),
    ("a count setting as true", lambda s: s["settings"].update(max_trials=True),
     "settings.max_trials is true, not an integer"),
    ("a class without a score", lambda s: s["per_class_accuracy"].pop("Bag"),
     "per_class_accuracy lacks Bag"),
    ("a class score as text", lambda s: s["per_class_accuracy"].update(Bag="0.5"),
     'per_class_accuracy.Bag is "0.5", not a number or null'),
    ("a ragged confusion matrix", lambda s: s["confusion_matrix"][3].pop(),
     "confusion_matrix is not 10 rows of 10 integers"),
    ("a machine without its cpu", lambda s: s["machine"].pop("cpu"), "machine lacks cpu"),
    ("no trials", lambda s: s.update(trials=[]), "no trials"),
    ("a trial id not a number", lambda s: s["trials"][2].update(trial_id="x"),
     'trial_id "x" is not a number'),
    ("a trained trial that is not a trial", lambda s: s.update(trained_trial_id="9"),
     'trained_trial_id "9" is not a trial\'s'),
    ("a top trial that is not a trial", lambda s: s.update(top_trial_id="9"),
     'top_trial_id "9" is not a trial\'s'),
]


def damaged(folder, change):
    """Rewrite the summary.json in `folder` with `change` (of `SUMMARY_DAMAGE`) made."""
    summary = json.loads((Path(folder) / "summary.json").read_text())
    change(summary)
    write_summary(Path(folder), summary)


def write_summary(folder, summary):
    """Put `summary` into `folder`/summary.json, as a finished run would."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "summary.json").write_text(json.dumps(summary))


def one_error_line(capsys):
    """The stderr of a tool that failed as promised: one line, no traceback."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def png_size(path):
    """(width, height) of a PNG file, after checking its signature."""
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


def assert_flip_averaged_and_reloadable(model, x, y, path):
    """Check that the flip-averaging predictor of the trained `model` predicts the mean of its
    softmax over `x` and their mirrors, scores that on `(x, y)` with sparse labels whatever
    `model` trained on, and, saved to `path`, reloads with Keras' own layers alone."""
    import keras

    from fashion_tuning.export import portable, predictor

    final = predictor(model, flip_tta=True)
    plain = portable(model)
    mirrored = np.ascontiguousarray(x[:, :, ::-1])
    expected = (plain.predict(x, verbose=0) + plain.predict(mirrored, verbose=0)) / 2
    np.testing.assert_allclose(final.predict(x, verbose=0), expected, atol=1e-6)
    accuracy = final.evaluate(x, y, verbose=0)[1]
    final.save(path)
    reloaded = keras.saving.load_model(path)
    assert {type(l).__module__.split(".")[0] for l in reloaded._flatten_layers()} == {"keras"}
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), expected, atol=1e-6)
    assert accuracy == pytest.approx(float((expected.argmax(1) == y).mean()))
