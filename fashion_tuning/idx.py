"""The IDX file format of (Fashion-)MNIST: read a gzipped or plain file into a uint8 array."""

import gzip
import hashlib
import struct
from pathlib import Path

import numpy as np

from fashion_tuning.errors import UserError

IMAGE_SIZE = 28
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def read_bytes(path):
    """The (decompressed) bytes of a `.gz` or plain file; a UserError if unreadable."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise UserError(
            f"{path}: cannot be read ({e}); download it again or point --data-dir elsewhere"
        ) from None


def parse_idx(path, expected_magic):
    """Parse one IDX file into a uint8 array.

    Args:
        path: a `.gz` or plain IDX file.
        expected_magic: 2051 for images, 2049 for labels.

    Returns:
        `(array, sha256_hex_of_decompressed_bytes)`; images are (N, 28, 28).

    Raises:
        UserError: the file is unreadable, truncated or not the expected IDX type.
    """
    path = Path(path)
    raw = read_bytes(path)
    fix = "replace it with the official file"
    ndim = 3 if expected_magic == IMAGES_MAGIC else 1
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise UserError(f"{path}: file is truncated ({len(raw)} bytes); {fix}")
    magic = struct.unpack(">I", raw[:4])[0]
    if magic != expected_magic:
        raise UserError(f"{path}: bad magic number {magic} (expected {expected_magic}); {fix}")
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    if ndim == 3 and dims[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise UserError(f"{path}: images are {dims[1]}x{dims[2]}, expected 28x28; {fix}")
    expected_len = header_len + int(np.prod(dims))
    if len(raw) != expected_len:
        raise UserError(
            f"{path}: file is {len(raw)} bytes but its header promises {expected_len} "
            f"(truncated or corrupt); {fix}"
        )
    array = np.frombuffer(raw, dtype=np.uint8, offset=header_len).reshape(dims)
    return array, hashlib.sha256(raw).hexdigest()
