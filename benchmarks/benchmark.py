"""Benchmark: training throughput with and without KerasTuner, start-up time, full runs.

Run from the repository root, as a module:

    python -m benchmarks.benchmark                    # throughput ratio + start-up, ~5 min
    python -m benchmarks.benchmark --precision        # also float32 vs mixed_bfloat16
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
import sys

from benchmarks.runs import (FULL, PRUNING_RUN, WORKERS_RUN, full_run, pair_plan, print_runs,
                             pruning_compare, workers_compare)
from benchmarks.speed import startup_seconds, throughput
from fashion_tuning.config import Config
from fashion_tuning.data import load_fashion_mnist
from fashion_tuning.flags import tool_parser
from fashion_tuning.report import run_tool


def startup_and_throughput(args, dataset, report):
    """Time start-up and plain vs in-tuner (and bf16) epochs on `dataset`; print and add to
    `report`."""
    median, times = startup_seconds(args.reps, args.data_dir)
    report["startup_s"] = {"median": median, "runs": times}
    print(f"Start-up (imports + load and validate real data): median {median:.2f} s "
          f"of {', '.join(f'{t:.2f}' for t in times)}", flush=True)

    config = Config(train_limit=args.train_limit)
    runs = ["plain", "tuner"] + (["plain_bf16"] if args.precision else [])
    tp = throughput(dataset, config, args.reps, args.timed_epochs, runs)
    report["throughput"] = tp
    ratio = tp["tuner"]["epoch_s"] / tp["plain"]["epoch_s"]
    report["tuner_over_plain_epoch_time"] = ratio
    labels = {"plain": "the first trial alone", "tuner": "inside KerasTuner search",
              "plain_bf16": "the first trial alone, mixed_bfloat16"}
    for name in runs:
        print(f"Epoch, {labels[name]}: {tp[name]['images_per_s']:.0f} images/s "
              f"({tp[name]['epoch_s']:.1f} s, median of {tp[name]['epochs_timed']})", flush=True)
    print(f"Tuner epoch / plain epoch: {ratio:.3f}", flush=True)
    if args.precision:
        speedup = tp["plain"]["epoch_s"] / tp["plain_bf16"]["epoch_s"]
        report["bf16_speedup_plain"] = speedup
        print(f"mixed_bfloat16 / float32 speed: {speedup:.2f}x", flush=True)


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
              f"{pr['search_time_on_over_off']:.2f}x; top trial's val accuracy on minus off "
              f"{pr['mean_top_val_on_minus_off']:+.4f} mean (per seed "
              f"{', '.join(f'{d:+.4f}' for d in pr['top_val_on_minus_off_per_seed'])})",
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
    args, unknown = parser.parse_known_args(argv)
    if any(a == "--epochs" or a.startswith("--epochs=") for a in unknown):
        parser.error("--epochs is now --timed-epochs (--epochs is the scripts' cap on a "
                     "schedule)")
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return run_tool(lambda: run_benchmark(args), args.results_dir)


if __name__ == "__main__":
    sys.exit(main())
