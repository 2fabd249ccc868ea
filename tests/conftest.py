"""Shared fixtures: tiny, learnable Fashion-MNIST-shaped IDX files written per test."""

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fashion_tuning.data import DEBIAN_DIR, FILES  # noqa: E402


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


@pytest.fixture
def tiny_data(tmp_path):
    return write_idx_dir(tmp_path / "data")


def run_script(script, *args, env=None, timeout=600):
    """Run one of the top-level scripts as a user would; return the CompletedProcess."""
    full_env = {k: v for k, v in os.environ.items() if k != "FASHION_MNIST_DIR"}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(ROOT / script), *map(str, args)],
        capture_output=True, text=True, env=full_env, timeout=timeout, cwd=ROOT,
    )


def requires_debian_data(test):
    """Skip `test` without Debian's dataset-fashion-mnist, except in CI, where it must run."""
    installed = all((DEBIAN_DIR / (stem + ".gz")).is_file() for stem, _, _ in FILES.values())
    if installed or os.environ.get("CI") == "true":
        return test
    return pytest.mark.skip(reason="Debian package dataset-fashion-mnist is not installed")(test)
