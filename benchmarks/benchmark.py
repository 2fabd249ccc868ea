"""Benchmark: training throughput with and without KerasTuner, start-up time, full runs.

Run from the repository root, as a module:

    python -m benchmarks.benchmark                    # throughput ratio + start-up, ~5 min
    python -m benchmarks.benchmark --precision        # also float32 vs mixed_bfloat16
    python -m benchmarks.benchmark --space            # also the cheapest and dearest model
    python -m benchmarks.benchmark --workers          # also one process vs --workers 2
    python -m benchmarks.benchmark --pruning 3        # also pruning on vs off, 3 seeds
    python -m benchmarks.benchmark --full [random|bayesian]  # also full default runs
    python -m benchmarks.benchmark --pairs            # also the --quick and the default pair

Epochs are timed in this process, plain and in-tuner epochs interleaved rep by rep; start-up,
the --workers comparison and the full runs are timed as separate processes started from here,
one after the other, with the compared runs interleaved too. So the ratios are comparable on a
shared, noisy machine; figures are medians of --reps runs.

On a GPU, `--pairs` is the one command: start-up, epoch throughput, then both scripts with
--quick and with their defaults (float32), each phase's time, images/s and test accuracy;
sized to take under 10 minutes on an H200 (add `--data-dir DIR` on a machine without the
data's download or Debian package).
"""

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.rank_study import read_summary_at
from fashion_tuning.results import REQUIRED
from fashion_tuning.flags import tool_parser
from fashion_tuning.config import Config
from fashion_tuning.data import load_fashion_mnist
from fashion_tuning.report import run_tool

ROOT = Path(__file__).resolve().parents[1]
STARTUP = ("import sys, time; t = time.perf_counter(); "
           "from fashion_tuning import pipeline; from fashion_tuning.data import load_fashion_mnist; "
           "load_fashion_mnist(sys.argv[1] or None); print(time.perf_counter() - t)")


class EpochTimer:
    """Records the wall time of each epoch (a Keras callback, built lazily)."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times = []

            def on_epoch_begin(self, epoch, logs=None):
                self._start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._start)

            def __deepcopy__(self, memo):  # KerasTuner deep-copies callbacks: share this one.
                return self

        return _Timer()


def startup_seconds(reps, data_dir=None):
    """Median time to import the package and load + validate the real data, in a new process."""
    times = []
    for _ in range(reps):
        out = subprocess.run([sys.executable, "-c", STARTUP, data_dir or ""],
                             capture_output=True, text=True, check=True, cwd=ROOT)
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times), times


def epoch_times(mode, train, val, config, epochs, workdir, precision="float32", trunk=None):
    """Per-epoch seconds (first epoch dropped: it traces the graph) of one model (`make_cnn`'s
    defaults, or the `trunk` arguments given) trained `epochs` epochs, either by plain
    `model.fit` or inside a one-trial KerasTuner search."""
    import keras

    from fashion_tuning.callbacks import trial_callbacks
    from fashion_tuning.hypermodel import make_cnn
    from fashion_tuning.tuner import TrialRunner

    keras.backend.clear_session()
    keras.utils.set_random_seed(1)
    timer = EpochTimer()
    callbacks = trial_callbacks(config) + [timer]
    fit_args = dict(validation_data=val, epochs=epochs, batch_size=config.batch_size, verbose=0)
    if mode == "plain":
        make_cnn(precision=precision, **(trunk or {})).fit(*train, callbacks=callbacks,
                                                          **fit_args)
    else:
        import keras_tuner as kt

        tuner = TrialRunner(
            seed=1, judged_from_epoch=config.judged_from_epoch,
            trial_epochs=config.trial_epochs, final_epochs=config.final_epochs,
            oracle=kt.oracles.RandomSearchOracle(objective="val_accuracy", max_trials=1,
                                                 seed=1),
            hypermodel=lambda hp: make_cnn(precision=precision),
            directory=workdir,
            project_name=f"t{time.time_ns()}")
        tuner.search(*train, callbacks=callbacks, **fit_args)
    return timer.times[1:]


def space_corners():
    """`make_cnn` arguments of the cheapest and the dearest trunk in the search space: the
    fewest and the most filters and conv layers."""
    from fashion_tuning.hypermodel import search_space, trunk

    choices = {p["name"]: p["values"] for p in search_space() if p["class"] == "Choice"}
    return {end: trunk(pick(choices["filters"]), pick(choices["stage2_convs"]))
            for end, pick in (("cheapest", min), ("dearest", max))}


# name -> (plain fit or inside a tuner, precision, trunk: None for make_cnn's defaults,
# else a corner of the search space)
RUNS = {"plain": ("plain", "float32", None), "tuner": ("tuner", "float32", None),
        "plain_bf16": ("plain", "mixed_bfloat16", None),
        "cheapest": ("plain", "float32", "cheapest"), "dearest": ("plain", "float32", "dearest"),
        "cheapest_bf16": ("plain", "mixed_bfloat16", "cheapest"),
        "dearest_bf16": ("plain", "mixed_bfloat16", "dearest")}


def throughput(dataset, config, reps, epochs, runs, corners):
    """Median images/s of each of `runs` (keys of RUNS), interleaved rep by rep so that
    the machine's slow and fast moments fall on every run alike; `corners` are
    `space_corners()`."""
    from fashion_tuning.data import split

    _, train, val = split(dataset, config)
    per_run = {name: [] for name in runs}
    with tempfile.TemporaryDirectory() as workdir:
        for _ in range(reps):
            for name in runs:
                mode, precision, corner = RUNS[name]
                per_run[name] += epoch_times(mode, train, val, config, epochs, workdir,
                                             precision, corner and corners[corner])
    images = len(train[1])
    return {name: {"images_per_s": images / statistics.median(t), "epoch_s": statistics.median(t),
                   "epochs_timed": len(t), "epoch_s_all": t} for name, t in per_run.items()}


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


PRUNING_RUN = ("--max-trials", "10", "--epochs", "10", "--train-limit", "12000")


def pruning_compare(seeds, results_dir, data_dir=None):
    """The same random search with and without pruning, for seeds 1..`seeds`, interleaved
    seed by seed: search time and best validation accuracy of each run, and their ratios.
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
            summary = read_summary_at(out / "random_search", REQUIRED)
            runs[label].append({
                "seed": seed, "search_s": summary["search_seconds"],
                "best_val_accuracy": summary["best_val_accuracy"],
                "test_accuracy": summary["test_accuracy"],
                "epochs": sum(t["epochs_run"] or 0 for t in summary["trials"]),
                "pruned": sum(t["status"] == "pruned" for t in summary["trials"])})
            print(f"  seed {seed}, pruning {label}: {runs[label][-1]}", flush=True)
    total = {label: sum(r["search_s"] for r in rs) for label, rs in runs.items()}
    mean_best = {label: statistics.fmean(r["best_val_accuracy"] for r in rs)
                 for label, rs in runs.items()}
    return {"runs": runs, "search_time_on_over_off": total["on"] / total["off"],
            "mean_best_val_on_minus_off": mean_best["on"] - mean_best["off"],
            "best_val_on_minus_off_per_seed": [
                on["best_val_accuracy"] - off["best_val_accuracy"]
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
    summary = read_summary_at(Path(results_dir) / strategy, REQUIRED)
    trained = sum(t["epochs_run"] or 0 for t in summary["trials"]) * summary["train_images"]
    return {"wall_s": wall, "search_s": summary["search_seconds"],
            "final_training_s": summary["final_seconds"],
            # Images trained on over the phase's time (start-up and evaluation included).
            "search_images_per_s": trained / summary["search_seconds"],
            "final_training_images_per_s":
                summary["final_images"] * summary["final_epochs"] / summary["final_seconds"],
            "test_accuracy": summary["test_accuracy"],
            "best_hyperparameters": summary["best_hyperparameters"]}


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


def startup_and_throughput(args, dataset, report):
    """Time start-up and plain vs in-tuner (and bf16) epochs on `dataset`; print and add to
    `report`."""
    median, times = startup_seconds(args.reps, args.data_dir)
    report["startup_s"] = {"median": median, "runs": times}
    print(f"Start-up (imports + load and validate real data): median {median:.2f} s "
          f"of {', '.join(f'{t:.2f}' for t in times)}", flush=True)

    config = Config(train_limit=args.train_limit)
    runs = ["plain", "tuner"] + (["plain_bf16"] if args.precision else [])
    if args.space:
        runs += ["cheapest", "dearest"] + (["cheapest_bf16", "dearest_bf16"]
                                           if args.precision else [])
    corners = space_corners()
    tp = throughput(dataset, config, args.reps, args.timed_epochs, runs, corners)
    report["throughput"] = tp
    ratio = tp["tuner"]["epoch_s"] / tp["plain"]["epoch_s"]
    report["tuner_over_plain_epoch_time"] = ratio
    labels = {"plain": "plain model.fit", "tuner": "inside KerasTuner search",
              "plain_bf16": "plain model.fit, mixed_bfloat16",
              **{name: f"{corner} model of the space ({corners[corner]}), {precision}"
                 for name, (_, precision, corner) in RUNS.items() if corner}}
    for name in runs:
        print(f"Epoch, {labels[name]}: {tp[name]['images_per_s']:.0f} images/s "
              f"({tp[name]['epoch_s']:.1f} s, median of {tp[name]['epochs_timed']})", flush=True)
    print(f"Tuner epoch / plain epoch: {ratio:.3f}", flush=True)
    if args.precision:
        speedup = tp["plain"]["epoch_s"] / tp["plain_bf16"]["epoch_s"]
        report["bf16_speedup_plain"] = speedup
        print(f"mixed_bfloat16 / float32 speed: {speedup:.2f}x", flush=True)
    if args.space:
        spread = tp["cheapest"]["images_per_s"] / tp["dearest"]["images_per_s"]
        report["cheapest_over_dearest_speed"] = spread
        print(f"Cheapest / dearest model speed: {spread:.2f}x", flush=True)


def run_benchmark(args):
    """Run the measurements `args` asks for; print each, then the whole report as JSON."""
    # Every part needs the data: a missing or damaged set is the scripts' one line, at once.
    dataset = load_fashion_mnist(args.data_dir)
    from fashion_tuning import environment  # Imports TensorFlow: after the data is checked.

    environment.grow_gpu_memory()  # Leave the GPU to the runs this process starts.
    report = {"machine": environment.machine(), "versions": environment.versions()}
    gpus = report["machine"]["gpus"]
    print(f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores, "
          f"{len(gpus)} GPU(s)" + "".join(f", {g['name']}" for g in gpus), flush=True)
    if not args.skip_throughput:
        startup_and_throughput(args, dataset, report)

    if args.workers:
        walls = workers_compare(args.reps)
        report["workers"] = walls
        ratio = walls["one process"]["median_s"] / walls["--workers 2"]["median_s"]
        report["workers_speedup"] = ratio
        print(f"6-trial search ({' '.join(WORKERS_RUN)}): one process "
              f"{walls['one process']['median_s']:.0f} s, --workers 2 "
              f"{walls['--workers 2']['median_s']:.0f} s; speed-up {ratio:.2f}x "
              "(the chief notices the end within 1 s)", flush=True)

    if args.pruning:
        pr = report["pruning"] = pruning_compare(args.pruning, args.results_dir, args.data_dir)
        print(f"Pruning on / off, {args.pruning} seeds ({' '.join(PRUNING_RUN)}): search time "
              f"{pr['search_time_on_over_off']:.2f}x; best val accuracy on minus off "
              f"{pr['mean_best_val_on_minus_off']:+.4f} mean (per seed "
              f"{', '.join(f'{d:+.4f}' for d in pr['best_val_on_minus_off_per_seed'])})",
              flush=True)

    if args.full:
        report["full"] = {s: full_run(s, args.results_dir) for s in FULL[args.full]}
        print_runs(report["full"])
    if args.pairs:
        report["pairs"] = {f"{pair} {script}": full_run(script, folder, *flags)
                           for pair, script, folder, flags in pair_plan(args.results_dir,
                                                                         args.data_dir)}
        print_runs(report["pairs"])
    print(json.dumps(report, indent=2))
    return 0


def main(argv=None):
    parser = tool_parser(__doc__)
    parser.add_argument("--reps", type=int, default=3, help="repetitions")
    parser.add_argument("--timed-epochs", type=int, default=3,
                        help="epochs per timed fit; the first is dropped")
    parser.add_argument("--train-limit", type=int, default=None,
                        help="training images before the split (default: all 60,000)")
    parser.add_argument("--data-dir", default=None,
                        help="IDX folder (default: the scripts' search order)")
    parser.add_argument("--precision", action="store_true",
                        help="also time plain fit under mixed_bfloat16")
    parser.add_argument("--space", action="store_true",
                        help="also time the cheapest and the dearest model of the search space "
                             "(with --precision, in both precisions)")
    parser.add_argument("--workers", action="store_true",
                        help="also time a 6-trial search: one process vs --workers 2")
    parser.add_argument("--pruning", type=int, metavar="SEEDS",
                        help="also run one random search per seed with and without pruning "
                             f"({' '.join(PRUNING_RUN)}; about 10 min per seed on 2 cores)")
    parser.add_argument("--skip-throughput", action="store_true",
                        help="skip start-up and epoch timing (to rerun only --workers or --full)")
    parser.add_argument("--full", nargs="?", const="both", choices=sorted(FULL),
                        help="also run one or both scripts with their defaults, one after "
                             "the other (tens of minutes each; default: both)")
    parser.add_argument("--pairs", action="store_true",
                        help="also run both scripts with --quick, then with their defaults, "
                             "each from scratch, on whatever accelerator TensorFlow finds")
    parser.add_argument("--results-dir", default="results-benchmark",
                        help="where --full, --pairs and --pruning write their runs")
    args = parser.parse_args(argv)
    return run_tool(lambda: run_benchmark(args), args.results_dir)


if __name__ == "__main__":
    sys.exit(main())
