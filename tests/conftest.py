"""Fixtures shared by the tests; the helpers they use are in helpers.py."""

import signal

import pytest

from fashion_tuning import interrupt
from helpers import write_idx_dir


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
