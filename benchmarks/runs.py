"""Whole runs the benchmark starts and times: one process against --workers 2, pruning on
against off, the scripts with their defaults, and the --quick and default pairs."""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, read_summary_at
from fashion_tuning.results import setting

WORKERS_RUN = ("--max-trials", "6", "--epochs", "3", "--train-limit", "12000", "--patience", "3")


def workers_compare(reps):
    """Wall time of the same 6-trial search in one process (all threads) and with
    `--workers 2` (one thread each), interleaved; median over `reps`."""
    walls = {"one process": [], "--workers 2": []}
    for _ in range(reps):
        for label in walls:
            with tempfile.TemporaryDirectory() as out:
                extra = ["--workers", "2"] if label == "--workers 2" else []
                start = time.perf_counter()
                proc = subprocess.run([sys.executable, str(ROOT / "random_search_tuning.py"),
                                       *WORKERS_RUN, "--results-dir", out, *extra],
                                      cwd=ROOT, capture_output=True, text=True)
                if proc.returncode:
                    sys.exit(f"{label} run failed (exit {proc.returncode}):\n"
                             f"{proc.stderr[-3000:]}{proc.stdout[-3000:]}")
                walls[label].append(time.perf_counter() - start)
    return {label: {"median_s": statistics.median(w), "runs": w} for label, w in walls.items()}


# Margin 0: pruning's effect shows in the top trial, which the hand-picked one would mask.
PRUNING_RUN = ("--max-trials", "10", "--epochs", "10", "--train-limit", "12000",
               "--hand-picked-margin", "0")


def pruning_compare(seeds, results_dir, data_dir=None):
    """The same random search with and without pruning, for seeds 1..`seeds`, interleaved
    seed by seed: search time and top trial's validation accuracy of each run, and their
    ratios.
    The runs stay in `results_dir`/pruning/seed_<n>/<on|off>/, so that
    `benchmarks.pruning_replay` can replay other settings over the unpruned ones."""
    runs = {"on": [], "off": []}
    for seed in range(1, seeds + 1):
        for label in runs:
            out = Path(results_dir) / "pruning" / f"seed_{seed}" / label
            extra = ["--no-pruning"] if label == "off" else []
            extra += ["--data-dir", data_dir] if data_dir else []
            proc = subprocess.run([sys.executable, str(ROOT / "random_search_tuning.py"),
                                   *PRUNING_RUN, "--seed", str(seed), "--results-dir", str(out),
                                   "--overwrite", *extra], cwd=ROOT, capture_output=True,
                                  text=True)
            if proc.returncode:
                sys.exit(f"pruning {label} run failed (exit {proc.returncode}):\n"
                         f"{proc.stderr[-3000:]}{proc.stdout[-3000:]}")
            summary = read_summary_at(out / "random_search")
            runs[label].append({
                "seed": seed, "search_s": summary["search_seconds"],
                "top_val_accuracy": summary["top_val_accuracy"],
                "test_accuracy": summary["test_accuracy"],
                "epochs": sum(t["epochs_run"] or 0 for t in summary["trials"]),
                "pruned": sum(t["status"] == "pruned" for t in summary["trials"])})
            print(f"  seed {seed}, pruning {label}: {runs[label][-1]}", flush=True)
    total = {label: sum(r["search_s"] for r in rs) for label, rs in runs.items()}
    mean_top = {label: statistics.fmean(r["top_val_accuracy"] for r in rs)
                for label, rs in runs.items()}
    return {"runs": runs, "search_time_on_over_off": total["on"] / total["off"],
            "mean_top_val_on_minus_off": mean_top["on"] - mean_top["off"],
            "top_val_on_minus_off_per_seed": [
                on["top_val_accuracy"] - off["top_val_accuracy"]
                for on, off in zip(runs["on"], runs["off"])]}


FULL = {"random": ["random_search_tuning.py"], "bayesian": ["bayesian_tuning.py"],
        "both": ["random_search_tuning.py", "bayesian_tuning.py"]}


def full_run(script, results_dir, *flags):
    """Wall time, the time of each phase, its images/s, and test accuracy of `script` run
    with its defaults (and `flags`) into `results_dir`."""
    start = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / script), "--results-dir", results_dir, *flags],
                   check=True, cwd=ROOT)
    wall = time.perf_counter() - start
    strategy = "random_search" if script.startswith("random") else "bayesian_optimization"
    summary = read_summary_at(Path(results_dir) / strategy)
    trained = sum(t["epochs_run"] or 0 for t in summary["trials"]) * summary["train_images"]
    return {"wall_s": wall, "search_s": summary["search_seconds"],
            "final_training_s": summary["final_seconds"],
            # Images trained on over the phase's time (start-up and evaluation included).
            "search_images_per_s": trained / summary["search_seconds"],
            "final_training_images_per_s":
                summary["final_images"] * setting(summary, "final_epochs")
                / summary["final_seconds"],
            "test_accuracy": summary["test_accuracy"],
            "trained_hyperparameters": summary["trained_hyperparameters"]}


# --pairs: both scripts with --quick, then with their defaults, each pair into its own folder.
PAIRS = {"quick": ("--quick",), "default": ()}


def pair_plan(results_dir, data_dir=None):
    """The runs of --pairs, in order: (pair, script, results folder, flags). Each starts
    afresh (--overwrite), so that a rerun times whole runs, not resumed ones."""
    data = ("--data-dir", data_dir) if data_dir else ()
    return [(pair, script, str(Path(results_dir) / pair), (*flags, "--overwrite", *data))
            for pair, flags in PAIRS.items() for script in FULL["both"]]


def print_runs(runs):
    """One line per run of `full_run`: phases, images/s and test accuracy."""
    for label, r in runs.items():
        print(f"{label}: {r['wall_s'] / 60:.1f} min (search {r['search_s'] / 60:.1f}, "
              f"{r['search_images_per_s']:.0f} images/s; final training "
              f"{r['final_training_s'] / 60:.1f}, {r['final_training_images_per_s']:.0f} "
              f"images/s), test accuracy {r['test_accuracy']:.4f}", flush=True)
