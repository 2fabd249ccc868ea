"""Multi-seed study: run both strategies for N seeds and report whether the difference is real.

    python -m fashion_tuning.study --seeds 5        # the default run, seeds 1 to 5
    python -m fashion_tuning.study --report-only --results-dir results-study

Every flag other than --seeds, --first-seed, --results-dir and --report-only is passed to both
scripts (a Bayesian-only flag only to the Bayesian one). Runs go to
RESULTS_DIR/seed_<seed>/<strategy>/ and resume like the scripts do; each seed's pair gets
`compare`'s files in its folder, and the report goes to RESULTS_DIR/study.md, study.json and
study.png.
"""

import os
import sys
from pathlib import Path

import numpy as np

from fashion_tuning import atomic, cli, flags
from fashion_tuning.compare import LABELS, best_so_far, load_summaries, write_comparison
from fashion_tuning.config import STRATEGIES, fields_for, flag_name
from fashion_tuning.report import save_figure


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
MEASURES = {"best_val_accuracy": "Best val accuracy", "test_accuracy": "Test accuracy",
            "search_seconds": "Search (s)", "final_seconds": "Final training (s)",
            "total_seconds": "Time (s)"}
# The settings that say what budget the runs had (older summaries lack some).
BUDGET = ("max_trials", "trial_epochs", "epochs", "final_epochs", "batch_size", "patience",
          "train_limit", "val_fraction", "precision", "pruning")
# The hyperparameters that choose the trunk of the CNN (the rest shape its head and training).
TRUNK = ("filters", "stage2_convs")


def trunk(hyperparameters):
    """The trunk that `hyperparameters` build, as "filters=32, stage2_convs=2"."""
    return ", ".join(f"{k}={hyperparameters[k]}" for k in TRUNK if k in hyperparameters)


def best_trunk(runs):
    """The trunk of the trial with the highest validation accuracy over all `runs`."""
    scored = [t for r in runs for t in r["trials"] if t["val_accuracy"] is not None]
    return trunk(max(scored, key=lambda t: t["val_accuracy"])["hyperparameters"])


def shared_trials(per_seed):
    """Configurations that one strategy drew at more than one seed: [(strategy, seeds)]."""
    shared = []
    for strategy in STRATEGIES:
        seeds_of = {}
        for seed, runs in per_seed.items():
            for t in runs.get(strategy, {}).get("trials", []):
                key = tuple(sorted(t["hyperparameters"].items()))
                seeds_of.setdefault(key, set()).add(seed)
        shared += [(strategy, sorted(seeds)) for seeds in seeds_of.values() if len(seeds) > 1]
    return shared


def aggregate(results_dir):
    """Per strategy: the per-seed scores and times, their mean and standard deviation, how
    often its best trial had the best trunk, and its best-so-far curves by trial and by time."""
    per_seed = {seed: load_summaries(folder) for seed, folder in seed_dirs(results_dir).items()}
    study = {"seeds": [s for s, runs in per_seed.items() if len(runs) == len(STRATEGIES)],
             "strategies": {}}
    every_run = [r for s in study["seeds"] for r in per_seed[s].values()]
    if every_run:
        study["best_trunk"] = best_trunk(every_run)
        study["budget"] = {k: every_run[0].get(k) for k in BUDGET}
        study["shared_trials"] = shared_trials({s: per_seed[s] for s in study["seeds"]})
    for strategy in STRATEGIES:
        runs = [per_seed[s][strategy] for s in study["seeds"]]
        if not runs:
            continue
        stats = {}
        for key in MEASURES:
            values = np.array([r[key] for r in runs], dtype=float)
            stats[key] = {"per_seed": values.tolist(), "mean": float(values.mean()),
                          "std": float(values.std(ddof=1)) if len(values) > 1 else None}
        stats["found_best_trunk"] = sum(trunk(r["best_hyperparameters"]) == study["best_trunk"]
                                        for r in runs)
        rows = [best_so_far(r["trials"]) for r in runs]
        stats["best_so_far_curves"] = [[row[2] for row in run] for run in rows]
        stats["best_so_far_by_time"] = [[(row[3], row[2]) for row in run] for run in rows]
        study["strategies"][strategy] = stats
    if len(study["strategies"]) == len(STRATEGIES):
        study["bayesian_minus_random"] = {key: paired(study, key)
                                          for key in ("best_val_accuracy", "test_accuracy")}
    return study


def paired(study, key):
    """Bayesian minus Random of `key` seed by seed, their mean and standard deviation, and the
    95 % confidence interval of the mean (Student's t; None with one seed): when it holds zero,
    the seeds cannot tell the strategies apart."""
    from scipy import stats

    random, bayesian = (study["strategies"][s][key]["per_seed"] for s in STRATEGIES)
    d = np.array(bayesian) - np.array(random)
    n, mean = len(d), float(d.mean())
    if n < 2:
        return {"per_seed": d.tolist(), "mean": mean, "std": None, "ci95": None,
                "detectable": None}
    se, two_sided = float(d.std(ddof=1) / np.sqrt(n)), float(stats.t.ppf(0.975, n - 1))
    half = two_sided * se
    # The true mean difference that a two-sided 5 % paired t-test finds 80 % of the time.
    detectable = (two_sided + float(stats.t.ppf(0.80, n - 1))) * se
    return {"per_seed": d.tolist(), "mean": mean, "std": float(d.std(ddof=1)),
            "ci95": [mean - half, mean + half], "detectable": detectable}


def plus_minus(stats, digits, sign=""):
    """"0.9359 ± 0.0012" from {"mean", "std"}; the mean alone where one seed has no sd."""
    text = f"{stats['mean']:{sign}.{digits}f}"
    return text + (f" ± {stats['std']:.{digits}f}" if stats["std"] is not None else "")


def study_markdown(study):
    """The study's tables as Markdown."""
    names = list(study["strategies"])
    n = len(study["seeds"])
    lines = [f"## Multi-seed study ({n} seed{'s' * (n != 1)}: "
             f"{', '.join(map(str, study['seeds']))})", "",
             "Budget: " + ", ".join(f"{k}={v}" for k, v in study["budget"].items()), "",
             "| | " + " | ".join(LABELS[name] for name in names) + " |",
             "|---|" + "---|" * len(names)]
    for key, label in MEASURES.items():
        digits = 0 if key.endswith("seconds") else 4
        cells = [plus_minus(study["strategies"][name][key], digits) for name in names]
        lines.append(f"| {label} (mean ± sd) | " + " | ".join(cells) + " |")
    lines.append(f"| Best trial has the best trunk ({study['best_trunk']}) | " + " | ".join(
        f"{study['strategies'][name]['found_best_trunk']} of {n}" for name in names) + " |")
    if len(names) == len(STRATEGIES):
        lines += ["", "Paired by seed (Bayesian minus Random):", "",
                  "| seed | Δ best val accuracy | Δ test accuracy |", "|---|---|---|"]
        val, test = (study["bayesian_minus_random"][k]
                     for k in ("best_val_accuracy", "test_accuracy"))
        lines += [f"| {s} | {v:+.4f} | {t:+.4f} |"
                  for s, v, t in zip(study["seeds"], val["per_seed"], test["per_seed"])]
        lines.append(f"| mean ± sd | {plus_minus(val, 4, '+')} | {plus_minus(test, 4, '+')} |")
        if test["ci95"]:
            ci = (lambda d: f"{d['ci95'][0]:+.4f} to {d['ci95'][1]:+.4f}")
            lines.append(f"| 95 % interval of the mean (paired t, {n - 1} df) "
                         f"| {ci(val)} | {ci(test)} |")
        d_test = np.array(test["per_seed"])
        lines += ["", f"Bayesian ahead on test accuracy in {int((d_test > 0).sum())} of "
                      f"{len(d_test)} seeds, behind in {int((d_test < 0).sum())}."]
        if test["detectable"] is not None:
            lines.append(f"Power: with {n} seeds and this spread, a true mean difference in "
                         f"test accuracy of {test['detectable']:.4f} or more would show "
                         "(two-sided 5 % paired t-test) 4 times in 5; a smaller one can hide "
                         "in the seed-to-seed noise.")
    shared = study["shared_trials"]
    lines += ["", "No strategy drew the same configuration at two seeds." if not shared else
              "Configurations drawn at more than one seed: " + "; ".join(
                  f"{LABELS[strategy]}, seeds {', '.join(map(str, seeds))}"
                  for strategy, seeds in shared) + "."]
    return "\n".join(lines) + "\n"


def mean_and_sd(curves):
    """Mean and standard deviation over equal-length rows; NaN wherever a run has no score
    yet, so that a mean curve starts once every run has one."""
    curves = np.array(curves, dtype=float)
    return curves.mean(axis=0), curves.std(axis=0)


def best_so_far_at(runs, grid):
    """Each run's best so far at every time of `grid` (that of its last trial ended by then,
    NaN before its first), one row per run of `(seconds, best)` points."""
    rows = []
    for run in runs:
        times = np.array([t for t, _ in run])
        bests = np.array([np.nan if b is None else b for _, b in run], dtype=float)
        ended = np.searchsorted(times, grid, side="right") - 1
        rows.append(np.where(ended >= 0, bests[np.maximum(ended, 0)], np.nan))
    return rows


def plot_study(study, path):
    """Mean best-so-far validation accuracy (±1 sd band) against trial number and against
    search time."""
    import matplotlib.pyplot as plt

    fig, (by_trial, by_time) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    end = max(run[-1][0] for stats in study["strategies"].values()
              for run in stats["best_so_far_by_time"])
    grid = np.linspace(0, end, 200)
    for (strategy, stats), color in zip(study["strategies"].items(), ("tab:blue", "tab:orange")):
        label = f"{LABELS[strategy]} (mean of {len(stats['best_so_far_curves'])})"
        n = min(len(c) for c in stats["best_so_far_curves"])
        mean, sd = mean_and_sd([[np.nan if v is None else v for v in c[:n]]
                                for c in stats["best_so_far_curves"]])
        x = np.arange(1, n + 1)
        by_trial.plot(x, mean, color=color, label=label)
        by_trial.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2)
        mean, sd = mean_and_sd(best_so_far_at(stats["best_so_far_by_time"], grid))
        by_time.plot(grid / 60, mean, color=color, label=label)
        by_time.fill_between(grid / 60, mean - sd, mean + sd, color=color, alpha=0.2)
    by_trial.set_xlabel("trial")
    by_time.set_xlabel("search time (minutes)")
    by_trial.set_ylabel("best validation accuracy so far")
    for ax in (by_trial, by_time):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)


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
    if not args.report_only:
        argvs = {s: strategy_argv(s, passthrough) for s in STRATEGIES}  # Bad flags fail here.
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            for strategy in STRATEGIES:
                print(f"=== seed {seed}: {strategy} ===", flush=True)
                code = cli.main(strategy, [*argvs[strategy], "--seed", str(seed),
                                           "--results-dir", f"{args.results_dir}/seed_{seed}"])
                if code:
                    return code
    study = aggregate(args.results_dir)
    if not study["seeds"]:
        print(f"error: no seed folder under {args.results_dir} has both strategies' results; "
              "run the study without --report-only first", file=sys.stderr)
        return 2
    for seed, folder in seed_dirs(args.results_dir).items():
        if seed in study["seeds"]:
            write_comparison(folder)  # Each pair's own report and learning curves.
    out = Path(args.results_dir)
    atomic.write_json(out / "study.json", study)
    atomic.write_text(out / "study.md", study_markdown(study))
    plot_study(study, out / "study.png")
    print(study_markdown(study))
    print(f"Wrote {out / 'study.md'}, {out / 'study.json'}, {out / 'study.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
