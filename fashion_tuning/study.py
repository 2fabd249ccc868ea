"""Multi-seed study: run both strategies for N seeds and report whether the difference is real.

    python -m fashion_tuning.study --seeds 3 --epochs 5 --train-limit 12000
    python -m fashion_tuning.study --report-only --results-dir results-study

Every flag other than --seeds, --first-seed, --results-dir and --report-only is passed to both
scripts (a Bayesian-only flag only to the Bayesian one). Runs go to
RESULTS_DIR/seed_<seed>/<strategy>/ and resume like the scripts do; the report is written to
RESULTS_DIR/study.md, study.json and study.png.
"""

import os
import sys
from pathlib import Path

import numpy as np

from fashion_tuning import atomic, cli, flags
from fashion_tuning.compare import LABELS, best_so_far, load_summaries
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


def aggregate(results_dir):
    """Per strategy: the per-seed scores, their mean and standard deviation, and curves."""
    per_seed = {seed: load_summaries(folder) for seed, folder in seed_dirs(results_dir).items()}
    study = {"seeds": [s for s, runs in per_seed.items() if len(runs) == len(STRATEGIES)],
             "strategies": {}}
    for strategy in STRATEGIES:
        runs = [per_seed[s][strategy] for s in study["seeds"]]
        if not runs:
            continue
        stats = {}
        for key in ("best_val_accuracy", "test_accuracy", "total_seconds"):
            values = np.array([r[key] for r in runs], dtype=float)
            stats[key] = {"per_seed": values.tolist(), "mean": float(values.mean()),
                          "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0}
        curves = [[row[2] for row in best_so_far(r["trials"])] for r in runs]
        stats["best_so_far_curves"] = curves
        study["strategies"][strategy] = stats
        study["budget"] = {k: runs[0][k] for k in ("max_trials", "epochs", "batch_size",
                                                   "patience", "train_limit", "val_fraction",
                                                   "precision")}
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
        return {"per_seed": d.tolist(), "mean": mean, "std": None, "ci95": None}
    half = float(stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / np.sqrt(n))
    return {"per_seed": d.tolist(), "mean": mean, "std": float(d.std(ddof=1)),
            "ci95": [mean - half, mean + half]}


def study_markdown(study):
    """The study's tables as Markdown."""
    names = list(study["strategies"])
    lines = [f"## Multi-seed study ({len(study['seeds'])} seeds: "
             f"{', '.join(map(str, study['seeds']))})", "",
             "Budget: " + ", ".join(f"{k}={v}" for k, v in study["budget"].items()), "",
             "| | " + " | ".join(LABELS[n] for n in names) + " |", "|---|" + "---|" * len(names)]
    for key, label in (("best_val_accuracy", "Best val accuracy"),
                       ("test_accuracy", "Test accuracy"), ("total_seconds", "Time (s)")):
        cells = [f"{study['strategies'][n][key]['mean']:.4f} ± "
                 f"{study['strategies'][n][key]['std']:.4f}" if key != "total_seconds" else
                 f"{study['strategies'][n][key]['mean']:.0f} ± "
                 f"{study['strategies'][n][key]['std']:.0f}" for n in names]
        lines.append(f"| {label} (mean ± sd) | " + " | ".join(cells) + " |")
    if len(names) == len(STRATEGIES):
        lines += ["", "Paired by seed (Bayesian minus Random):", "",
                  "| seed | Δ best val accuracy | Δ test accuracy |", "|---|---|---|"]
        val, test = (study["bayesian_minus_random"][k]
                     for k in ("best_val_accuracy", "test_accuracy"))
        lines += [f"| {s} | {v:+.4f} | {t:+.4f} |"
                  for s, v, t in zip(study["seeds"], val["per_seed"], test["per_seed"])]
        sd = (lambda d: f" ± {d['std']:.4f}" if d["std"] is not None else "")
        lines.append(f"| mean ± sd | {val['mean']:+.4f}{sd(val)} | "
                     f"{test['mean']:+.4f}{sd(test)} |")
        if test["ci95"]:
            ci = (lambda d: f"{d['ci95'][0]:+.4f} to {d['ci95'][1]:+.4f}")
            lines.append(f"| 95 % interval of the mean (paired t, {len(study['seeds']) - 1} df) "
                         f"| {ci(val)} | {ci(test)} |")
        d_test = np.array(test["per_seed"])
        lines += ["", f"Bayesian ahead on test accuracy in {int((d_test > 0).sum())} of "
                      f"{len(d_test)} seeds, behind in {int((d_test < 0).sum())}."]
    return "\n".join(lines) + "\n"


def plot_study(study, path):
    """Mean best-so-far validation accuracy against trial number, with a ±1 sd band."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for (strategy, stats), color in zip(study["strategies"].items(), ("tab:blue", "tab:orange")):
        n = min(len(c) for c in stats["best_so_far_curves"])
        curves = np.array([[np.nan if v is None else v for v in c[:n]]
                           for c in stats["best_so_far_curves"]], dtype=float)
        mean, sd = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        x = np.arange(1, n + 1)
        ax.plot(x, mean, color=color, label=f"{LABELS[strategy]} (mean of {len(curves)})")
        ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2)
    ax.set_xlabel("trial")
    ax.set_ylabel("best validation accuracy so far")
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
    out = Path(args.results_dir)
    atomic.write_json(out / "study.json", study)
    atomic.write_text(out / "study.md", study_markdown(study))
    plot_study(study, out / "study.png")
    print(study_markdown(study))
    print(f"Wrote {out / 'study.md'}, {out / 'study.json'}, {out / 'study.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
