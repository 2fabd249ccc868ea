"""Compare the two strategies' results: comparison.md, comparison.png, learning_curves.png and
confusion_<strategy>.png.

    python -m fashion_tuning.compare                   # reads results/<strategy>/summary.json
    python -m fashion_tuning.compare --results-dir DIR
"""

import json
import os
import sys
from pathlib import Path

from fashion_tuning import atomic
from fashion_tuning.flags import tool_parser
from fashion_tuning.config import QUICK, STRATEGIES, Config
from fashion_tuning.data import CLASS_NAMES
from fashion_tuning.errors import UserError
from fashion_tuning.report import (final_training, format_duration, format_hyperparameters,
                                   markdown_table, number, run_tool, save_figure,
                                   trained_and_top, trial_counts)
from fashion_tuning.results import SUMMARY_FILE, check_model, read_summary

LABELS = {"random_search": "Random Search", "bayesian_optimization": "Bayesian Optimisation"}


def load_summaries(results_dir):
    """`{strategy: summary}` for every strategy folder holding a summary.json.

    Raises:
        UserError: a summary is damaged, or is not of the model file beside it.
    """
    summaries = {}
    for strategy in STRATEGIES:
        folder = Path(results_dir) / strategy
        summary = read_summary(folder)
        if summary is not None:
            check_model(folder, summary)
            summaries[strategy] = summary
    return summaries


def best_so_far(trials):
    """Per trial in id order: (trial number, own score or None, best so far, elapsed seconds,
    whether it was pruned). A pruned trial's score is its best before it was stopped."""
    rows, best, elapsed = [], None, 0.0
    for n, t in enumerate(sorted(trials, key=lambda t: int(t["trial_id"])), start=1):
        elapsed += t["seconds"] or 0
        score = t["val_accuracy"] if t["status"] in ("completed", "pruned") else None
        if score is not None and (best is None or score > best):
            best = score
        rows.append((n, score, best, elapsed, t["status"] == "pruned"))
    return rows


def comparison_markdown(summaries):
    """The side-by-side results table and the per-class test accuracy table, as Markdown."""
    names = list(summaries)
    s = [summaries[n] for n in names]

    def row(label, fn):
        return [label, *(fn(x) for x in s)]

    main = markdown_table(["", *(LABELS[n] for n in names)], [
        row("Trained trial", lambda x: trained_and_top(x)[0]),
        row("Top trial", lambda x: trained_and_top(x)[1]),
        row("Test accuracy", lambda x: f"**{x['test_accuracy']:.4f}**"),
        row("Test loss", lambda x: number(x["test_loss"])),
        row("Trained hyperparameters",
            lambda x: format_hyperparameters(x["trained_hyperparameters"])),
        row("Final training", final_training),
        row("Trials run", lambda x: trial_counts(x["trials"])),
        row("Search time", lambda x: format_duration(x["search_seconds"])),
        row("Final training time", lambda x: format_duration(x["final_seconds"])),
        row("Total time", lambda x: format_duration(x["total_seconds"])),
        row("Machine", lambda x: machine_name(x["machine"])),
    ])
    per_class = markdown_table(["Class", *(LABELS[n] for n in names)], [
        [c, *(number(x["per_class_accuracy"][c], 3) for x in s)] for c in CLASS_NAMES])
    return f"## Results summary\n\n{main}\n\n## Per-class test accuracy\n\n{per_class}\n"


def machine_name(machine):
    """A summary's CPU in a few words: "AMD EPYC, 2 cores, avx2, avx512_bf16"; the flags tell
    apart CPUs of one name."""
    return (f"{machine['cpu']}, {machine['cores']} cores"
            + "".join(f", {f}" for f in machine.get("cpu_flags", [])))


def plot_comparison(summaries, path):
    """Best-so-far validation accuracy against trial number and against elapsed time."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for (strategy, summary), color in zip(summaries.items(), ("tab:blue", "tab:orange")):
        rows = best_so_far(summary["trials"])
        for ax, x_of in ((axes[0], lambda r: r[0]), (axes[1], lambda r: r[3] / 60)):
            done = [r for r in rows if r[2] is not None]
            ax.step([x_of(r) for r in done], [r[2] for r in done], where="post", color=color,
                    label=f"{LABELS[strategy]} (best so far)")
            for pruned, marker, kind in ((False, "o", "each trial"), (True, "x", "pruned")):
                points = [r for r in rows if r[1] is not None and r[4] == pruned]
                if points:
                    ax.scatter([x_of(r) for r in points], [r[1] for r in points], color=color,
                               alpha=0.6, s=22, marker=marker, label=f"{LABELS[strategy]} ({kind})")
    axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_xlabel("trial number (trial_00 is 1)")
    axes[1].set_xlabel("elapsed search time (min)")
    axes[0].set_ylabel("validation accuracy")
    axes[0].legend(fontsize=8, loc="lower left")  # Low scores are the late, pruned ones.
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("KerasTuner on Fashion-MNIST: best validation accuracy so far")
    fig.tight_layout()
    save_figure(fig, path)


def learning_curves(summary):
    """Per trial with a recorded history, in id order: (trial id, epochs (1-based), per-epoch
    val_accuracy, how it ended: "trained" (the trial the final training trained),
    "completed", "pruned" or "failed")."""
    curves = []
    for t in sorted(summary["trials"], key=lambda t: int(t["trial_id"])):
        scores = (t.get("history") or {}).get("val_accuracy")
        if scores:
            kind = "trained" if t["trial_id"] == summary["trained_trial_id"] else t["status"]
            curves.append((t["trial_id"], list(range(1, len(scores) + 1)), scores, kind))
    return curves


# How `plot_learning_curves` draws each kind of trial.
CURVE_STYLES = {"trained": {"color": "black", "linewidth": 2.2}, "completed": {"alpha": 0.75},
                "pruned": {"linestyle": "--", "alpha": 0.75}, "failed": {"linestyle": ":"}}


def plot_learning_curves(summaries, path):
    """Each trial's validation accuracy per epoch, one panel per strategy: the trained trial
    bold, pruned trials dashed with an x where they were stopped."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, len(summaries), figsize=(5.6 * len(summaries), 4.2),
                             sharey=True, squeeze=False)
    for ax, (strategy, summary) in zip(axes[0], summaries.items()):
        for trial_id, epochs, scores, kind in learning_curves(summary):
            line, = ax.plot(epochs, scores, label=f"trial {trial_id} ({kind})",
                            **CURVE_STYLES.get(kind, {}))
            if kind == "pruned":
                ax.plot(epochs[-1], scores[-1], "x", color=line.get_color(), markersize=8)
        ax.set_title(LABELS[strategy])
        ax.set_xlabel("epoch of the trial")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7, loc="lower right", ncol=2)
    axes[0][0].set_ylabel("validation accuracy")
    fig.suptitle("Every trial's validation accuracy (pruned: dashed, x where it was stopped)")
    fig.tight_layout()
    save_figure(fig, path)


def plot_confusion(summary, path):
    """The test-set confusion matrix of one strategy's final model."""
    import matplotlib.pyplot as plt
    import numpy as np

    matrix = np.array(summary["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(CLASS_NAMES)), CLASS_NAMES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASS_NAMES)), CLASS_NAMES)
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, v, ha="center", va="center", fontsize=7,
                color="white" if v > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{LABELS[summary['strategy']]}: test accuracy {summary['test_accuracy']:.4f}")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    save_figure(fig, path)


def folders_with_results(parent, but=None):
    """The folders `results*` in `parent` (but `but`) with a strategy folder holding a
    summary, the quick runs' first: where a user who compared the wrong folder finds runs."""
    found = [p for p in sorted(Path(parent).glob("results*")) if p.is_dir() and p != Path(but)
             and any((p / s / SUMMARY_FILE).is_file() for s in STRATEGIES)]
    return sorted(found, key=lambda p: p.name != QUICK["results_dir"])


def write_comparison(results_dir, summaries=None):
    """Write the comparison files of `summaries` (`{strategy: summary}`; when not given, those
    `load_summaries` reads in `results_dir`) into `results_dir`; return (summaries, written
    paths).

    Raises:
        UserError: no strategy folder holds a summary, one is damaged, or the strategies ran
            on different data (their `data` fingerprints differ).
    """
    results_dir = Path(results_dir)
    summaries = load_summaries(results_dir) if summaries is None else summaries
    if len({json.dumps(s["data"], sort_keys=True) for s in summaries.values()}) > 1:
        raise UserError(f"{results_dir}: the strategies ran on different data: " + ", ".join(
            f"{LABELS[n]} on {json.dumps(s['data'])}" for n, s in summaries.items())
            + "; run one again on the other's data (--data-dir, --overwrite)")
    if not summaries:
        others = folders_with_results(results_dir.parent, but=results_dir)
        raise UserError(f"no {SUMMARY_FILE} under {results_dir}/{{{','.join(STRATEGIES)}}}; " + (
            ("the --quick runs are in " if others[0].name == QUICK["results_dir"] else
             "there are results in ") + f"{others[0]}: python -m fashion_tuning.compare "
            f"--results-dir {others[0]}" if others else
            "run random_search_tuning.py and bayesian_tuning.py first"))
    paths = [results_dir / "comparison.md", results_dir / "comparison.png",
             results_dir / "learning_curves.png"]
    atomic.write_text(paths[0], comparison_markdown(summaries))
    plot_comparison(summaries, paths[1])
    plot_learning_curves(summaries, paths[2])
    for strategy, summary in summaries.items():
        paths.append(results_dir / f"confusion_{strategy}.png")
        plot_confusion(summary, paths[-1])
    return summaries, paths


def report_comparison(results_dir):
    """Write the comparison files into `results_dir` and print the tables; return 0."""
    summaries, paths = write_comparison(results_dir)
    for missing in set(STRATEGIES) - set(summaries):
        print(f"note: no results for {missing} yet; comparing what there is")
    print(comparison_markdown(summaries))
    print("Wrote " + ", ".join(str(p) for p in paths))
    return 0


def main(argv=None):
    parser = tool_parser(__doc__)
    parser.add_argument("--results-dir", default=Config.results_dir,
                        help="folder holding the strategy folders")
    args = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")  # Files only: no display needed.
    return run_tool(lambda: report_comparison(args.results_dir), args.results_dir)


if __name__ == "__main__":
    sys.exit(main())
