"""The one place that writes files atomically (a temporary name beside the target, then a
rename), and reads JSON objects back with a one-line error."""

import contextlib
import json
import os
from pathlib import Path

from fashion_tuning.errors import FRESH_START, UserError


@contextlib.contextmanager
def replacing(path):
    """Yield a temporary path beside `path`; when the block succeeds, rename it onto `path`.

    A reader never sees a half-written file, and a write that fails (a full disk, an
    interrupt) leaves `path` as it was and no temporary file behind. The temporary name keeps
    the suffix, which `model.save` and `savefig` go by, and carries the process id, so two
    processes never share one.
    """
    path = Path(path)
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_text(path, text):
    """Write `text` to `path` atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text)


def write_json(path, value):
    """Write `value` to `path` as indented, strict JSON, atomically.

    Raises:
        ValueError: `value` holds an inf or a nan, which strict JSON readers refuse.
    """
    write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n")


def read_json(path, fix=FRESH_START):
    """The JSON object in `path`; a damaged or unreadable file is a one-line UserError."""
    try:
        value = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot be read ({type(e).__name__}: {e}); {fix}") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}: holds {type(value).__name__}, not an object; {fix}")
    return value
