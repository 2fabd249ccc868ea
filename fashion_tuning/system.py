"""What differs between Linux, macOS and Windows: the lock, signals, memory, CPU, processes."""

import os
import signal
import subprocess
import sys
from pathlib import Path

try:  # POSIX (Linux, macOS).
    import fcntl
except ImportError:  # Windows.
    fcntl = None
    import msvcrt

try:  # POSIX.
    import resource
except ImportError:  # Windows.
    resource = None

# Windows locks bytes, and other processes cannot read locked bytes: the lock sits on a byte
# far past the holder's pid, which a refused run reads to name it.
WINDOWS_LOCKED_BYTE = 1 << 20
# The signals that end a run cleanly where they exist: SIGHUP (terminal closed) on POSIX,
# SIGBREAK (Ctrl-Break) on Windows. Each exits 128 + its number, as shells do: 130 for SIGINT,
# 143 for SIGTERM, 129 for SIGHUP, and 149 for SIGBREAK (21 on Windows).
STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK")
PR_SET_PDEATHSIG = 1  # From Linux's <sys/prctl.h>.


def try_lock(handle):
    """Take an exclusive lock on the open file `handle` without waiting; False if another
    process holds it. The OS drops it when the handle closes or the process dies, however it
    dies, so a lock left by a killed run is never stale."""
    if fcntl is not None:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True
    handle.seek(WINDOWS_LOCKED_BYTE)  # msvcrt locks from the file position.
    try:
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
    except OSError:
        return False
    return True


def stop_signals():
    """{signal: exit code} of the signals this platform has of `STOP_SIGNALS`."""
    present = [getattr(signal, name) for name in STOP_SIGNALS if hasattr(signal, name)]
    return {signum: 128 + int(signum) for signum in present}


def peak_memory_mb():
    """Peak resident memory of this process so far, in MB; None where it cannot be read."""
    if resource is not None:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Linux counts ru_maxrss in KiB, macOS in bytes.
        return peak / 2**20 if sys.platform == "darwin" else peak / 1024
    if sys.platform == "win32":
        return _windows_peak_working_set_mb()
    return None


def _windows_peak_working_set_mb():
    """PeakWorkingSetSize from GetProcessMemoryInfo, in MB (None if the call fails)."""
    import ctypes
    from ctypes import wintypes

    class Counters(ctypes.Structure):  # PROCESS_MEMORY_COUNTERS, <psapi.h>.
        _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD),
                    *((name, ctypes.c_size_t) for name in (
                        "PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage",
                        "QuotaPagedPoolUsage", "QuotaPeakNonPagedPoolUsage",
                        "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage"))]

    try:
        kernel32, psapi = ctypes.WinDLL("kernel32"), ctypes.WinDLL("psapi")
        kernel32.GetCurrentProcess.restype = wintypes.HANDLE
        psapi.GetProcessMemoryInfo.argtypes = [wintypes.HANDLE, ctypes.POINTER(Counters),
                                               wintypes.DWORD]
        counters = Counters(cb=ctypes.sizeof(Counters))
        if not psapi.GetProcessMemoryInfo(kernel32.GetCurrentProcess(),
                                          ctypes.byref(counters), counters.cb):
            return None
    except (OSError, AttributeError):
        return None
    return counters.PeakWorkingSetSize / 2**20


def _proc_cpuinfo(key):
    """The first `key` line of Linux's /proc/cpuinfo ("" where there is none)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def _sysctl(*names):
    """macOS's `sysctl -n` values of `names`, joined by spaces ("" if it fails)."""
    try:
        return subprocess.run(["sysctl", "-n", *names], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def cpu_name():
    """The CPU's model name, as the OS reports it."""
    import platform

    if sys.platform == "darwin":
        name = _sysctl("machdep.cpu.brand_string")
    elif sys.platform == "win32":
        name = platform.processor()
    else:
        name = _proc_cpuinfo("model name")
    return name or platform.processor() or platform.machine()


def cpu_flags():
    """The CPU's instruction-set extensions, lower case as Linux names them (avx2, avx512f,
    avx512_bf16, amx_bf16); empty on Windows, which has no such list."""
    if sys.platform == "darwin":  # Intel Macs list them; Apple silicon has none of ours.
        return set(_sysctl("machdep.cpu.features", "machdep.cpu.leaf7_features").lower().split())
    if sys.platform == "win32":
        return set()
    return set(_proc_cpuinfo("flags").split())


def own_session():
    """`subprocess.Popen` arguments that start a child in a session of its own, out of reach of
    the terminal's Ctrl-C (the launcher stops its children itself); None where there are no
    sessions (Windows)."""
    return {"start_new_session": True} if hasattr(os, "setsid") else None


def die_with_parent(parent_pid):
    """In a child: ask Linux for SIGTERM when the parent `parent_pid` dies, however it dies
    (SIGKILL included). Elsewhere (macOS) nothing: the parent's Ctrl-C and SIGTERM still stop
    its children."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # No prctl: not Linux.
        return
    if os.getppid() != parent_pid:  # The parent died before the request took hold.
        os.kill(os.getpid(), signal.SIGTERM)


def nvidia_gpus():
    """The NVIDIA GPUs that CUDA shows this process, in `CUDA_VISIBLE_DEVICES` order when it is
    set: [{"id": index or UUID, as CUDA_VISIBLE_DEVICES names it, "name", "memory_mb"}].
    Empty without `nvidia-smi`."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=index,uuid,name,memory.total",
                              "--format=csv,noheader,nounits"], capture_output=True,
                             text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    rows = []
    for line in out.strip().splitlines():
        index, uuid, name, memory = (part.strip() for part in line.split(",", 3))
        rows.append({"id": index, "uuid": uuid, "name": name,
                     "memory_mb": int(memory) if memory.isdigit() else None})
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None:
        return [{k: r[k] for k in ("id", "name", "memory_mb")} for r in rows]
    picked = []
    for entry in filter(None, (e.strip() for e in visible.split(","))):
        match = next((r for r in rows if entry == r["id"] or r["uuid"].startswith(entry)), None)
        if match is None:  # CUDA ignores the entries after an invalid one.
            break
        picked.append({"id": entry, "name": match["name"], "memory_mb": match["memory_mb"]})
    return picked
