"""The accuracy-time frontier: each setting's test accuracy over seeds against its minutes.

Run from the repository root, as a module, after the runs (docs/results/frontier/README.md):

    python -m benchmarks.frontier --out docs/results/frontier/frontier \
        "untuned default=docs/results/frontier/untuned/seed_*/random_search" \
        "random search, defaults=docs/results/study/seed_*/random_search"

Each point is NAME=PATTERN: a glob of the run folders (or their summary.json) of one setting,
one run per seed. Per point the report gives the runs, the seeds, the test accuracy's mean, sd
and range, the run time's median and range in minutes (`total_seconds`: the search and the
final training), the CPUs and the commits the runs were made with. It writes OUT.md, OUT.json
and OUT.png (accuracy ± sd against median minutes).
"""

import statistics
import sys
from glob import glob
from pathlib import Path

from benchmarks.common import read_summary_at, write_report
from fashion_tuning.errors import UserError
from fashion_tuning.flags import tool_parser
from fashion_tuning.report import markdown_table, run_tool, save_figure
from fashion_tuning.results import setting


def point(name, pattern):
    """The frontier point of the runs that `pattern` matches, under `name`."""
    summaries = [read_summary_at(path) for path in sorted(glob(pattern))]
    if not summaries:
        raise UserError(f"no run matches {pattern!r} (point {name!r}); give a glob of run "
                        "folders or summary.json files")
    seeds = [setting(s, "seed") for s in summaries]
    if len(set(seeds)) != len(seeds):
        raise UserError(f"point {name!r} has two runs of one seed ({pattern!r}); give one run "
                        "per seed")
    accuracy = [s["test_accuracy"] for s in summaries]
    minutes = [s["total_seconds"] / 60 for s in summaries]
    return {"name": name, "pattern": pattern, "seeds": seeds, "test_accuracy": accuracy,
            "mean": statistics.fmean(accuracy),
            "sd": statistics.stdev(accuracy) if len(accuracy) > 1 else None,
            "minutes": minutes, "median_minutes": statistics.median(minutes),
            "cpus": sorted({s["machine"]["cpu"] for s in summaries}),
            "commits": sorted({((s["code_version"] or {}).get("git_commit") or "?")[:7]
                               for s in summaries})}


def markdown(points):
    rows = [[p["name"], str(len(p["seeds"])),
             f"{p['mean']:.4f}" + ("" if p["sd"] is None else f" ± {p['sd']:.4f}"),
             f"{min(p['test_accuracy']):.4f}–{max(p['test_accuracy']):.4f}",
             f"{p['median_minutes']:.1f}",
             f"{min(p['minutes']):.1f}–{max(p['minutes']):.1f}",
             ", ".join(p["cpus"]), ", ".join(p["commits"])] for p in points]
    return ("Test accuracy (mean ± sd over the seeds) against minutes (search and final "
            "training) per run.\n\n" + markdown_table(
                ["setting", "seeds", "test accuracy", "range", "median minutes",
                 "minutes range", "CPU", "commit"], rows) + "\n")


def plot(points, path):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    for p in points:
        ax.errorbar(p["median_minutes"], p["mean"], yerr=p["sd"] or 0,
                    xerr=[[p["median_minutes"] - min(p["minutes"])],
                          [max(p["minutes"]) - p["median_minutes"]]],
                    fmt="o", capsize=3, label=f"{p['name']} ({len(p['seeds'])} seeds)")
    ax.set_xlabel("minutes per run (median, range)")
    ax.set_ylabel("test accuracy (mean ± sd over seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    save_figure(fig, path)


def run(args):
    pairs = [spec.partition("=") for spec in args.points]
    bad = [spec for spec, (_, eq, pattern) in zip(args.points, pairs) if not eq or not pattern]
    if bad:
        raise UserError(f"point {bad[0]!r} is not NAME=PATTERN")
    points = [point(name, pattern) for name, _, pattern in pairs]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_report(args.out, {"points": points}, markdown(points))
    plot(points, Path(args.out).with_suffix(".png"))
    return 0


def main(argv=None):
    parser = tool_parser(__doc__)
    parser.add_argument("points", nargs="+", metavar="NAME=PATTERN",
                        help="a setting's name and a glob of its run folders")
    parser.add_argument("--out", default="frontier",
                        help="OUT.md, OUT.json and OUT.png are written")
    args = parser.parse_args(argv)
    return run_tool(lambda: run(args), Path(args.out).parent, "--out")


if __name__ == "__main__":
    sys.exit(main())
