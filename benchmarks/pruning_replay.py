"""Replay the median stopping rule over recorded runs, for each first judged epoch and minimum
of completed trials.

    python -m benchmarks.pruning_replay \
        docs/results/archive/old-space/float32-unpruned/*/summary.json
    python -m benchmarks.pruning_replay \
        docs/results/archive/default-12-epoch-trials/*/summary.json \
        --rank-study docs/results/rank-study/runs.jsonl --horizon 4

Reads the per-epoch validation accuracy that every trial recorded (runs made with
--no-pruning, or from before pruning existed), applies `pruning.median_to_beat` trial by trial
in id order as a search would have, and prints for each setting the share of epochs and of
search time it keeps and which runs' top trial it would have pruned. This is how config.py's
PRUNING_MIN_COMPLETED and the first judged epoch were weighed. A random search draws the same trials
with or without pruning, so the replay of its unpruned run is what the pruned run does (the
benchmark's seed 1 at 3 and 3: 66 epochs replayed, 66 run). With --rank-study, each trial
is replayed as the rank study trained its configuration over a HORIZON-epoch schedule, and a
run's top trial is the top one at that horizon.
"""

import json
import sys

from benchmarks.common import read_lines, read_summary_at
from fashion_tuning.flags import tool_parser
from fashion_tuning.pruning import median_to_beat
from fashion_tuning.report import run_tool


def replay(trials, judged_from_epoch, min_completed):
    """(epochs run with pruning, epochs run without, seconds run with pruning, seconds run
    without, ids of the trials it prunes). A trial's seconds are spread evenly over its epochs."""
    completed, kept, kept_s, pruned = [], 0, 0.0, []
    for t in sorted(trials, key=lambda t: int(t["trial_id"])):
        scores = t["history"]["val_accuracy"]
        # Never at a trial's last epoch, where stopping saves nothing (MedianStopping's rule).
        stop = next((e for e in range(1, len(scores))
                     if median_to_beat(scores[:e], completed, judged_from_epoch, min_completed)),
                    None)
        if stop:
            pruned.append(t["trial_id"])
        else:
            completed.append(scores)
        ran = stop or len(scores)
        kept += ran
        kept_s += t["seconds"] * ran / len(scores)
    return (kept, sum(len(t["history"]["val_accuracy"]) for t in trials), kept_s,
            sum(t["seconds"] for t in trials), pruned)


def at_horizon(summary, runs, horizon):
    """`summary` with every trial's history and seconds those of the rank study's training of
    its configuration at `horizon` epochs (`runs`: the rank study's JSON lines)."""
    trained = {json.dumps(r["hyperparameters"], sort_keys=True): r for r in runs
               if r["horizon"] == horizon}
    trials = []
    for t in summary["trials"]:
        run = trained.get(json.dumps(t["hyperparameters"], sort_keys=True))
        if run:
            trials.append({**t, "history": run["history"], "seconds": run["seconds"]})
    top = max(trials, key=lambda t: max(t["history"]["val_accuracy"]))
    return {**summary, "trials": trials, "top_trial_id": top["trial_id"]}


def replay_all(args):
    """Print the replay of every setting `args` asks for over its runs; return 0."""
    runs = {path: read_summary_at(path) for path in args.summaries}
    if args.rank_study:
        trained = read_lines(args.rank_study)
        runs = {path: at_horizon(summary, trained, args.horizon) for path, summary in runs.items()}
    print("judged from  min  epochs kept      time kept  top trial pruned in")
    for judged_from_epoch in map(int, args.judged_from_epochs.split(",")):
        for min_completed in map(int, args.min_completed.split(",")):
            kept = total = kept_s = total_s = 0
            lost = []
            for path, summary in runs.items():
                trials = [t for t in summary["trials"] if t["history"].get("val_accuracy")]
                k, n, k_s, n_s, pruned = replay(trials, judged_from_epoch, min_completed)
                kept, total, kept_s, total_s = kept + k, total + n, kept_s + k_s, total_s + n_s
                if summary["top_trial_id"] in pruned:
                    lost.append(path)
            print(f"{judged_from_epoch:11d}  {min_completed:3d}  {kept:4d}/{total} "
                  f"{kept / total:5.0%}  {kept_s / total_s:9.0%}  {', '.join(lost) or '-'}")
    return 0


def main(argv=None):
    parser = tool_parser(__doc__)
    parser.add_argument("summaries", nargs="+", help="summary.json files of unpruned runs")
    parser.add_argument("--judged-from-epochs", default="1,2,3,4,5",
                        help="first judged epochs to try")
    parser.add_argument("--min-completed", default="2,3,4,5,6", help="minimum trials to try")
    parser.add_argument("--rank-study", help="the rank study's JSON lines (benchmarks.rank_study)")
    parser.add_argument("--horizon", type=int, help="with --rank-study: the schedule length")
    args = parser.parse_args(argv)
    return run_tool(lambda: replay_all(args))


if __name__ == "__main__":
    sys.exit(main())
