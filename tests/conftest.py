"""Fixtures shared by the tests; the helpers they use are in helpers.py and summaries.py."""

import gc
import os
import shutil
import signal
import subprocess

import pytest

from fashion_tuning import cli, interrupt
from helpers import SCRIPT, run_script, tiny_args, write_idx_dir


@pytest.hookimpl(tryfirst=True)  # Before -m "not slow" deselects.
def pytest_collection_modifyitems(items):
    """A test that uses the finished run (`finished`, `copy`) waits for a script on its first
    use: it is slow, like a test that starts one itself."""
    for item in items:
        if "finished" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def tiny_data(tmp_path):
    """A folder with tiny, learnable Fashion-MNIST-shaped IDX files."""
    return write_idx_dir(tmp_path / "data")


def freeze_live_objects():
    """Leave the objects alive now (TensorFlow's, once imported) out of the garbage
    collections until `in_process` ends: Keras' clear_session, before every trial and final
    training, runs gc.collect, and a scan of TensorFlow's objects alone takes a fraction of a
    second. (What a test's runs leave behind is collected once it ends.)"""
    gc.collect()
    gc.freeze()


@pytest.fixture
def in_process(monkeypatch):
    """Run `cli.main` inside pytest, restoring the signal handlers it installs; without the
    variables that `run_script` leaves out of a script's environment either."""
    for name in list(os.environ):
        if name == "FASHION_MNIST_DIR" or name.startswith("KERASTUNER_"):
            monkeypatch.delenv(name)
    freeze_live_objects()
    saved = {s: signal.getsignal(s) for s in interrupt.EXIT_CODES}
    yield
    gc.unfreeze()
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.fixture
def run_in_process(in_process, capsys):
    """`run_in_process(*args, strategy=...)`: a script's run inside pytest, returned as a
    CompletedProcess (exit code, stdout, stderr): it reads as `run_script`'s, and `refused`
    checks it."""
    def run(*args, strategy="random_search"):
        code = cli.main(strategy, [str(a) for a in args])
        out, err = capsys.readouterr()
        freeze_live_objects()  # What this run imported.
        return subprocess.CompletedProcess(args, code, out, err)
    return run


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
