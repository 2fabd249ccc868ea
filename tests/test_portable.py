"""What differs between platforms (`system`), and a run in a Python shaped as Windows has it."""

import os
import signal
import subprocess
import sys
import types

import pytest

from fashion_tuning import distributed, system
from helpers import (ROOT, lock_holder, nothing_kept, read_summary, run_script, start_script,
                     tiny_args, wait_until)

SCRIPT = "random_search_tuning.py"
# tests/windows_shaped/sitecustomize.py: no fcntl, resource, termios, SIGHUP or process groups.
WINDOWS = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests" / "windows_shaped"),
                                                       os.environ.get("PYTHONPATH")]))}


def only_line(stderr):
    """The one line a refusal prints on stderr (and that there is one, and no traceback)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr[-3000:]
    return lines[0]


@pytest.mark.slow
def test_windows_shaped_help_run_refusal_interrupt_and_resume(tiny_data, tmp_path):
    folder = tmp_path / "random_search"
    args = tiny_args(tiny_data, tmp_path)
    shown = run_script(SCRIPT, "--help", env=WINDOWS)
    assert shown.returncode == 0 and "--workers N" in shown.stdout, shown.stderr[-3000:]
    workers = run_script(SCRIPT, *args, "--max-trials", 2, "--workers", 2, env=WINDOWS)
    assert workers.returncode == 2
    assert only_line(workers.stderr).startswith("error: --workers needs Linux or macOS")

    first = start_script(SCRIPT, *args, env=WINDOWS)
    # Its pid is written once it holds the lock, before TensorFlow's import of several seconds.
    wait_until(lambda: lock_holder(folder) == str(first.pid), first)
    second = run_script(SCRIPT, *args, env=WINDOWS)
    assert second.returncode == 2
    assert f"results folder is in use by process {first.pid}" in only_line(second.stderr)

    first.send_signal(signal.SIGINT)  # While it imports TensorFlow, which takes seconds.
    _, err = first.communicate(timeout=120)
    assert first.returncode == 130, err[-3000:]
    assert err.strip().splitlines()[-1] == f"interrupted by SIGINT; {nothing_kept(folder)}"
    assert "Traceback" not in err

    again = run_script(SCRIPT, *args, env=WINDOWS)
    assert again.returncode == 0, again.stderr[-3000:]
    summary = read_summary(folder)
    assert [t["status"] for t in summary["trials"]] == ["completed"]
    assert summary["trials"][0]["peak_rss_mb"] is None  # No `resource`, not Windows proper.


def test_stop_signals_exit_128_plus_their_number_and_take_sigbreak_on_windows(monkeypatch):
    assert system.stop_signals() == {signal.SIGINT: 130, signal.SIGTERM: 143,
                                     signal.SIGHUP: 129}
    monkeypatch.delattr(signal, "SIGHUP")
    monkeypatch.setattr(signal, "SIGBREAK", 21, raising=False)
    assert system.stop_signals() == {signal.SIGINT: 130, signal.SIGTERM: 143, 21: 149}


@pytest.mark.parametrize("platform, maxrss, expected", [
    ("linux", 2048 * 1024, 2048.0),  # KiB.
    ("darwin", 300 * 2**20, 300.0),  # Bytes.
])
def test_peak_memory_is_in_mb_whatever_unit_the_os_counts_in(monkeypatch, platform, maxrss,
                                                            expected):
    usage = types.SimpleNamespace(ru_maxrss=maxrss)
    monkeypatch.setattr(system, "resource", types.SimpleNamespace(
        RUSAGE_SELF=0, getrusage=lambda who: usage))
    monkeypatch.setattr(sys, "platform", platform)
    assert system.peak_memory_mb() == expected


def test_peak_memory_is_none_without_resource_outside_windows(monkeypatch):
    monkeypatch.setattr(system, "resource", None)
    assert system.peak_memory_mb() is None


@pytest.mark.parametrize("platform, expected", [
    ("linux", ("Proc CPU", {"fpu", "avx2", "amx_bf16"})),
    ("darwin", ("Sysctl CPU", {"fpu", "sse", "avx2", "avx512f"})),
    ("win32", ("Windows CPU", set())),
])
def test_cpu_name_and_flags_come_from_each_platforms_source(monkeypatch, platform, expected):
    import platform as platform_module

    proc = {"model name": "Proc CPU", "flags": "fpu avx2 amx_bf16"}
    sysctl = {("machdep.cpu.brand_string",): "Sysctl CPU",
              ("machdep.cpu.features", "machdep.cpu.leaf7_features"): "FPU SSE AVX2 AVX512F"}
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setattr(system, "_proc_cpuinfo", lambda key: proc.get(key, ""))
    monkeypatch.setattr(system, "_sysctl", lambda *names: sysctl[names])
    monkeypatch.setattr(platform_module, "processor", lambda: "Windows CPU")
    assert (system.cpu_name(), system.cpu_flags()) == expected


SMI = ("0, GPU-aaaa-0, NVIDIA H200, 143771\n"
       "1, GPU-bbbb-1, NVIDIA H200, 143771\n"
       "2, GPU-cccc-2, NVIDIA A100-SXM4-40GB, 40960\n")


@pytest.mark.parametrize("visible, expected", [
    (None, [("0", "NVIDIA H200"), ("1", "NVIDIA H200"), ("2", "NVIDIA A100-SXM4-40GB")]),
    ("2,0", [("2", "NVIDIA A100-SXM4-40GB"), ("0", "NVIDIA H200")]),
    ("GPU-bbbb", [("GPU-bbbb", "NVIDIA H200")]),  # CUDA takes a UUID's prefix.
    ("1,7,0", [("1", "NVIDIA H200")]),  # CUDA ignores what follows an invalid entry.
    ("", []),
])
def test_nvidia_gpus_are_those_cuda_shows_in_its_order(monkeypatch, visible, expected):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: types.SimpleNamespace(stdout=SMI))
    if visible is None:
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    else:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    gpus = system.nvidia_gpus()
    assert [(g["id"], g["name"]) for g in gpus] == expected
    assert all(g["memory_mb"] in (143771, 40960) for g in gpus)


def test_no_nvidia_smi_means_no_gpus_listed(monkeypatch):
    def missing(*args, **kwargs):
        raise FileNotFoundError("nvidia-smi")

    monkeypatch.setattr(subprocess, "run", missing)
    assert system.nvidia_gpus() == []


@pytest.mark.parametrize("gpus, expected", [
    ([], {}),
    (["0"], {}),  # One GPU: shared, with memory growth.
    (["0", "1"], {"chief": "0", "worker0": "0", "worker1": "1", "worker2": "0"}),
    (["3", "5", "7", "9"], {"chief": "3", "worker0": "3", "worker1": "5", "worker2": "7"}),
])
def test_each_worker_gets_its_own_gpu_round_robin(gpus, expected):
    names = ["chief", "worker0", "worker1", "worker2"]
    assert distributed.gpu_assignment(names, gpus) == expected
