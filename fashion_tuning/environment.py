"""What a result was measured on: library versions, the machine, the precision it resolves to."""

import os
import platform
import subprocess
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

# CPU flags of native BF16 arithmetic; without them BF16 is emulated and slower than float32.
NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def versions():
    """The versions of Python and of the libraries that shape a result."""
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_tuner": kt.__version__,
        "numpy": np.__version__,
    }


def code_version():
    """The code that ran: the git commit and whether tracked files had changed, when this
    package runs from its own git checkout; the package version otherwise."""
    import fashion_tuning

    root = Path(fashion_tuning.__file__).resolve().parents[1]

    def git(*args):
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              timeout=20, check=True).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() == root:
            return {"git_commit": git("rev-parse", "HEAD"),
                    "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.SubprocessError):
        pass  # No git, or not a checkout.
    return {"package_version": fashion_tuning.__version__}


def cpuinfo(key):
    """The first `key` line of /proc/cpuinfo ("" where there is none, e.g. on macOS)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


# The CPU's vector extensions that set its speed here (our machines differ up to 3x).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def machine():
    """CPU model, the vector extensions it has of `SPEED_FLAGS`, and core count, recorded
    with every result."""
    flags = set(cpuinfo("flags").split())
    return {"cpu": cpuinfo("model name") or platform.processor() or platform.machine(),
            "cpu_flags": [f for f in SPEED_FLAGS if f in flags],
            "cores": os.cpu_count(), "gpus": len(tf.config.list_physical_devices("GPU"))}


def resolve_precision(precision):
    """The Keras dtype policy name for `--precision` ("auto" is decided by the hardware)."""
    if precision != "auto":
        return precision
    native_bf16 = NATIVE_BF16_FLAGS & set(cpuinfo("flags").split())
    if native_bf16 and not tf.config.list_physical_devices("GPU"):
        return "mixed_bfloat16"
    return "float32"
