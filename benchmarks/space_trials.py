"""Real trials for a surrogate of the search space: configurations drawn as KerasTuner's Random
Search draws them, each trained exactly as a default trial, unpruned, every epoch kept.

Run from the repository root, as a module (hours on 2 CPU cores; it resumes where it stopped):

    python -m benchmarks.space_trials
    python -m benchmarks.space_trials --limit 1 --out /tmp/trials.jsonl
    python -m benchmarks.space_trials --report-only

What it trains, in which order, is the plan of `benchmarks.space_plan`: the hand-picked
configuration at trial seed 42 first (the default seed-42 search's trial 00), then --configs
configurations drawn from --plan-seed, each at its own trial seed, with --noise-configs of them
at 2 more trial seeds and the hand-picked one at --hand-picked-repeats more, interleaved, so
that any prefix of the plan is a sample of the same design. Each finished training appends one
JSON line to --out; the plan is recorded beside it (`<name>.plan.json`), and a rerun with
other plan flags is refused. Ctrl-C or SIGTERM stops it; the same command resumes.
"""

import math
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from benchmarks import space_plan
from benchmarks.common import (epoch_clock, keep_line, load_average, locked_lines, read_lines,
                               run_resumable, study_parser)
from fashion_tuning import data
from fashion_tuning.config import MAX_SEED, Config
from fashion_tuning.errors import UserError
from fashion_tuning.report import format_hyperparameters, number
from fashion_tuning.results import utc_now

OUT = "docs/results/verdict/trials.jsonl"
PLAN_FLAGS = ("configs", "noise_configs", "hand_picked_repeats", "plan_seed")
# What makes a training a default trial (Config's defaults), recorded with the plan and lines.
TRIAL_SETTINGS = ("seed", "val_fraction", "train_limit", "batch_size", "trial_epochs",
                  "patience", "precision")


def train_entry(entry, train, val, config):
    """Train `entry` exactly as a trial of `config` is trained (the final training's own path:
    seeded, `TunedCNN`'s complete cosine schedule over `config.trial_epochs`, the trial
    callbacks), unpruned, scored on `val`; returns what its line records of it."""
    from fashion_tuning import callbacks, final_training

    epochs, started_at, load = [], utc_now(), load_average()
    # Timed as KerasTuner times a trial: from the clean-up of the last session to the fit's end.
    wall, cpu = time.perf_counter(), time.process_time()
    _, history, _ = final_training.train_configuration(
        entry["hyperparameters"], entry["trial_seed"], config.trial_epochs, train,
        config.batch_size, config.precision, validation_data=val, verbose=0,
        callbacks=[*callbacks.trial_callbacks(config), epoch_clock(epochs)])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # Strict JSON: a diverged training's non-finite values are null; KerasTuner fails it.
    history = {k: [v if math.isfinite(v) else None for v in vs] for k, vs in history.items()}
    failed = None in history["loss"] or None in history["val_accuracy"]
    score = None if failed else max(history["val_accuracy"])
    return {"plan_index": entry["index"], **{k: v for k, v in entry.items() if k != "index"},
            "outcome": "failed" if failed else "completed", "score": score,
            "best_epoch": None if failed else history["val_accuracy"].index(score) + 1,
            "history": history, "epoch_seconds": [round(w, 2) for w, _ in epochs],
            "epoch_cpu_seconds": [round(c, 2) for _, c in epochs], "seconds": round(wall, 2),
            "cpu_seconds": round(cpu, 2), "loadavg_start": load, "loadavg_end": load_average(),
            "started_at": started_at, "finished_at": utc_now(),
            "trial": {k: getattr(config, k) for k in TRIAL_SETTINGS}}


def summarize(entries, records, top=5):
    """What `records` (the JSON lines) hold so far of the plan `entries`: counts, the best
    scores, each configuration's mean and sd over its seeds, and the time a training took."""
    planned, done = Counter(e["kind"] for e in entries), Counter(r["kind"] for r in records)
    failed = sum(r["score"] is None for r in records)
    lines = [f"{len(records)} of {len(entries)} trainings: " + ", ".join(
        f"{kind} {done[kind]} of {n}" for kind, n in planned.items())
        + (f"; {failed} failed (non-finite loss)" if failed else "")]
    scored = sorted((r for r in records if r["score"] is not None), key=lambda r: -r["score"])
    lines += ["Best scores (val_accuracy of the best epoch):"] + [
        f"  {r['score']:.4f}  {r['config']} (trial seed {r['trial_seed']}): "
        f"{format_hyperparameters(r['hyperparameters'])}" for r in scored[:top]]
    seeds = {}
    for r in scored:
        seeds.setdefault(r["config"], []).append(r)
    repeated = {c: rs for c, rs in seeds.items() if len(rs) > 1}
    if repeated:
        lines.append("Noise over trial seeds (mean ± sd):")
        for config, rs in sorted(repeated.items()):
            scores = [r["score"] for r in rs]
            lines.append(f"  {config}: {statistics.fmean(scores):.4f} ± "
                         f"{statistics.stdev(scores):.4f} over {len(scores)} seeds "
                         f"({format_hyperparameters(rs[0]['hyperparameters'])})")
        dof = sum(len(rs) - 1 for rs in repeated.values())
        pooled = sum(statistics.variance([r["score"] for r in rs]) * (len(rs) - 1)
                     for rs in repeated.values()) / dof
        lines.append(f"  pooled sd within a configuration: {math.sqrt(pooled):.4f} "
                     f"({dof} degrees of freedom)")
    if records:
        loads = [r["loadavg_start"] for r in records if r["loadavg_start"] is not None]
        lines.append(f"A training: median {statistics.median(r['seconds'] for r in records):.0f}"
                     f" s, {statistics.median(r['cpu_seconds'] for r in records):.0f} s of CPU"
                     + (f"; 1-minute load average at its start {min(loads):.1f} to "
                        f"{max(loads):.1f}" if loads else ""))
    return "\n".join(lines)


def run(args):
    """Train what --out lacks of the plan (unless --report-only), then print the summary."""
    out = Path(args.out)
    if not 0 <= args.noise_configs <= args.configs or args.hand_picked_repeats < 0 \
            or not 1 <= args.plan_seed <= MAX_SEED or (args.limit is not None and args.limit < 1):
        raise UserError("the flags need 0 <= --noise-configs <= --configs, "
                        f"--hand-picked-repeats >= 0, 1 <= --plan-seed <= {MAX_SEED} and "
                        "--limit >= 1")
    flags = {k: getattr(args, k) for k in PLAN_FLAGS}
    recorded = space_plan.recorded_plan(out)
    if args.report_only:  # Of the plan recorded, whatever the flags.
        if not recorded:
            raise UserError(f"no plan recorded for {out}; start a run with --out {out} first")
        print(summarize(recorded["entries"], read_lines(out)))
        return 0
    if recorded:
        space_plan.check_same(recorded, {"flags": flags}, out)
    with locked_lines(out) as (handle, records):
        if records and not recorded:
            raise UserError(f"{out} holds trainings but {space_plan.plan_path(out)} is "
                            "missing; restore it from git or pass another --out")
        config = Config()
        dataset = data.load_fashion_mnist(args.data_dir)
        plan = {"flags": flags, "trial": {k: getattr(config, k) for k in TRIAL_SETTINGS},
                "data": dataset.fingerprint()}
        if recorded:  # Before TensorFlow: a user's mistake is answered at once.
            space_plan.check_same(recorded, plan, out)
        configs, space = space_plan.draw_configurations(args.configs, args.plan_seed)
        plan.update(space=space, entries=space_plan.make_plan(
            configs, args.noise_configs, args.hand_picked_repeats, args.plan_seed, space))
        if recorded:
            space_plan.check_same(recorded, {k: plan[k] for k in ("space", "entries")}, out)
        else:
            space_plan.record_plan(out, {**plan, "created_at": utc_now()})
        _, train, val = data.split(dataset, config)
        train_plan(plan["entries"], records, handle, args.limit, (train, val), config)
    print(summarize(plan["entries"], records))
    return 0


def train_plan(entries, records, handle, limit, split, config):
    """Train the first `limit` (all if None) of `entries` that `records` lack, on `split`
    (train, validation), each appended to `records` and, as a JSON line, to `handle`."""
    from fashion_tuning import environment

    done = {r["plan_index"] for r in records}
    todo = [e for e in entries if e["index"] not in done][:limit]
    print(f"{len(done)} of {len(entries)} trainings recorded in {handle.name}; training "
          f"{len(todo)} now", flush=True)
    where = {"machine": environment.machine(), "versions": environment.versions(),
             "code_version": environment.code_version()}
    for entry in todo:
        record = {**train_entry(entry, *split, config), **where}
        keep_line(handle, record)
        records.append(record)
        print(f"[{len(records)}/{len(entries)}] {entry['config']} at trial seed "
              f"{entry['trial_seed']}: val_accuracy {number(record['score'])} in "
              f"{record['seconds']:.0f} s ({record['cpu_seconds']:.0f} s CPU; load "
              f"{record['loadavg_start']} to {record['loadavg_end']})", flush=True)


def main(argv=None):
    parser = study_parser(__doc__, OUT)
    parser.add_argument("--configs", type=int, default=200,
                        help="configurations drawn uniformly from the space")
    parser.add_argument("--noise-configs", type=int, default=20,
                        help=f"of those, how many train at {space_plan.NOISE_SEEDS} trial seeds")
    parser.add_argument("--hand-picked-repeats", type=int, default=4,
                        help="more trial seeds of the hand-picked configuration")
    parser.add_argument("--plan-seed", type=int, default=1,
                        help="KerasTuner's oracle seed for the draws, and the trial seeds' hash")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="stop after N new trainings (default: the whole plan)")
    parser.add_argument("--report-only", action="store_true",
                        help="only summarize --out, by the plan recorded for it")
    args = parser.parse_args(argv)
    return run_resumable(lambda: run(args), args.out)


if __name__ == "__main__":
    sys.exit(main())
