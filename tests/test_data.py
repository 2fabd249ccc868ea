"""IDX parsing, every validation error, source resolution and the split."""

import gzip
import struct

import numpy as np
import pytest

from helpers import idx_bytes, requires_debian_data, write_idx_dir
from fashion_tuning import data
from fashion_tuning.data import (CLASS_NAMES, DEBIAN_DIR, OFFICIAL_SHA256, load_fashion_mnist,
                                 load_idx_dir, parse_idx, resolve_source, stratified_split,
                                 subset)
from fashion_tuning.errors import UserError


@pytest.mark.parametrize("gz", [True, False])
def test_load_gzipped_or_plain(tmp_path, gz):
    d = load_idx_dir(write_idx_dir(tmp_path, n_train=50, n_test=20, gz=gz))
    assert d.x_train.shape == (50, 28, 28) and d.x_train.dtype == np.uint8
    assert d.y_train.shape == (50,) and d.x_test.shape == (20, 28, 28)
    assert list(d.y_test[:10]) == list(range(10))
    assert d.source == str(tmp_path)


def test_parse_idx_roundtrip_and_digest(tmp_path):
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    raw = idx_bytes(images, 2051)
    (tmp_path / "x").write_bytes(raw)
    array, digest = parse_idx(tmp_path / "x", 2051)
    assert np.array_equal(array, images)
    import hashlib
    assert digest == hashlib.sha256(raw).hexdigest()


def _corrupt(tmp_path, stem, content, gz=True):
    directory = write_idx_dir(tmp_path)
    path = directory / (stem + ".gz")
    path.write_bytes(gzip.compress(content) if gz else content)
    return directory


@pytest.mark.parametrize("case, stem, make, expected", [
    ("bad magic", "train-images-idx3-ubyte",
     lambda: struct.pack(">IIII", 2049, 1, 28, 28) + bytes(784), "bad magic number 2049"),
    ("wrong size", "train-images-idx3-ubyte",
     lambda: struct.pack(">IIII", 2051, 1, 32, 32) + bytes(1024), "32x32, expected 28x28"),
    ("truncated body", "train-images-idx3-ubyte",
     lambda: struct.pack(">IIII", 2051, 300, 28, 28) + bytes(784), "truncated or corrupt"),
    ("truncated header", "t10k-labels-idx1-ubyte", lambda: b"\x00\x00", "file is truncated"),
    ("count mismatch", "train-labels-idx1-ubyte",
     lambda: idx_bytes(np.zeros(299, np.uint8), 2049), "299 labels for 300 images"),
    ("bad label", "t10k-labels-idx1-ubyte",
     lambda: idx_bytes(np.full(100, 10, np.uint8), 2049), "label 10 is outside 0-9"),
    ("empty", "t10k-images-idx3-ubyte",
     lambda: idx_bytes(np.zeros((0, 28, 28), np.uint8), 2051), "holds no images"),
])
def test_validation_errors_name_file_and_problem(tmp_path, case, stem, make, expected):
    directory = _corrupt(tmp_path, stem, make())
    if case == "empty":  # Labels must match the (empty) images to reach the emptiness check.
        (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(idx_bytes(np.zeros(0, np.uint8), 2049)))
    with pytest.raises(UserError) as e:
        load_idx_dir(directory)
    assert expected in str(e.value)
    assert "\n" not in str(e.value)


def test_not_gzip_is_reported(tmp_path):
    directory = write_idx_dir(tmp_path)
    (directory / "train-labels-idx1-ubyte.gz").write_bytes(b"this is not gzip data at all")
    with pytest.raises(UserError, match="train-labels-idx1-ubyte.gz: cannot be read"):
        load_idx_dir(directory)


def test_truncated_gzip_is_reported(tmp_path):
    directory = write_idx_dir(tmp_path)
    path = directory / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(UserError, match="cannot be read"):
        load_idx_dir(directory)


def test_missing_file_and_missing_directory(tmp_path):
    directory = write_idx_dir(tmp_path)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte.gz: file is missing"):
        load_idx_dir(directory)
    with pytest.raises(UserError, match="does not exist"):
        load_idx_dir(tmp_path / "nowhere")


def test_full_size_file_with_wrong_digest_is_rejected(tmp_path):
    directory = write_idx_dir(tmp_path, n_train=20, n_test=10)
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros(10_000, np.uint8), 2049)))
    (directory / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros((10_000, 28, 28), np.uint8), 2051)))
    with pytest.raises(UserError, match="does not match the official"):
        load_idx_dir(directory)


def test_source_order(tmp_path, monkeypatch):
    cache_home = tmp_path / "keras_home"
    debian = write_idx_dir(tmp_path / "debian")
    monkeypatch.setenv("KERAS_HOME", str(cache_home))
    monkeypatch.setattr(data, "DEBIAN_DIR", debian)
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    # Nothing in the cache: Debian's folder.
    assert resolve_source()[0] == debian
    # The cache, once complete, wins over Debian.
    cache = write_idx_dir(cache_home / "datasets" / "fashion-mnist")
    assert resolve_source()[0] == cache
    # The environment variable wins over the cache, and --data-dir over both.
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "env"))
    assert resolve_source()[0] == tmp_path / "env"
    assert resolve_source(str(tmp_path / "flag"))[0] == tmp_path / "flag"


def test_no_source_and_no_network_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty_home"))
    monkeypatch.setattr(data, "DEBIAN_DIR", tmp_path / "no_debian")
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    import keras

    def offline():
        raise Exception("URL fetch failure: no network")
    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(UserError, match="download failed.*dataset-fashion-mnist"):
        load_fashion_mnist()


def test_stratified_split_is_seeded_balanced_and_disjoint():
    y = np.repeat(np.arange(10), 100)
    train, val = stratified_split(y, 0.2, seed=1)
    assert len(val) == 200 and len(train) == 800
    assert not set(train) & set(val)
    assert np.bincount(y[val]).tolist() == [20] * 10
    again = stratified_split(y, 0.2, seed=1)
    assert np.array_equal(train, again[0]) and np.array_equal(val, again[1])
    other = stratified_split(y, 0.2, seed=2)
    assert not np.array_equal(val, other[1])


def test_subset_is_stratified():
    x = np.arange(1000)
    y = np.repeat(np.arange(10), 100)
    xs, ys = subset(x, y, 300, seed=3)
    assert len(ys) == 300 and np.bincount(ys).tolist() == [30] * 10
    assert np.array_equal(y[xs], ys)
    assert subset(x, y, None, seed=3)[0] is x


@requires_debian_data
def test_real_data_shapes_balance_and_digests():
    d = load_idx_dir(DEBIAN_DIR)
    assert d.x_train.shape == (60_000, 28, 28) and d.x_test.shape == (10_000, 28, 28)
    assert np.bincount(d.y_train).tolist() == [6000] * 10
    assert np.bincount(d.y_test).tolist() == [1000] * 10
    assert len(CLASS_NAMES) == 10 and len(OFFICIAL_SHA256) == 4


@requires_debian_data
def test_real_file_with_one_changed_label_fails_its_digest(tmp_path):
    directory = write_idx_dir(tmp_path, n_train=20, n_test=10)
    (directory / "t10k-images-idx3-ubyte.gz").write_bytes(
        (DEBIAN_DIR / "t10k-images-idx3-ubyte.gz").read_bytes())
    raw = bytearray(gzip.decompress((DEBIAN_DIR / "t10k-labels-idx1-ubyte.gz").read_bytes()))
    assert load_idx_dir(DEBIAN_DIR).y_test[0] == raw[8]
    raw[8] = (raw[8] + 1) % 10  # Still a valid label: only the digest can catch it.
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(raw)))
    with pytest.raises(UserError, match="t10k-labels-idx1-ubyte.gz: SHA-256"):
        load_idx_dir(directory)
