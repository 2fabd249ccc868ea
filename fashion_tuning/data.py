"""Find, parse, validate and split the Fashion-MNIST IDX files."""

import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fashion_tuning.errors import UserError
from fashion_tuning.idx import parse_idx, read_bytes

CLASS_NAMES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)

# File stem -> (IDX magic number, expected count when the set is the full official one).
FILES = {
    "train_images": ("train-images-idx3-ubyte", 2051, 60_000),
    "train_labels": ("train-labels-idx1-ubyte", 2049, 60_000),
    "test_images": ("t10k-images-idx3-ubyte", 2051, 10_000),
    "test_labels": ("t10k-labels-idx1-ubyte", 2049, 10_000),
}

# SHA-256 of the *decompressed* official files, computed once from Debian's
# dataset-fashion-mnist package (identical to the files Keras downloads).
OFFICIAL_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FASHION_MNIST_DIR"

SOURCE_ORDER = (
    f"--data-dir (or ${ENV_VAR}); else the Keras cache "
    "($KERAS_HOME or ~/.keras)/datasets/fashion-mnist; else Debian's "
    f"dataset-fashion-mnist at {DEBIAN_DIR}; else download with Keras"
)


@dataclass
class Dataset:
    """Fashion-MNIST as uint8 images (N, 28, 28) and uint8 labels (N,)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    digests: dict = field(default_factory=dict)  # File stem -> SHA-256 of its content.

    def fingerprint(self):
        """What a resumed search must have been scored on: the content and the counts."""
        combined = hashlib.sha256("".join(sorted(self.digests.values())).encode()).hexdigest()
        return {"sha256": combined[:16], "train_images": len(self.y_train),
                "test_images": len(self.y_test)}


def keras_cache_dir():
    """Where `keras.datasets.fashion_mnist.load_data()` stores its files."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "fashion-mnist"


def _find_file(directory, stem, warn=False):
    """Return the gzipped or plain IDX file for `stem` in `directory`, or None; with `warn`,
    say so on stderr when both are there and differ (the gzipped one is used)."""
    found = [directory / name for name in (stem + ".gz", stem) if (directory / name).is_file()]
    if warn and len(found) == 2 and read_bytes(found[0]) != read_bytes(found[1]):
        print(f"warning: {found[1]} differs from {found[0]}; using {found[0].name}",
              file=sys.stderr)
    return found[0] if found else None


def _has_all_files(directory):
    return all(_find_file(directory, stem) for stem, _, _ in FILES.values())


def load_idx_dir(directory, source=None, fix="choose another --data-dir"):
    """Load and validate the four IDX files in `directory`.

    Returns:
        A `Dataset`.

    Raises:
        UserError: a file is missing, corrupt, inconsistent or fails its digest.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise UserError(
            f"{directory}: data directory does not exist; create it with the four "
            f"Fashion-MNIST IDX files or {fix}"
        )
    arrays, digests = {}, {}
    for key, (stem, magic, official_count) in FILES.items():
        path = _find_file(directory, stem, warn=True)
        if path is None:
            raise UserError(
                f"{directory / (stem + '.gz')}: file is missing; put {stem}.gz (or {stem}) there "
                f"or {fix}"
            )
        array, digest = parse_idx(path, magic)
        digests[stem] = digest
        if len(array) == official_count and digest != OFFICIAL_SHA256[stem]:
            raise UserError(
                f"{path}: SHA-256 {digest[:12]}... does not match the official Fashion-MNIST "
                "file; download it again"
            )
        if key.endswith("labels") and array.size and array.max() >= NUM_CLASSES:
            raise UserError(
                f"{path}: label {int(array.max())} is outside 0-9; replace it with the official file"
            )
        arrays[key] = (array, path)
    for split in ("train", "test"):
        (images, ipath), (labels, lpath) = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise UserError(
                f"{lpath}: {len(labels)} labels for {len(images)} images in {ipath.name}; "
                "use matching files"
            )
        if len(images) == 0:
            raise UserError(f"{ipath}: holds no images; use the real files")
    return Dataset(
        x_train=arrays["train_images"][0], y_train=arrays["train_labels"][0],
        x_test=arrays["test_images"][0], y_test=arrays["test_labels"][0],
        source=source or str(directory), digests=digests,
    )


def resolve_source(data_dir=None):
    """Pick where to load from, in the documented order.

    Returns:
        `(directory or None, description, fix)`; `None` means "download with Keras"; `fix`
        says, for error messages, how to point elsewhere.
    """
    if data_dir:
        return Path(data_dir), f"directory {data_dir}", "choose another --data-dir"
    if os.environ.get(ENV_VAR):
        return (Path(os.environ[ENV_VAR]), f"directory {os.environ[ENV_VAR]} (${ENV_VAR})",
                f"set ${ENV_VAR} to another folder (it is used when --data-dir is not given)")
    cache = keras_cache_dir()
    fix = "pass --data-dir DIR"
    if _has_all_files(cache):
        return (cache, f"Keras cache {cache}",
                f"delete the damaged file (Keras downloads it again) or {fix}")
    if _has_all_files(DEBIAN_DIR):
        return (DEBIAN_DIR, f"Debian package dataset-fashion-mnist ({DEBIAN_DIR})",
                f"reinstall dataset-fashion-mnist or {fix}")
    return None, "download via keras.datasets.fashion_mnist", fix


def load_fashion_mnist(data_dir=None):
    """Load Fashion-MNIST from the first available source (see `SOURCE_ORDER`).

    Returns:
        A validated `Dataset` whose `source` says where it came from.
    """
    directory, description, fix = resolve_source(data_dir)
    if directory is None:
        import keras  # Deferred: only the download path needs it.

        try:
            keras.datasets.fashion_mnist.load_data()
        except Exception as e:  # Keras raises plain Exception on network errors.
            raise UserError(
                f"no local Fashion-MNIST and the download failed ({type(e).__name__}); "
                "install Debian's dataset-fashion-mnist or pass --data-dir DIR"
            ) from None
        directory = keras_cache_dir()
    return load_idx_dir(directory, source=description, fix=fix)


def stratified_split(y, val_fraction, seed):
    """Seeded stratified split of indices into (train_idx, val_idx).

    Each class contributes `round(count * val_fraction)` images (at least one
    when it has two or more) to validation, so class balance is preserved.
    """
    rng = np.random.default_rng(seed)
    train_idx, val_idx = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_val = int(round(len(idx) * val_fraction))
        if len(idx) > 1:
            n_val = min(max(n_val, 1), len(idx) - 1)
        val_idx.append(idx[:n_val])
        train_idx.append(idx[n_val:])
    return rng.permutation(np.concatenate(train_idx)), rng.permutation(np.concatenate(val_idx))


def subset(x, y, limit, seed):
    """A seeded, stratified subset of `limit` examples (all of them when limit is None)."""
    if limit is None or limit >= len(y):
        return x, y
    keep, _ = stratified_split(y, 1 - limit / len(y), seed)
    return x[keep], y[keep]


def split(dataset, config):
    """The (optionally limited) training pool and its stratified train/validation split.

    Returns:
        `(pool, train, val)`, each an `(images, labels)` pair.
    """
    x, y = subset(dataset.x_train, dataset.y_train, config.train_limit, config.seed)
    train_idx, val_idx = stratified_split(y, config.val_fraction, config.seed)
    return (x, y), (x[train_idx], y[train_idx]), (x[val_idx], y[val_idx])
