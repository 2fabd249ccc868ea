"""What the tests share: tiny IDX data, starting a script as a user would, reading its results
(fake and damaged summaries are in summaries.py)."""

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
from fashion_tuning.data import DEBIAN_DIR, FILES

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
