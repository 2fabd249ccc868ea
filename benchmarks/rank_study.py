"""Rank study: do short trials order the search space's configurations as 12-epoch trials do?

Run from the repository root, as a module (hours on 2 CPU cores; it resumes where it stopped):

    python -m benchmarks.rank_study \
        docs/results/archive/default-12-epoch-trials/*/summary.json \
        --horizons 3,4,6 --out docs/results/rank-study/runs.jsonl
    python -m benchmarks.rank_study \
        docs/results/archive/default-12-epoch-trials/*/summary.json \
        --out docs/results/rank-study/runs.jsonl --report-only

Every distinct configuration among the trials of the given runs is trained as a trial is
(`TunedCNN`: its complete cosine schedule over H epochs, the trial's own seed, the run's split)
at each horizon H. A configuration whose recorded trial did not run its whole schedule (it was
pruned) is trained at the runs' schedule length too, so that every one has a reference score.
Each training appends one JSON line to --out as it ends. The report gives, per horizon,
Spearman's rho against the reference score, the reference-best configuration's rank, and the
reference score of the configuration each horizon would pick (its regret).
"""

import json
import sys
from pathlib import Path

from benchmarks.common import (append_line, read_lines, read_summary_at, split_of, study_parser,
                               train, write_report)
from fashion_tuning.errors import UserError
from fashion_tuning.report import run_tool
from fashion_tuning.results import setting


def configurations(summaries):
    """The distinct trial configurations of `summaries` (summary.json dicts), in order.

    Returns:
        A list of dicts: `key` (strategy/trial id of its first occurrence), `hyperparameters`,
        `seed` (the trial's own, as `tuner.Tuner` seeds it), and `reference` (its val_accuracy
        over the run's whole schedule, or None if the trial was stopped before its end).

    Raises:
        UserError: a run whose trials had no one schedule (its trial_epochs is null).
    """
    configs, seen = [], {}
    for summary in summaries:
        schedule = setting(summary, "trial_epochs")
        if schedule is None:
            raise UserError(f"a {summary['strategy']} run at seed {setting(summary, 'seed')} "
                            "records no trial_epochs: its trials had no one schedule to rank "
                            "against; give runs that record it")
        for trial in summary["trials"]:
            if trial["status"] == "failed":
                continue
            hps = json.dumps(trial["hyperparameters"], sort_keys=True)
            # Completed (early stopping included), or pruned only at its schedule's end.
            full = trial["status"] == "completed" or trial["epochs_run"] == schedule
            score = max(trial["history"]["val_accuracy"]) if full else None
            if hps in seen:
                if seen[hps]["reference"] is None:
                    seen[hps]["reference"] = score
                continue
            seen[hps] = {"key": f"{summary['strategy']}/{trial['trial_id']}",
                         "hyperparameters": trial["hyperparameters"],
                         "seed": setting(summary, "seed") + int(trial["trial_id"]),
                         "reference": score, "schedule": schedule}
            configs.append(seen[hps])
    return configs



def read_runs(path):
    """`{(key, horizon): run}` of the trainings recorded in `path`."""
    return {(r["key"], r["horizon"]): r for r in read_lines(path)}


def plan(configs, horizons):
    """The (config, horizon) trainings the study needs: the missing references first."""
    todo = [(c, c["schedule"]) for c in configs if c["reference"] is None]
    return todo + [(c, h) for h in horizons for c in configs]


def spearman(a, b):
    """Spearman's rank correlation of two equally long lists (ties get their mean rank)."""
    from scipy import stats

    return float(stats.spearmanr(a, b).statistic)


def report(configs, runs, horizons):
    """Per horizon: rho, where the reference best ranks, and the regret of the horizon's pick."""
    reference = {}
    for c in configs:
        ref = c["reference"]
        if ref is None and (c["key"], c["schedule"]) in runs:
            ref = max(runs[c["key"], c["schedule"]]["history"]["val_accuracy"])
        if ref is not None:
            reference[c["key"]] = ref
    best_key = max(reference, key=reference.get)
    rows = []
    for h in horizons:
        short = {k: max(runs[k, h]["history"]["val_accuracy"]) for k in reference
                 if (k, h) in runs}
        if len(short) < 3:
            continue
        keys = sorted(short, key=short.get, reverse=True)
        rows.append({
            "horizon": h, "configurations": len(short),
            "rho": spearman([short[k] for k in keys], [reference[k] for k in keys]),
            "reference_best_rank": keys.index(best_key) + 1 if best_key in short else None,
            "pick": keys[0], "pick_reference": reference[keys[0]],
            "regret": reference[best_key] - reference[keys[0]],
            "top3_regret": reference[best_key] - max(reference[k] for k in keys[:3]),
            "seconds": sum(runs[k, h]["seconds"] for k in short)})
    return {"reference_best": best_key, "reference_best_score": reference[best_key],
            "reference": reference, "horizons": rows}


def report_markdown(result, configs, runs, horizons):
    """The study's two tables: per horizon, and per configuration."""
    lines = [f"Reference: val_accuracy over the whole schedule; best {result['reference_best']}"
             f" ({result['reference_best_score']:.4f}).", "",
             "| horizon (epochs) | configurations | Spearman's rho | rank of the reference best "
             "| pick | its reference score | regret | regret of the best of the top 3 "
             "| training time (s) |", "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['horizon']} | {r['configurations']} | {r['rho']:.3f} | "
              f"{r['reference_best_rank']} | {r['pick']} | {r['pick_reference']:.4f} | "
              f"{r['regret']:.4f} | {r['top3_regret']:.4f} | {r['seconds']:.0f} |"
              for r in result["horizons"]]
    lines += ["", "| configuration | hyperparameters | reference | "
              + " | ".join(f"{h} epochs" for h in horizons) + " |",
              "|---|---|---|" + "---|" * len(horizons)]
    for c in configs:
        ref = result["reference"].get(c["key"])
        cells = [f"{max(runs[c['key'], h]['history']['val_accuracy']):.4f}"
                 if (c["key"], h) in runs else "" for h in horizons]
        hps = ", ".join(f"{k}={v:.2g}" if isinstance(v, float) else f"{k}={v}"
                        for k, v in sorted(c["hyperparameters"].items()))
        lines.append(f"| {c['key']} | {hps} | {'' if ref is None else f'{ref:.4f}'} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_study(args):
    """Train what `args.out` lacks (unless --report-only), then write the report; return 0."""
    horizons = [int(h) for h in args.horizons.split(",")]
    summaries = [read_summary_at(p) for p in args.summaries]
    configs = configurations(summaries)
    runs = read_runs(args.out)
    if not args.report_only:
        from fashion_tuning import environment

        first = summaries[0]
        train_data, val_data = split_of(first, args.data_dir)
        todo = [(c, h) for c, h in plan(configs, horizons) if (c["key"], h) not in runs]
        print(f"{len(configs)} configurations, {len(todo)} trainings to go", flush=True)
        for config, horizon in todo:
            _, trained = train(config["hyperparameters"], config["seed"], horizon, train_data,
                               val_data, setting(first, "batch_size"), args.precision)
            run = {"key": config["key"], "horizon": horizon, "seed": config["seed"],
                   "hyperparameters": config["hyperparameters"], "precision": args.precision,
                   **trained, "machine": environment.machine(),
                   "versions": environment.versions()}
            append_line(args.out, run)
            runs[config["key"], horizon] = run
            print(f"{config['key']} at {horizon} epochs: val_accuracy "
                  f"{max(run['history']['val_accuracy']):.4f} in {run['seconds']:.0f} s",
                  flush=True)
    result = report(configs, runs, horizons)
    write_report(args.out, result, report_markdown(result, configs, runs, horizons))
    return 0


def main(argv=None):
    parser = study_parser(__doc__, "rank-study.jsonl")
    parser.add_argument("summaries", nargs="+", help="summary.json files of full default runs")
    parser.add_argument("--horizons", default="3,4,6", help="short schedule lengths, in epochs")
    parser.add_argument("--precision", default="float32", help="the layers' dtype policy")
    parser.add_argument("--report-only", action="store_true", help="only report what --out has")
    args = parser.parse_args(argv)
    return run_tool(lambda: run_study(args), Path(args.out).parent, "--out")


if __name__ == "__main__":
    sys.exit(main())
