"""Fixtures shared by the tests; the helpers they use are in helpers.py."""

import shutil
import signal

import pytest

from fashion_tuning import interrupt
from helpers import SCRIPT, run_script, tiny_args, write_idx_dir


@pytest.fixture
def tiny_data(tmp_path):
    """A folder with tiny, learnable Fashion-MNIST-shaped IDX files."""
    return write_idx_dir(tmp_path / "data")


@pytest.fixture
def in_process():
    """Run `cli.main` inside pytest, restoring the signal handlers it installs."""
    saved = {s: signal.getsignal(s) for s in interrupt.EXIT_CODES}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.fixture(scope="session")
def finished(tmp_path_factory):
    """One finished 2-trial random search on tiny data, made once; tests copy it (`copy`)."""
    tmp = tmp_path_factory.mktemp("finished")
    data_dir = write_idx_dir(tmp / "data")
    proc = run_script(SCRIPT, *tiny_args(data_dir, tmp / "results", trials=2))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return data_dir, tmp / "results"


@pytest.fixture
def copy(finished, tmp_path):
    """(data folder, a fresh copy of the finished results folder, its strategy folder)."""
    data_dir, results = finished
    shutil.copytree(results, tmp_path / "results")
    return data_dir, tmp_path / "results", tmp_path / "results" / "random_search"
