"""The simulated study: KerasTuner's own oracles, as the product configures them, each trial
answered by the surrogate (its mean plus noise drawn as measured), no training.

    python -m benchmarks.simulate --seeds 1000 --processes 2     # hours on 2 cores; resumes
    python -m benchmarks.simulate --seeds 20                     # a part of it, in minutes
    python -m benchmarks.simulate --report-only

Each (strategy, seed) runs the product's oracle (`tuner.make_oracle`: the hand-picked first
trial, --initial-points, the seed's oracle seed) for the largest budget; KerasTuner draws a
trial's values independently of --max-trials, so the first B trials of that run are the
B-trial search. Trial t of seed s gets the same noise draw under both strategies (common
random numbers: the comparison is paired). One JSON line per run goes to --out as it ends.
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import append_line, read_lines, write_report
from benchmarks.surrogate import features, optimum
from fashion_tuning.config import STRATEGIES, Config

BUDGETS = (5, 10, 20, 30, 50)


def noise_draws(seed, count):
    """The standard normal draws of trials 0..count-1 at `seed`, the same for every strategy."""
    return np.random.default_rng([seed, 2026]).standard_normal(count)


def simulate_run(strategy, seed, surrogate, space, trials=max(BUDGETS)):
    """One simulated search: `[{hyperparameters, mean, sd, score, seconds}]` per trial."""
    from fashion_tuning import tuner

    config = Config(seed=seed, max_trials=trials)
    oracle = tuner.make_oracle(strategy, config, config.oracle_seed)
    # No files (they change no draw): the simulation's time goes to the oracle's own work.
    oracle.save, oracle._save_trial = (lambda: None), (lambda trial: None)
    with tempfile.TemporaryDirectory() as folder:
        oracle._set_project_dir(folder, "sim")
        oracle.update_space(space)
        oracle._display.verbose = 0
        z = noise_draws(seed, trials)
        run = []
        for t in range(trials):
            trial = oracle.create_trial("sim")
            if trial.status != "RUNNING":
                break
            values = dict(trial.hyperparameters.values)
            x = features([values])
            mean, sd = float(surrogate.mean(x)[0]), float(surrogate.noise_sd(x)[0])
            score = mean + sd * z[t]
            oracle.update_trial(trial.trial_id, {"val_accuracy": score})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
            run.append({"hyperparameters": values, "mean": mean, "sd": sd, "score": score,
                        "seconds": float(surrogate.seconds(x)[0])})
    return {"strategy": strategy, "seed": seed, "trials": run}


def pick(trials, margin):
    """The index of the trial the product trains among `trials` (simulated, in order): the top
    score, unless the first (hand-picked) trial is within `margin` of it (`results`' rule)."""
    from types import SimpleNamespace

    from fashion_tuning import trials as product_trials

    records = [SimpleNamespace(status="completed", val_accuracy=t["score"], index=i)
               for i, t in enumerate(trials)]
    return product_trials.trained_trial(records, margin).index


def run_measures(run, budget, margins, best_mean):
    """What one simulated run says at `budget` trials: the best score seen, the true value
    (surrogate mean) of the configuration trained at each margin, and the search seconds."""
    trials = run["trials"][:budget]
    return {"best_seen": max(t["score"] for t in trials),
            "seconds": sum(t["seconds"] for t in trials),
            **{f"true@{m:g}": trials[pick(trials, m)]["mean"] for m in margins},
            **{f"regret@{m:g}": best_mean - trials[pick(trials, m)]["mean"] for m in margins},
            **{f"kept_hand_picked@{m:g}": pick(trials, m) == 0 for m in margins}}


def paired_interval(differences):
    """Mean, sd and 95 % interval (Student's t) of paired `differences`."""
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = float(stats.t.ppf(0.975, len(d) - 1)) * sd / np.sqrt(len(d))
    return {"mean": mean, "sd": sd, "ci95": [mean - half, mean + half]}


MARGINS = (0.0, 0.002, 0.004, 0.0055, 0.008, 0.011, 0.015)


def summarize(runs, best_mean, budgets=BUDGETS, margins=MARGINS, default_margin=None):
    """Per budget: each strategy's means over seeds, and Bayesian minus Random, paired by seed,
    of the true value of the configuration trained at `default_margin` (--hand-picked-margin)."""
    from fashion_tuning.config import HAND_PICKED_MARGIN

    default_margin = HAND_PICKED_MARGIN if default_margin is None else default_margin
    by_seed = {}
    for run in runs:
        by_seed.setdefault(run["seed"], {})[run["strategy"]] = run
    seeds = sorted(s for s, pair in by_seed.items() if len(pair) == len(STRATEGIES))
    report = {"seeds": len(seeds), "optimum": best_mean, "budgets": {}}
    for budget in budgets:
        measures = {s: [run_measures(by_seed[seed][s], budget, margins, best_mean)
                        for seed in seeds] for s in STRATEGIES}
        row = {s: {k: float(np.mean([m[k] for m in ms])) for k in ms[0]}
               for s, ms in measures.items()}
        key = f"true@{default_margin:g}"
        random, bayesian = (np.array([m[key] for m in measures[s]]) for s in STRATEGIES)
        d = bayesian - random
        row["bayesian_minus_random"] = {
            "true": paired_interval(d),
            "best_seen": paired_interval([b["best_seen"] - r["best_seen"] for r, b in zip(
                *measures.values())]),
            "bayesian_better": float((d > 1e-12).mean()), "tie": float((abs(d) <= 1e-12).mean()),
            "random_better": float((d < -1e-12).mean())}
        report["budgets"][budget] = row
    return report


def report_markdown(report, margins=MARGINS):
    """The simulated study's tables as Markdown."""
    from fashion_tuning.report import markdown_table

    names = {"random_search": "Random", "bayesian_optimization": "Bayesian"}
    lines = [f"## Simulated study ({report['seeds']} seeds per strategy)", "",
             f"Optimum of the surrogate's mean: {report['optimum']:.4f}.", ""]
    rows = []
    for budget, row in report["budgets"].items():
        d = row["bayesian_minus_random"]
        for s, name in names.items():
            m = row[s]
            rows.append([budget, name, f"{m['best_seen']:.4f}", f"{m['true@0']:.4f}",
                         f"{m['true@0.0055']:.4f}", f"{m['regret@0.0055']:.4f}",
                         f"{m['kept_hand_picked@0.0055']:.2f}", f"{m['seconds'] / 60:.1f}"])
        ci = d["true"]["ci95"]
        rows.append([budget, "B − R", f"{d['best_seen']['mean']:+.4f}", "",
                     f"{d['true']['mean']:+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]", "",
                     f"B>R {d['bayesian_better']:.2f}, tie {d['tie']:.2f}, "
                     f"B<R {d['random_better']:.2f}", ""])
    lines.append(markdown_table(
        ["trials", "strategy", "best score seen", "true value, top trial",
         "true value, trained (margin 0.0055)", "regret", "kept hand-picked",
         "search min"], rows))
    lines += ["", "True value of the trained configuration by margin (mean over seeds):", ""]
    rows = [[budget, name, *(f"{row[s][f'true@{m:g}']:.4f}" for m in margins)]
            for budget, row in report["budgets"].items() for s, name in names.items()]
    lines.append(markdown_table(["trials", "strategy", *(f"{m:g}" for m in margins)], rows))
    return "\n".join(lines) + "\n"


_worker = {}


def _simulate(job):
    strategy, seed = job
    return simulate_run(strategy, seed, _worker["surrogate"], _worker["space"])


def run(args):
    """Simulate the (strategy, seed) runs --out lacks, appending each as it ends; report."""
    import multiprocessing

    from benchmarks.space_fit import fit_surrogate

    surrogate = fit_surrogate(args.trials)
    out = Path(args.out)
    done = {(r["strategy"], r["seed"]) for r in read_lines(out)}
    jobs = [(s, seed) for seed in range(args.first_seed, args.first_seed + args.seeds)
            for s in STRATEGIES if (s, seed) not in done]
    if jobs and not args.report_only:
        from fashion_tuning.hypermodel import space_hyperparameters

        _worker.update(surrogate=surrogate, space=space_hyperparameters())
        out.parent.mkdir(parents=True, exist_ok=True)
        with multiprocessing.get_context("fork").Pool(args.processes) as pool:
            for n, result in enumerate(pool.imap_unordered(_simulate, jobs), start=1):
                append_line(out, result)
                print(f"[{n}/{len(jobs)}] {result['strategy']} seed {result['seed']}",
                      flush=True)
    best_mean, best_config = optimum(surrogate)
    wanted = range(args.first_seed, args.first_seed + args.seeds)
    report = summarize([r for r in read_lines(out) if r["seed"] in wanted], best_mean)
    report["optimum_configuration"] = best_config
    write_report(out, report, report_markdown(report))
    return 0


def main(argv=None):
    from fashion_tuning.flags import tool_parser
    from fashion_tuning.report import run_tool

    parser = tool_parser(__doc__)
    parser.add_argument("--trials", default="docs/results/verdict/trials.jsonl",
                        help="the real trials the surrogate is fitted to")
    parser.add_argument("--seeds", type=int, default=1000, help="seeds per strategy")
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default="docs/results/verdict/simulation.jsonl")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    return run_tool(lambda: run(args), Path(args.out).parent, "--out")


if __name__ == "__main__":
    sys.exit(main())
