"""The headroom after the final training: the surrogate's best configurations and the
hand-picked one, each trained as a default run's final training, at several seeds, and scored
on the test images.

Run from the repository root, as a module, alone on the machine (hours on 2 CPU cores; it
resumes where it stopped):

    python -m benchmarks.final_check                 # after python -m benchmarks.space_fit
    python -m benchmarks.final_check --report-only

A trial's 3 epochs may favour what 25 epochs do not (short-horizon bias), so the surrogate's
headroom at trial length is checked where it counts. The configurations are taken once from
the surrogate's report (`surrogate.json`: the first --top of its top region, one per dropout
and optimizer, each at its best units and learning rate) and the hand-picked one, and recorded
in a plan beside --out. Each trains through the product's own `final_training.final_model`
with `Config(seed=SEED)`'s defaults: all 60,000 training images, the final schedule and
recipe, the flip average at test time. Trainings go seed by seed, so a run stopped early has
compared every configuration at the seeds it reached. One JSON line per training. The
hand-picked configuration's final training is also what a default run trains when its search
keeps the hand-picked trial: the real study's such runs (--study, on the same data) add its
seeds the check lacks, and are compared where the check trained the same seed.
"""

import statistics
import sys
import time
from pathlib import Path

from benchmarks import space_plan
from benchmarks.common import (keep_line, load_average, locked_lines, read_lines, run_resumable,
                               study_parser, write_report)
from benchmarks.real_check import real_runs
from benchmarks.verdict import REAL
from fashion_tuning.config import HAND_PICKED, Config
from fashion_tuning.errors import UserError
from fashion_tuning.results import utc_now

OUT = "docs/results/verdict/final_check.jsonl"
SURROGATE = "docs/results/verdict/surrogate.json"


def plan_entries(surrogate, top, seeds):
    """The trainings, seed by seed: the hand-picked configuration and the surrogate's first
    `top` configurations, each with the surrogate's mean at trial length."""
    configs = [("hand-picked", HAND_PICKED, surrogate["hand_picked_mean"])] + [
        (f"surrogate-{n}", {k: c[k] for k in HAND_PICKED}, c["mean"])
        for n, c in enumerate(surrogate["top_configurations"][:top], start=1)]
    return [{"index": i, "config": name, "hyperparameters": hps, "seed": seed,
             "trial_length_mean": mean}
            for i, (seed, (name, hps, mean)) in enumerate(
                (s, c) for s in seeds for c in configs)]


def final_settings(config):
    """What makes a training a default run's final training, recorded with the plan."""
    return {"final_epochs": config.final_epochs, "batch_size": config.batch_size,
            "final_recipe": str(config.final_recipe), "precision": config.precision}


def train_entry(entry, dataset):
    """Train `entry` as the final training of a default run with its seed; its line."""
    from fashion_tuning import data, environment, final_training

    config = Config(seed=entry["seed"])
    pool = data.split(dataset, config)[0]
    started_at, load, cpu = utc_now(), load_average(), time.process_time()
    _, scores, seconds = final_training.final_model(
        entry["hyperparameters"], config, pool, (dataset.x_test, dataset.y_test),
        environment.resolve_precision(config.precision))
    return {"plan_index": entry["index"], **{k: v for k, v in entry.items() if k != "index"},
            "test_accuracy": scores["test_accuracy"], "test_loss": scores["test_loss"],
            "final_images": len(pool[1]), "seconds": round(seconds, 1),
            "cpu_seconds": round(time.process_time() - cpu, 1), "loadavg_start": load,
            "loadavg_end": load_average(), "started_at": started_at, "finished_at": utc_now(),
            "machine": environment.machine(), "versions": environment.versions(),
            "code_version": environment.code_version()}


def study_hand_picked(summaries, data):
    """`{seed: test accuracy}` of the real runs (`real_check.real_runs`) on the check's `data`
    (its fingerprint) whose final training trained the hand-picked first trial with the
    defaults: the same training as this check's hand-picked one at that seed (the check's seed
    42 reproduces the study's to the digit)."""
    from fashion_tuning.results import final_recipe, setting

    final = final_settings(Config())
    return {setting(s, "seed"): s["test_accuracy"] for s in summaries
            if s["data"]["sha256"] == data["sha256"]
            and s["trained_trial_id"] == s["trials"][0]["trial_id"]
            and s["trained_hyperparameters"] == HAND_PICKED
            and setting(s, "final_epochs") == final["final_epochs"]
            and str(final_recipe(s)) == final["final_recipe"]
            and s["precision_used"] == final["precision"]}


def summarize(records, study=None):
    """Per configuration: the surrogate's mean at trial length, the test accuracy over seeds
    (mean, sd, each seed's), and the difference of means from the hand-picked one with its
    95 % interval (Welch). The hand-picked one also counts `study`'s trainings (`{seed: test
    accuracy}`) at seeds this check lacks; where both trained a seed, they are compared."""
    from scipy import stats

    study = study or {}
    groups = {}
    for r in records:
        groups.setdefault(r["config"], []).append(r)
    checked = {r["seed"]: r["test_accuracy"] for r in groups.get("hand-picked", [])}
    if groups.get("hand-picked"):
        first = groups["hand-picked"][0]
        groups["hand-picked"] += [{**first, "seed": seed, "test_accuracy": acc}
                                  for seed, acc in sorted(study.items()) if seed not in checked]
    base = [r["test_accuracy"] for r in groups.get("hand-picked", [])]
    rows = []
    for name, rs in groups.items():
        acc = [r["test_accuracy"] for r in rs]
        row = {"config": name, "hyperparameters": rs[0]["hyperparameters"],
               "trial_length_mean": rs[0]["trial_length_mean"], "seeds": [r["seed"] for r in rs],
               "test_accuracy": acc, "mean": statistics.fmean(acc),
               "sd": statistics.stdev(acc) if len(acc) > 1 else None}
        if name != "hand-picked" and len(acc) > 1 and len(base) > 1:
            t = stats.ttest_ind(acc, base, equal_var=False)
            ci = t.confidence_interval(0.95)
            row["minus_hand_picked"] = {"mean": row["mean"] - statistics.fmean(base),
                                        "ci95": [float(ci.low), float(ci.high)]}
        rows.append(row)
    return {"configurations": rows,
            "study_hand_picked": {"seeds_added": sorted(set(study) - set(checked)),
                                  "reproduced": [{"seed": seed, "check": checked[seed],
                                                  "study": study[seed]}
                                                 for seed in sorted(set(study) & set(checked))]}}


def report_markdown(report):
    from fashion_tuning.report import format_hyperparameters, markdown_table

    rows = [[r["config"], format_hyperparameters(r["hyperparameters"]),
             f"{r['trial_length_mean']:.4f}", f"{r['mean']:.4f}",
             "" if r["sd"] is None else f"{r['sd']:.4f}",
             " ".join(map(str, r["seeds"])), " ".join(f"{a:.4f}" for a in r["test_accuracy"]),
             "" if "minus_hand_picked" not in r else
             "{:+.4f} [{:+.4f}, {:+.4f}]".format(r["minus_hand_picked"]["mean"],
                                                 *r["minus_hand_picked"]["ci95"])]
            for r in report["configurations"]]
    return "\n".join([
        "## The final-training check", "",
        markdown_table(["configuration", "hyperparameters", "trial-length mean (surrogate)",
                        "test accuracy, mean", "sd", "seeds", "each seed's",
                        "minus hand-picked [95 %]"],
                       rows), ""] + _study_lines(report.get("study_hand_picked")))


def _study_lines(study):
    if not study or not (study["seeds_added"] or study["reproduced"]):
        return []
    def seeds(s):
        return f"seed{'s' * (len(s) > 1)} {', '.join(map(str, s))}" if s else "no seed"

    same = [r["seed"] for r in study["reproduced"] if r["check"] == r["study"]]
    other = [r for r in study["reproduced"] if r["check"] != r["study"]]
    return [f"The hand-picked row adds the real study's final trainings of the hand-picked "
            f"configuration at {seeds(study['seeds_added'])}; at {seeds(same)} this check "
            "reproduced the study's test accuracy to the digit"
            + "".join(f"; at seed {r['seed']} it gave {r['check']:.4f}, the study "
                      f"{r['study']:.4f}" for r in other) + ".", ""]


def run(args):
    out = Path(args.out)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    if args.top < 1 or not seeds:
        raise UserError("--top must be at least 1 and --seeds a list such as 42,1,2")
    recorded = space_plan.recorded_plan(out)
    runs = real_runs(args.study)
    if args.report_only:  # The study's trainings count only on the plan's data.
        study = study_hand_picked(runs, recorded["data"]) if recorded else {}
        report = summarize(read_lines(out), study)
        write_report(out, report, report_markdown(report))
        return 0
    if not recorded and not Path(args.surrogate).is_file():
        raise UserError(f"{args.surrogate}: no such file; run python -m benchmarks.space_fit "
                        "first, or pass --surrogate")
    from fashion_tuning import atomic, data

    dataset = data.load_fashion_mnist(args.data_dir)
    plan = {"flags": {"top": args.top, "seeds": ",".join(map(str, seeds))},
            "final": final_settings(Config()),
            "data": dataset.fingerprint()}
    study = study_hand_picked(runs, plan["data"])
    if recorded:
        space_plan.check_same(recorded, plan, out)
        entries = recorded["entries"]
    else:
        surrogate = atomic.read_json(args.surrogate, "run python -m benchmarks.space_fit again")
        entries = plan_entries(surrogate, args.top, seeds)
    with locked_lines(out) as (handle, records):
        if records and not recorded:
            raise UserError(f"{out} holds trainings but {space_plan.plan_path(out)} is "
                            "missing; restore it from git or pass another --out")
        if not recorded:
            space_plan.record_plan(out, {**plan, "entries": entries, "created_at": utc_now()})
        done = {r["plan_index"] for r in records}
        for entry in [e for e in entries if e["index"] not in done]:
            print(f"{entry['config']} at seed {entry['seed']}: training", flush=True)
            record = train_entry(entry, dataset)
            keep_line(handle, record)
            records.append(record)
            print(f"  test accuracy {record['test_accuracy']:.4f} in {record['seconds']:.0f} s"
                  f" (load {record['loadavg_start']} to {record['loadavg_end']})", flush=True)
    report = summarize(records, study)
    write_report(out, report, report_markdown(report))
    return 0


def main(argv=None):
    parser = study_parser(__doc__, OUT)
    parser.add_argument("--surrogate", default=SURROGATE, help="space_fit's report (JSON)")
    parser.add_argument("--top", type=int, default=3,
                        help="configurations of the surrogate's top region to train")
    parser.add_argument("--seeds", default="42,1,2", help="the runs' seeds, comma-separated")
    parser.add_argument("--study", nargs="*", default=[REAL[0]], metavar="GLOB",
                        help="summary.json files of real default runs whose final trainings of "
                        "the hand-picked configuration count at seeds the check lacks")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    return run_resumable(lambda: run(args), args.out)


if __name__ == "__main__":
    sys.exit(main())
