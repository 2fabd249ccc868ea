"""The benchmark script runs end to end on tiny data and reports consistent figures."""

import json
import subprocess
import sys

from conftest import ROOT


def test_benchmark_reports_throughput_ratio_startup_and_bf16(tiny_data):
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "benchmark.py"), "--data-dir", str(tiny_data),
         "--reps", "2", "--epochs", "2", "--precision"],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout[out.stdout.index("\n{") + 1:])
    assert report["machine"]["cores"] >= 1
    assert len(report["startup_s"]["runs"]) == 2 and report["startup_s"]["median"] > 0
    tp = report["throughput"]
    assert set(tp) == {"plain", "tuner", "plain_bf16"}
    for run in tp.values():
        assert run["epochs_timed"] == 2  # 2 reps x (2 epochs - the dropped first one)
        assert run["images_per_s"] == 240 / run["epoch_s"]  # 300 images, 20 % held out
    assert report["tuner_over_plain_epoch_time"] == tp["tuner"]["epoch_s"] / tp["plain"]["epoch_s"]
    assert report["bf16_speedup_plain"] > 0
    assert "Tuner epoch / plain epoch:" in out.stdout
