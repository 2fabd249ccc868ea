"""What a result was measured on: library versions, the machine, the precision it resolves to."""

import os
import platform
import subprocess
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import tensorflow as tf

from fashion_tuning import system

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


# The CPU's vector extensions that set its speed here, recorded so that timings are compared
# like for like (docs/performance.md).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
# GPUs from Volta (compute capability 7.0) on have tensor cores for float16.
FLOAT16_COMPUTE_CAPABILITY = (7, 0)


def grow_gpu_memory():
    """Let TensorFlow take GPU memory as it needs it, not all at once, so that a chief and its
    workers share one GPU. Call it before the first TensorFlow op."""
    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def gpus():
    """Each visible GPU: its name, compute capability and memory in MB (None without
    nvidia-smi, or when it sees other GPUs than TensorFlow does)."""
    devices = tf.config.list_physical_devices("GPU")
    memory = [gpu["memory_mb"] for gpu in system.nvidia_gpus()]
    if len(memory) != len(devices):
        memory = [None] * len(devices)
    records = []
    for device, memory_mb in zip(devices, memory):
        details = tf.config.experimental.get_device_details(device)
        capability = details.get("compute_capability")
        records.append({"name": details.get("device_name") or device.name,
                        "compute_capability": capability and ".".join(map(str, capability)),
                        "memory_mb": memory_mb})
    return records


def machine():
    """CPU model, the vector extensions it has of `SPEED_FLAGS`, core count and GPUs
    (`gpus()`), recorded with every result."""
    flags = system.cpu_flags()
    return {"cpu": system.cpu_name(), "cpu_flags": [f for f in SPEED_FLAGS if f in flags],
            "cores": os.cpu_count(), "gpus": gpus()}


def resolve_precision(precision):
    """The Keras dtype policy name for `--precision`. "auto" is decided by the hardware that
    trains: the first GPU, mixed_float16 from compute capability 7.0 on, else float32; without
    a GPU, mixed_bfloat16 on a CPU with native BF16, else float32."""
    if precision != "auto":
        return precision
    devices = tf.config.list_physical_devices("GPU")
    if devices:
        capability = tf.config.experimental.get_device_details(devices[0]).get(
            "compute_capability")
        return ("mixed_float16" if capability and tuple(capability) >= FLOAT16_COMPUTE_CAPABILITY
                else "float32")
    return "mixed_bfloat16" if NATIVE_BF16_FLAGS & system.cpu_flags() else "float32"
