"""Multi-seed study: run both strategies for N seeds and report whether the difference is real.

    python -m fashion_tuning.study --seeds 5        # the default run, seeds 1 to 5
    python -m fashion_tuning.study --report-only --results-dir results-study

Every flag other than --seeds, --first-seed, --results-dir and --report-only is passed to both
scripts (a Bayesian-only flag only to the Bayesian one). Runs go to
RESULTS_DIR/seed_<seed>/<strategy>/ and resume like the scripts do; each seed's pair gets
`compare`'s files in its folder, and the report goes to RESULTS_DIR/study.md, study.json and
study.png. Runs that differ, between seeds or strategies, in a setting but where and how they ran,
in the data, the images used or the precision are refused, by name (`study_check`).
"""

import os
import sys
from pathlib import Path

import numpy as np

from fashion_tuning import atomic, cli, flags
from fashion_tuning.compare import (LABELS, best_so_far, load_summaries, machine_name,
                                    write_comparison)
from fashion_tuning.config import STRATEGIES, fields_for, flag_name
from fashion_tuning.errors import UserError
from fashion_tuning.report import markdown_table, plot_study, run_tool
from fashion_tuning.results import setting
from fashion_tuning.study_check import check_settings


def strategy_argv(strategy, passthrough):
    """`passthrough` (flags of the Bayesian script, the superset) minus what `strategy` lacks."""
    given = vars(flags.make_parser("bayesian_optimization", "").parse_args(passthrough))
    argv = []
    for f in fields_for(strategy):
        value = given.get(f.name)
        if value is None:
            continue
        flag = flag_name(f.name)
        if isinstance(value, bool):
            argv.append(flag if value else "--no-" + flag[2:])
        else:
            argv += [flag, str(value)]
    return argv


def seed_dirs(results_dir):
    """`{seed: folder}` of the seed folders under `results_dir`, in seed order."""
    found = {int(p.name.split("_", 1)[1]): p for p in Path(results_dir).glob("seed_*")
             if p.name.split("_", 1)[1].isdigit()}
    return dict(sorted(found.items()))


# What the study reports per strategy, mean and spread over the seeds.
# The top trial's score measures the search, whichever trial the final training trained.
MEASURES = {"top_val_accuracy": "Top trial's val accuracy", "test_accuracy": "Test accuracy",
            "search_seconds": "Search (s)", "final_seconds": "Final training (s)",
            "total_seconds": "Time (s)"}
# The settings that say what budget the runs had (null where an archived run did not record one:
# `summary_check.UNRECORDED`), and the precision they used.
BUDGET = ("max_trials", "trial_epochs", "epochs", "final_epochs", "batch_size", "patience",
          "train_limit", "val_fraction", "precision_used", "pruning")


def shared_trials(per_seed):
    """Configurations that one strategy drew at more than one seed, but each run's first
    trial (the hand-picked one, which every search tries): [(strategy, seeds)]."""
    shared = []
    for strategy in STRATEGIES:
        seeds_of = {}
        for seed, runs in per_seed.items():
            for t in runs.get(strategy, {}).get("trials", [])[1:]:
                key = tuple(sorted(t["hyperparameters"].items()))
                seeds_of.setdefault(key, set()).add(seed)
        shared += [(strategy, sorted(seeds)) for seeds in seeds_of.values() if len(seeds) > 1]
    return shared


def aggregate(per_seed, results_dir):
    """Per strategy: the per-seed scores and times, their mean and sd, how often its trained
    trial was the hand-picked first one, and its best-so-far curves by trial and by time, of
    `per_seed` (`{seed: compare.load_summaries of its folder in results_dir}`). A UserError
    when no seed has both strategies' results, or `check_settings` refuses."""
    study = {"seeds": [s for s, runs in per_seed.items() if len(runs) == len(STRATEGIES)],
             "strategies": {}}
    if not study["seeds"]:
        raise UserError(f"no seed folder under {results_dir} has both strategies' results; "
                        "run the study without --report-only first")
    reported = {s: per_seed[s] for s in study["seeds"]}
    check_settings(reported)
    every_run = [r for runs in reported.values() for r in runs.values()]
    study["budget"] = {k: every_run[0][k] if k == "precision_used" else setting(every_run[0], k)
                       for k in BUDGET}
    study["shared_trials"] = shared_trials(reported)
    study["machines"] = machines(reported)
    for strategy in STRATEGIES:
        runs = [reported[s][strategy] for s in study["seeds"]]
        stats = {}
        for key in MEASURES:
            values = np.array([r[key] for r in runs], dtype=float)
            stats[key] = {"per_seed": values.tolist(), "mean": float(values.mean()),
                          "sd": float(values.std(ddof=1)) if len(values) > 1 else None}
        stats["kept_hand_picked"] = sum(r["trained_trial_id"] == r["trials"][0]["trial_id"]
                                        for r in runs)
        rows = [best_so_far(r["trials"]) for r in runs]
        stats["best_so_far_curves"] = [[row[2] for row in run] for run in rows]
        stats["best_so_far_by_time"] = [[(row[3], row[2]) for row in run] for run in rows]
        study["strategies"][strategy] = stats
    study["bayesian_minus_random"] = {key: paired(study, key)
                                      for key in ("top_val_accuracy", "test_accuracy")}
    return study


def machines(per_seed):
    """`{machine: [seeds]}` of the runs, each machine named by `compare.machine_name` and its
    GPUs (a list, or a count in archived summaries): seconds compare only within one."""
    found = {}
    for seed, runs in per_seed.items():
        for name in sorted({with_gpus(r["machine"]) for r in runs.values()}):
            found.setdefault(name, []).append(seed)
    return found


def with_gpus(machine):
    gpus = machine.get("gpus") or 0
    gpus = len(gpus) if isinstance(gpus, list) else gpus
    return machine_name(machine) + (f", {gpus} GPU{'s' * (gpus > 1)}" if gpus else "")


def paired(study, key):
    """Bayesian minus Random of `key` seed by seed, their mean and standard deviation, and the
    95 % confidence interval of the mean (Student's t; None with one seed): when it holds zero,
    the seeds cannot tell the strategies apart."""
    from scipy import stats

    random, bayesian = (study["strategies"][s][key]["per_seed"] for s in STRATEGIES)
    d = np.array(bayesian) - np.array(random)
    n, mean = len(d), float(d.mean())
    if n < 2:
        return {"per_seed": d.tolist(), "mean": mean, "sd": None, "ci95": None,
                "detectable": None}
    se, two_sided = float(d.std(ddof=1) / np.sqrt(n)), float(stats.t.ppf(0.975, n - 1))
    half = two_sided * se
    # The true mean difference that a two-sided 5 % paired t-test finds 80 % of the time.
    detectable = (two_sided + float(stats.t.ppf(0.80, n - 1))) * se
    return {"per_seed": d.tolist(), "mean": mean, "sd": float(d.std(ddof=1)),
            "ci95": [mean - half, mean + half], "detectable": detectable}


def plus_minus(stats, digits, sign=""):
    """"0.9359 ± 0.0012" from {"mean", "sd"}; the mean alone where one seed has no sd."""
    text = f"{stats['mean']:{sign}.{digits}f}"
    return text + (f" ± {stats['sd']:.{digits}f}" if stats["sd"] is not None else "")


def study_markdown(study):
    """The study's tables as Markdown."""
    names = list(study["strategies"])
    n = len(study["seeds"])
    rows = [[f"{label} (mean ± sd)", *(plus_minus(study["strategies"][name][key],
                                                  0 if key.endswith("seconds") else 4)
                                       for name in names)] for key, label in MEASURES.items()]
    rows.append(["Trained the hand-picked first trial",
                 *(f"{study['strategies'][name]['kept_hand_picked']} of {n}" for name in names)])
    lines = [f"## Multi-seed study ({n} seed{'s' * (n != 1)}: "
             f"{', '.join(map(str, study['seeds']))})", "",
             "Budget: " + ", ".join(f"{k}={v}" for k, v in study["budget"].items()), "",
             "Machines: " + "; ".join(f"{name} (seed{'s' * (len(seeds) > 1)} "
                                      f"{', '.join(map(str, seeds))})"
                                      for name, seeds in study["machines"].items())
             + ("" if len(study["machines"]) == 1 else
                ": the seconds compare only within one machine"), "",
             markdown_table(["", *(LABELS[name] for name in names)], rows)]
    val, test = (study["bayesian_minus_random"][k]
                 for k in ("top_val_accuracy", "test_accuracy"))
    rows = [[s, f"{v:+.4f}", f"{t:+.4f}"]
            for s, v, t in zip(study["seeds"], val["per_seed"], test["per_seed"])]
    rows.append(["mean ± sd", plus_minus(val, 4, "+"), plus_minus(test, 4, "+")])
    if test["ci95"]:
        ci = (lambda d: f"{d['ci95'][0]:+.4f} to {d['ci95'][1]:+.4f}")
        rows.append([f"95 % interval of the mean (paired t, {n - 1} df)", ci(val), ci(test)])
    lines += ["", "Paired by seed (Bayesian minus Random):", "",
              markdown_table(["seed", "Δ top val accuracy", "Δ test accuracy"], rows)]
    d_test = np.array(test["per_seed"])
    lines += ["", f"Bayesian ahead on test accuracy in {int((d_test > 0).sum())} of "
                  f"{len(d_test)} seeds, behind in {int((d_test < 0).sum())}."]
    if test["detectable"] is not None:
        lines.append(f"Power: with {n} seeds and this spread, a true mean difference in "
                     f"test accuracy of {test['detectable']:.4f} or more would show "
                     "(two-sided 5 % paired t-test) 4 times in 5; a smaller one can hide "
                     "in the seed-to-seed noise.")
    shared = study["shared_trials"]
    lines += ["", "No strategy drew the same configuration at two seeds, but the hand-picked "
              "first trial." if not shared else
              "Configurations drawn at more than one seed: " + "; ".join(
                  f"{LABELS[strategy]}, seeds {', '.join(map(str, seeds))}"
                  for strategy, seeds in shared) + "."]
    return "\n".join(lines) + "\n"


def run_study(args, passthrough):
    """Run the seeds `args` asks for (unless --report-only), then write the report."""
    if not args.report_only:
        argvs = {s: strategy_argv(s, passthrough) for s in STRATEGIES}  # Bad flags fail here.
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for strategy in STRATEGIES:
                print(f"=== seed {seed}: {strategy} ===", flush=True)
                code = cli.main(strategy, [*argvs[strategy], "--seed", str(seed),
                                           "--results-dir", f"{args.results_dir}/seed_{seed}"])
                if code:
                    return code
    folders = seed_dirs(args.results_dir)
    # Read once; a summary damaged or not of its model is refused here.
    per_seed = {seed: load_summaries(folder) for seed, folder in folders.items()}
    study = aggregate(per_seed, args.results_dir)
    for seed in study["seeds"]:
        # Each pair's own report and learning curves.
        write_comparison(folders[seed], per_seed[seed])
    out = Path(args.results_dir)
    atomic.write_json(out / "study.json", study)
    atomic.write_text(out / "study.md", study_markdown(study))
    plot_study(study["strategies"], LABELS, out / "study.png")
    print(study_markdown(study))
    print(f"Wrote {out / 'study.md'}, {out / 'study.json'}, {out / 'study.png'}")
    return 0


def main(argv=None):
    parser = flags.tool_parser(__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds")
    parser.add_argument("--first-seed", type=int, default=1,
                        help="seeds are FIRST_SEED, FIRST_SEED+1, ...")
    parser.add_argument("--results-dir", default="results-study",
                        help="where the runs and the report go")
    parser.add_argument("--report-only", action="store_true",
                        help="only aggregate the runs already in RESULTS_DIR")
    args, passthrough = parser.parse_known_args(argv)
    if args.seeds < 1 or args.first_seed < 1:
        parser.error("--seeds and --first-seed must be at least 1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    return run_tool(lambda: run_study(args, passthrough), args.results_dir)


if __name__ == "__main__":
    sys.exit(main())
