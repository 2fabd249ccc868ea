"""The simulated study: KerasTuner's own oracles, as the product configures them, each trial
answered by the surrogate (its mean plus noise drawn as measured), no training.

    python -m benchmarks.simulate --seeds 1000 --processes 2     # hours on 2 cores; resumes
    python -m benchmarks.simulate --seeds 20                     # a part of it, in minutes
    python -m benchmarks.simulate --report-only

Each (strategy, seed) runs the product's oracle (`tuner.make_oracle`: the hand-picked first
trial, --initial-points, the seed's oracle seed) for the largest budget; KerasTuner draws a
trial's values independently of --max-trials, so the first B trials of that run are the
B-trial search. Each trial is a simulated curve (`Surrogate.curves`) on which the product's
median stopping is replayed, as the default (pruned) search would stop it: a stopped trial's
score is its best epoch so far, and its seconds shrink in proportion. Trial t of seed s gets
the same noise draws under both strategies (common random numbers: the comparison is paired).
One JSON line per run goes to --out as it ends; each process runs one thread, so a run's
oracle (and so its line) is the same however many processes run.
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import append_line, read_lines, write_report
from benchmarks.real_check import check_against_real, check_markdown, real_runs
from benchmarks.space_fit import fit_surrogate, report_name
from benchmarks.surrogate import MEANS, features, optimum
from benchmarks.verdict import BUDGETS, REAL, report_markdown, summarize
from benchmarks.verdict_plot import plot_simulation
from fashion_tuning.config import STRATEGIES, Config


def noise_draws(seed, count, columns):
    """The standard normal draws of trials 0..count-1 at `seed` (a row of `columns` each), the
    same for every strategy."""
    return np.random.default_rng([seed, 2026]).standard_normal((count, columns))


def pruned_at(curve, completed, config):
    """The epoch (from 1) at which median stopping (`pruning.MedianStopping`) would stop a
    trial with this simulated `curve`, given the curves of the `completed` trials, or None."""
    from fashion_tuning.pruning import MIN_COMPLETED, median_to_beat

    if not config.pruning:
        return None
    # Judged from `judged_from_epoch` to the epoch before the last, where stopping saves nothing.
    return next((e for e in range(config.judged_from_epoch, len(curve))
                 if median_to_beat(curve[:e], completed, config.judged_from_epoch,
                                   MIN_COMPLETED)), None)


def simulate_run(strategy, seed, surrogate, space, trials=max(BUDGETS), pruning=True):
    """One simulated search: `[{hyperparameters, mean, sd, score, status, epochs_run,
    seconds}]` per trial, with median stopping replayed on the simulated curves."""
    from fashion_tuning import tuner

    config = Config(seed=seed, max_trials=trials, pruning=pruning)
    oracle = tuner.make_oracle(strategy, config, config.oracle_seed)
    # No files (they change no draw): the simulation's time goes to the oracle's own work.
    oracle.save, oracle._save_trial = (lambda: None), (lambda trial: None)
    z = noise_draws(seed, trials, surrogate.correlation.shape[0])
    completed, run = [], []
    with tempfile.TemporaryDirectory() as folder:
        oracle._set_project_dir(folder, "sim")
        oracle.update_space(space)
        oracle._display.verbose = 0
        for t in range(trials):
            trial = oracle.create_trial("sim")
            if trial.status != "RUNNING":
                break
            values = dict(trial.hyperparameters.values)
            x = features([values])
            curve = [float(v) for v in surrogate.curves(x, z[t])[0]]
            stop = pruned_at(curve, completed, config)
            # KerasTuner scores a trial with its best epoch, a stopped one with those it ran.
            score = max(curve[:stop] if stop else curve)
            if not stop:
                completed.append(curve)
            oracle.update_trial(trial.trial_id, {"val_accuracy": score})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
            run.append({"hyperparameters": values, "mean": float(surrogate.mean(x)[0]),
                        "sd": float(surrogate.noise_sd(x)[0]), "score": score,
                        "status": "pruned" if stop else "completed",
                        "epochs_run": stop or len(curve),
                        "seconds": float(surrogate.seconds(x)[0]) * (stop or len(curve))
                        / len(curve)})
    return {"strategy": strategy, "seed": seed, "pruning": pruning, "trials": run}


_worker = {}


def _start_worker(surrogate, space):
    import warnings

    from threadpoolctl import threadpool_limits

    # The Bayesian oracle's GP warns of length scales at their bounds on every fit.
    warnings.simplefilter("ignore")
    _worker.update(surrogate=surrogate, space=space, limits=threadpool_limits(1))


def _simulate(job):
    strategy, seed = job
    return simulate_run(strategy, seed, _worker["surrogate"], _worker["space"])


def run(args):
    """Simulate the (strategy, seed) runs --out lacks, appending each as it ends; report."""
    import multiprocessing

    from fashion_tuning.config import MAX_SEED
    from fashion_tuning.errors import UserError
    from fashion_tuning.results import sha256_of

    if args.seeds < 2 or args.processes < 1 or not \
            0 <= args.first_seed <= args.first_seed + args.seeds - 1 <= MAX_SEED:
        raise UserError(f"the flags need --seeds >= 2 (an interval needs two), --processes >= 1"
                        f" and seeds within 0 to {MAX_SEED}")
    if not Path(args.trials).is_file():
        raise UserError(f"{args.trials}: no such file; run python -m benchmarks.space_trials "
                        "first, or pass --trials")
    out = Path(args.out)
    lines = read_lines(out)
    other = {r.get("surrogate", "gp") for r in lines} - {args.mean}
    if other:
        raise UserError(f"{out} holds runs on the {other.pop()} surrogate, not --mean "
                        f"{args.mean}; pass another --out")
    # A run is only comparable with runs on a surrogate of the same trials.
    fitted_to = sha256_of(args.trials)[:16]
    if any(r.get("trials_sha256") != fitted_to for r in lines):
        raise UserError(f"{out} holds runs on a surrogate of other trials than {args.trials}"
                        " (their trials_sha256 differs); pass another --out")
    done = {(r["strategy"], r["seed"]) for r in lines}
    wanted = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(s, seed) for seed in wanted for s in STRATEGIES if (s, seed) not in done]
    paired = sum(all((s, seed) in done for s in STRATEGIES) for seed in wanted)
    if args.report_only and paired < 2:
        raise UserError(f"{out} holds {paired} of seeds {wanted.start}-{wanted.stop - 1} under "
                        "both strategies, and a report needs two; run without --report-only")
    surrogate = fit_surrogate(args.trials, args.mean)
    if jobs and not args.report_only:
        from fashion_tuning.hypermodel import space_hyperparameters

        out.parent.mkdir(parents=True, exist_ok=True)
        with multiprocessing.get_context("fork").Pool(
                args.processes, _start_worker, (surrogate, space_hyperparameters())) as pool:
            for n, result in enumerate(pool.imap_unordered(_simulate, jobs), start=1):
                append_line(out, {**result, "surrogate": args.mean,
                                   "trials_sha256": fitted_to})
                print(f"[{n}/{len(jobs)}] {result['strategy']} seed {result['seed']}",
                      flush=True)
    best_mean, best_config = optimum(surrogate)
    runs = [r for r in read_lines(out) if r["seed"] in wanted]
    report = summarize(runs, best_mean)
    report.update(optimum_configuration=best_config, seconds_cpu=surrogate.seconds_cpu,
                  surrogate=args.mean, trials_sha256=fitted_to)
    summaries = real_runs(args.real)
    report["against_real"] = check_against_real(runs, summaries)
    plot_simulation(runs, summaries, out.with_suffix(".png"))
    markdown = report_markdown(report)
    if report["against_real"]:
        markdown += ("\n## Against the real runs\n\n"
                     f"{len(summaries)} real runs at the defaults ({', '.join(args.real)}).\n\n"
                     + check_markdown(report["against_real"]) + "\n")
    write_report(out, report, markdown)
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
    parser.add_argument("--mean", choices=MEANS, default="gp",
                        help="the surrogate's model of the mean (forest: a truth of another "
                        "kind than the Bayesian oracle's GP)")
    parser.add_argument("--out", default=None,
                        help="default: docs/results/verdict/simulation.jsonl, "
                        "simulation-forest.jsonl with --mean forest")
    parser.add_argument("--real", nargs="*", default=list(REAL), metavar="GLOB",
                        help="summary.json files of real runs at the defaults to check against")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    args.out = args.out or f"docs/results/verdict/{report_name('simulation', args.mean)}.jsonl"
    return run_tool(lambda: run(args), Path(args.out).parent, "--out")


if __name__ == "__main__":
    sys.exit(main())
