"""Fit the surrogate to the real trials of `benchmarks.space_trials` and report what it says of
the space: its validation on held-out configurations, the optimum and the headroom over the
hand-picked configuration, the share of the space near the optimum, and a functional ANOVA.

    python -m benchmarks.space_fit                 # docs/results/verdict/trials.jsonl
    python -m benchmarks.space_fit --trials PATH --folds 10
"""

import sys
from pathlib import Path

import numpy as np

from benchmarks.common import read_lines, write_report
from benchmarks.real_check import real_runs
from benchmarks.study_residuals import residuals, residuals_markdown
from benchmarks.surrogate import MEANS, Surrogate, features, functional_anova, grid, optimum
from benchmarks.verdict import REAL

TRIALS = "docs/results/verdict/trials.jsonl"
HAND_PICKED_ID = "hand-picked"
# A training counts as timed alone when the 1-minute load average at its start was below this
# (a training alone on 2 cores keeps it near 2.5, shared far above: docs/results/verdict/).
CLEAN_LOAD = 3.0
# How many configurations of the top region the report lists (and final_check may train).
TOP = 5


def read_trials(path):
    """The scored trainings recorded in `path` (JSON lines; a cut last line is left out)."""
    return [r for r in read_lines(path) if r.get("score") is not None]


def by_configuration(records):
    """`{config id: [records]}` in the order the configurations first appear."""
    groups = {}
    for r in records:
        groups.setdefault(r["config"], []).append(r)
    return groups


def curve(record):
    """A training's curve as the surrogate models it: its val_accuracy at each epoch before
    the last, then its score."""
    return [*record["history"]["val_accuracy"][:-1], record["score"]]


def fit(records, seed=0, curves=True, mean="gp"):
    """The `Surrogate` of `records`: the mean on every training, the noise on the repeats,
    the seconds on the trainings timed alone (`timed_alone`), whose CPU `seconds_cpu` names."""
    from fashion_tuning.errors import UserError

    repeats = {c: (rs[0]["hyperparameters"], [curve(r) for r in rs])
               for c, rs in by_configuration(records).items() if len(rs) > 1}
    if not repeats:  # Else the noise sd is nan, and every simulated trial with it.
        raise UserError(f"the noise is measured on configurations trained at several trial "
                        f"seeds, and these {len(records)} trainings hold none; run more of the "
                        "plan (python -m benchmarks.space_trials)")
    timed, cpu = timed_alone(records)
    rows = [{"hyperparameters": r["hyperparameters"], "curve": curve(r),
             "seconds": r["seconds"] if id(r) in timed else None} for r in records]
    model = Surrogate(rows, repeats, seed=seed, curves=curves, mean=mean)
    model.seconds_cpu = cpu
    return model


def cpu_of(record):
    return (record.get("machine") or {}).get("cpu")


def timed_alone(records):
    """`(ids, cpu)`: the trainings the seconds are fitted to, those timed alone (load average
    at the start below CLEAN_LOAD; all of them if none was) on the CPU kind with the most such
    (minutes are one machine's, and CPUs differ up to 3x), and that CPU's name."""
    clean = [r for r in records if (r.get("loadavg_start") or 0) < CLEAN_LOAD] or records
    cpus = [cpu_of(r) for r in clean]
    most = max(sorted(set(cpus), key=str), key=cpus.count)  # Ties: the same one each time.
    return {id(r) for r in clean if cpu_of(r) == most}, most


def fit_surrogate(path=TRIALS, mean="gp"):
    """`fit` of the trials recorded in `path`."""
    return fit(read_trials(path), mean=mean)


def validate(records, folds=10, subsets=2000, seed=0, mean="gp"):
    """Held-out quality of the mean: configurations in `folds` groups, each predicted by a
    surrogate fitted to the others. Returns Spearman's rho and R^2 of the predictions against
    the scores (each configuration's mean score), and the error in the value of the best of
    10: over `subsets` random 10-configuration subsets, the surrogate's expected best score
    (mean plus its noise, simulated) minus the real best score."""
    from scipy import stats

    groups = list(by_configuration(records).items())
    order = np.random.default_rng(seed).permutation(len(groups))
    predicted, noise, observed = np.zeros(len(groups)), np.zeros(len(groups)), np.zeros(len(groups))
    for k in range(folds):
        held = set(order[k::folds].tolist())
        train = [r for i, (_, rs) in enumerate(groups) if i not in held for r in rs]
        model = fit(train, seed, curves=False, mean=mean)
        for i in held:
            x = features([groups[i][1][0]["hyperparameters"]])
            predicted[i], noise[i] = model.mean(x)[0], model.noise_sd(x)[0]
            observed[i] = np.mean([r["score"] for r in groups[i][1]])
    # The real best of 10 uses one training per configuration: its first.
    first = np.array([rs[0]["score"] for _, rs in groups])
    rng = np.random.default_rng(seed + 1)
    errors = []
    for _ in range(subsets):
        pick = rng.choice(len(groups), 10, replace=False)
        simulated = (predicted[pick] + noise[pick] * rng.standard_normal((200, 10))).max(axis=1)
        errors.append(simulated.mean() - first[pick].max())
    errors = np.array(errors)
    residual = observed - predicted
    return {"configurations": len(groups), "folds": folds,
            "spearman_rho": float(stats.spearmanr(predicted, observed).statistic),
            "r2": float(1 - (residual ** 2).sum() / ((observed - observed.mean()) ** 2).sum()),
            "rmse": float(np.sqrt((residual ** 2).mean())),
            "best_of_10_error": {"mean": float(errors.mean()), "sd": float(errors.std()),
                                 "rmse": float(np.sqrt((errors ** 2).mean()))}}


def analyse(surrogate, hand_picked):
    """The optimum of the surrogate's mean on the space's grid, the hand-picked configuration's
    mean (their difference: the headroom at trial length), the share of the space whose mean is
    within one trial-noise sd of the optimum, the noise sd there, and the functional ANOVA."""
    configs, x = grid()
    means = surrogate.mean(x)
    best_mean, best_config = optimum(surrogate)
    best = configs.index(best_config)
    noise_at_best = float(surrogate.noise_sd(x[best])[0])
    hand = float(surrogate.mean(features([hand_picked]))[0])
    # The top region, one configuration per dropout and optimizer at its best units and
    # learning rate: neighbours in units or on the learning-rate grid say the same thing.
    top, seen = [], set()
    for i in np.argsort(-means):
        key = tuple(configs[i][k] for k in ("dropout", "optimizer"))
        if key not in seen:
            seen.add(key), top.append(i)
        if len(top) == TOP:
            break
    return {"optimum": best_mean, "optimum_configuration": best_config,
            "top_configurations": [{**configs[i], "mean": float(means[i])} for i in top],
            "hand_picked_mean": hand, "headroom": best_mean - hand,
            "noise_sd_at_optimum": noise_at_best,
            "hand_picked_seconds": float(surrogate.seconds(features([hand_picked]))[0]),
            "seconds_cpu": surrogate.seconds_cpu,
            "noise_sd_at_hand_picked": float(surrogate.noise_sd(features([hand_picked]))[0]),
            "share_within_one_noise_sd": float((means >= best_mean - noise_at_best).mean()),
            "anova": functional_anova(surrogate)}


def report_markdown(validation, analysis, records):
    """The surrogate's validation and what it says of the space, as Markdown."""
    from fashion_tuning.report import format_hyperparameters, markdown_table

    v, a = validation, analysis
    anova = sorted(a["anova"].items(), key=lambda kv: -kv[1])
    return "\n".join([
        f"## The surrogate, mean by {a.get('mean_model', 'gp')} ({len(records)} trainings of "
        f"{len(by_configuration(records))} configurations)", "",
        f"Held out ({v['folds']}-fold, by configuration): Spearman's rho {v['spearman_rho']:.3f}, "
        f"R² {v['r2']:.3f}, RMSE {v['rmse']:.4f}; the best of 10 configurations, simulated "
        f"minus real: {v['best_of_10_error']['mean']:+.4f} (sd "
        f"{v['best_of_10_error']['sd']:.4f}, RMSE {v['best_of_10_error']['rmse']:.4f}).", "",
        f"Optimum of the mean: {a['optimum']:.4f} at "
        f"{format_hyperparameters(a['optimum_configuration'])}; the hand-picked configuration: "
        f"{a['hand_picked_mean']:.4f}; headroom at trial length {a['headroom']:+.4f}. A trial's "
        f"noise (sd) {a['noise_sd_at_optimum']:.4f} at the optimum, "
        f"{a['noise_sd_at_hand_picked']:.4f} at the hand-picked one; "
        f"{a['share_within_one_noise_sd']:.1%} of the space lies within one noise sd of the "
        f"optimum. A hand-picked trial takes {a['hand_picked_seconds']:.0f} s on "
        f"{a['seconds_cpu']} (2 cores, alone).", "",
        "Top of the space (the surrogate's mean):", "",
        markdown_table(["mean", "configuration"], [
            [f"{c['mean']:.4f}", format_hyperparameters(
                {k: v for k, v in c.items() if k != "mean"})] for c in a["top_configurations"]]),
        "", "Functional ANOVA of the mean over the uniform space (share of its variance):", "",
        markdown_table(["effect", "share"], [[name, f"{share:.1%}"] for name, share in anova]),
        ""])


def report_name(stem, mean):
    """The name of a report of the surrogate `mean`: `stem` for the GP, `stem-forest` else."""
    return stem if mean == "gp" else f"{stem}-{mean}"


def run(args):
    from fashion_tuning.config import HAND_PICKED
    from fashion_tuning.errors import UserError

    if not Path(args.trials).is_file():
        raise UserError(f"{args.trials}: no such file; run python -m benchmarks.space_trials "
                        "first, or pass --trials")
    records = read_trials(args.trials)
    if not 2 <= args.folds <= len(by_configuration(records)):
        raise UserError(f"--folds must be between 2 and the {len(by_configuration(records))} "
                        f"configurations of {args.trials}, got {args.folds}")
    model = fit(records, mean=args.mean)  # First: it says what all the trials lack.
    analysis = {"mean_model": args.mean, **analyse(model, HAND_PICKED)}
    validation = validate(records, args.folds, mean=args.mean)
    summaries = real_runs(args.real)
    markdown = report_markdown(validation, analysis, records)
    if summaries:
        analysis["study_residuals"] = residuals(model, summaries)
        markdown += "\n" + residuals_markdown(analysis["study_residuals"], len(summaries))
    write_report(Path(args.trials).with_name(report_name("surrogate", args.mean) + ".jsonl"),
                 {"validation": validation, **analysis}, markdown)
    return 0


def main(argv=None):
    from fashion_tuning.flags import tool_parser
    from fashion_tuning.report import run_tool

    parser = tool_parser(__doc__)
    parser.add_argument("--trials", default=TRIALS, help="the real trials (JSON lines)")
    parser.add_argument("--folds", type=int, default=10, help="cross-validation folds")
    parser.add_argument("--mean", choices=MEANS, default="gp",
                        help="the model of the mean; reports other than gp's get its name")
    parser.add_argument("--real", nargs="*", default=list(REAL), metavar="GLOB",
                        help="summary.json files of real searches, whose trials are held out")
    args = parser.parse_args(argv)
    return run_tool(lambda: run(args), Path(args.trials).parent, "--trials")


if __name__ == "__main__":
    sys.exit(main())
