"""Recipe study: what each addition to the final training buys a run's trained configuration.

Run from the repository root, as a module (hours on 2 CPU cores; it resumes where it stopped):

    python -m benchmarks.recipe_study \
        docs/results/archive/default-12-epoch-trials/bayesian_optimization/summary.json \
        --epochs 15 --seeds 1,2 --out docs/results/recipe-study/runs.jsonl
    python -m benchmarks.recipe_study \
        docs/results/archive/default-12-epoch-trials/bayesian_optimization/summary.json \
        --epochs 15 --out docs/results/recipe-study/runs.jsonl --report-only

The configuration that the summary's final training trained is trained on that run's split
(its training images; the validation images are only scored, the test images never touched)
over a complete EPOCHS-epoch schedule, once per recipe and seed, seed by seed. Every trained
model is scored as it is and with flip test-time augmentation (the mean of the softmax of an
image and of its mirror), so that costs no training of its own. Each training appends one JSON
line to --out.
The report gives, per recipe and length, the mean and spread of the validation accuracy over
the seeds and the paired difference from the plain recipe, with and without the flip average.
"""

import statistics
import sys
from pathlib import Path

import numpy as np

from benchmarks.candidates import Candidate
from benchmarks.common import (append_line, in_space, read_lines, read_summary_at, split_of,
                               study_parser, train, write_report)
from fashion_tuning.report import run_tool
from fashion_tuning.results import setting

# The candidates, by name: each the parts of a `Candidate`. "base" adds nothing; "wide" is the
# trunk the space probe liked best (two convs at 28x28 as well).
RECIPES = {"base": "none", "flip": "flip", "shift": "shift", "flip_shift": "flip,shift",
           "smooth": "smooth", "ema": "ema", "wide": "wide", "wide_flip": "wide,flip",
           "deep_flip": "deep,flip", "flip_lr2": "flip", "flip_lr05": "flip",
           "alt_flip": "alt-flip", "flip_whiten": "flip,whiten"}
# Candidates that train the configuration at a multiple of its learning rate.
LEARNING_RATE_SCALE = {"flip_lr2": 2.0, "flip_lr05": 0.5}
# The views that multi-view scoring averages, each with and without mirroring: the image as
# it is and moved by one pixel down, up, right, left (rows, columns).
SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
# What each training is scored by: as it is, with flip averaging, over the 10 views.
METRICS = ("val_accuracy", "val_accuracy_flip_tta", "val_accuracy_views")


def key(run):
    return run["recipe"], run["epochs"], run["seed"]


def score(model, val_data, batch_size, flip_tta):
    """Validation accuracy of the model as the product would evaluate and save it."""
    from fashion_tuning.export import predictor

    return float(predictor(model, flip_tta).evaluate(*val_data, batch_size=batch_size,
                                                     verbose=0)[1])


def shifted(images, rows, columns):
    """`images` (N, 28, 28) moved by `rows` down and `columns` right (at most 1 pixel), the
    border filled with black."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    height, width = images.shape[1:]
    return padded[:, 1 - rows:1 - rows + height, 1 - columns:1 - columns + width]


def multi_view_score(model, val_data, batch_size):
    """Validation accuracy of the mean softmax over each image's `SHIFTS` views and their
    mirrors (10 views)."""
    from fashion_tuning.export import predictor

    images, labels = val_data
    plain = predictor(model)
    total = sum(plain.predict(shifted(view, *shift), batch_size=batch_size, verbose=0)
                for view in (images, images[:, :, ::-1]) for shift in SHIFTS)
    return float(np.mean(total.argmax(axis=1) == labels))


def report(runs, reference="base"):
    """Per (recipe, epochs): accuracy over the seeds, plain, flip-averaged and over 10 views,
    and the paired difference of each from the `reference` recipe's plain accuracy at the same
    length; seconds relative to the reference's."""
    by_key = {key(r): r for r in runs}
    rows = []
    for recipe, epochs in sorted({(r["recipe"], r["epochs"]) for r in runs},
                                 key=lambda re: (re[1], list(RECIPES).index(re[0]))):
        seeds = sorted(s for r, e, s in by_key if (r, e) == (recipe, epochs))
        row = {"recipe": recipe, "epochs": epochs, "seeds": seeds,
               "arguments": Candidate.parse(RECIPES[recipe]).changes(),
               "learning_rate_scale": LEARNING_RATE_SCALE.get(recipe, 1.0)}
        # Multi-view scores exist for the runs made since the study scored them.
        for metric in [m for m in METRICS if all(m in by_key[recipe, epochs, s] for s in seeds)]:
            values = [by_key[recipe, epochs, s][metric] for s in seeds]
            # Against the reference's plain score: what the whole recipe buys.
            gains = [v - by_key[reference, epochs, s]["val_accuracy"]
                     for s, v in zip(seeds, values) if (reference, epochs, s) in by_key]
            row[metric] = {"per_seed": values, "mean": statistics.fmean(values),
                           "sd": statistics.stdev(values) if len(values) > 1 else None,
                           "minus_reference": statistics.fmean(gains) if gains else None}
        reference_seconds = [by_key[reference, epochs, s]["seconds"] for s in seeds
                             if (reference, epochs, s) in by_key]
        own = statistics.median(by_key[recipe, epochs, s]["seconds"] for s in seeds)
        row["seconds"] = own
        row["time_over_reference"] = (own / statistics.median(reference_seconds)
                                      if reference_seconds else None)
        rows.append(row)
    return rows


def report_markdown(rows, reference="base"):
    def cell(stats):
        if stats is None:
            return ""
        sd = f" ± {stats['sd']:.4f}" if stats["sd"] is not None else ""
        diff = "" if stats["minus_reference"] is None else f" ({stats['minus_reference']:+.4f})"
        return f"{stats['mean']:.4f}{sd}{diff}"

    lines = ["Validation accuracy, mean ± sd over the seeds (paired difference from the plain "
             f"score of {reference} at the same length).", "",
             "| recipe | epochs | seeds | val accuracy | with flip averaging | over 10 views "
             f"| time / {reference} |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        ratio = r["time_over_reference"]
        lines.append(f"| {r['recipe']} | {r['epochs']} | {len(r['seeds'])} "
                     + "".join(f"| {cell(r.get(m))} " for m in METRICS)
                     + f"| {'' if ratio is None else format(ratio, '.2f')} |")
    return "\n".join(lines) + "\n"


def run_study(args, recipes):
    """Train what `args.out` lacks of `recipes` (unless --report-only), then write the
    report; return 0."""
    runs = read_lines(args.out)
    if not args.report_only:
        from fashion_tuning import environment

        summary = read_summary_at(args.summary)
        in_space(summary["trained_hyperparameters"])  # Before the data: it fails in a second.
        batch_size = setting(summary, "batch_size")
        train_data, val_data = split_of(summary, args.data_dir)
        done = {key(r) for r in runs}
        todo = [(name, int(seed)) for seed in args.seeds.split(",") for name in recipes
                if (name, args.epochs, int(seed)) not in done]
        print(f"{len(todo)} trainings to go", flush=True)
        for name, seed in todo:
            hyperparameters = dict(summary["trained_hyperparameters"])
            hyperparameters["learning_rate"] *= LEARNING_RATE_SCALE.get(name, 1.0)
            model, trained = train(hyperparameters, seed, args.epochs,
                                   train_data, val_data, batch_size, args.precision,
                                   Candidate.parse(RECIPES[name]))
            run = {"recipe": name, "epochs": args.epochs, "seed": seed,
                   "arguments": Candidate.parse(RECIPES[name]).changes(),
                   "source": args.summary, "hyperparameters": hyperparameters,
                   "precision": args.precision,
                   "val_accuracy": score(model, val_data, batch_size, False),
                   "val_accuracy_flip_tta": score(model, val_data, batch_size, True),
                   "val_accuracy_views": multi_view_score(model, val_data,
                                                          batch_size),
                   **trained, "machine": environment.machine(),
                   "versions": environment.versions()}
            append_line(args.out, run)
            runs.append(run)
            print(f"{name}, {args.epochs} epochs, seed {seed}: val_accuracy "
                  f"{run['val_accuracy']:.4f}, with flip averaging "
                  f"{run['val_accuracy_flip_tta']:.4f}, over 10 views "
                  f"{run['val_accuracy_views']:.4f}, in {run['seconds']:.0f} s", flush=True)
    rows = report(runs, args.reference)
    write_report(args.out, rows, report_markdown(rows, args.reference))
    return 0


def main(argv=None):
    parser = study_parser(__doc__, "recipe-study.jsonl")
    parser.add_argument("summary",
                        help="summary.json of the run whose trained configuration to train")
    parser.add_argument("--epochs", type=int, default=15, help="length of each training")
    parser.add_argument("--seeds", default="1,2", help="weight seeds, one training each")
    parser.add_argument("--recipes", default=",".join(RECIPES),
                        help=f"which of {', '.join(RECIPES)}")
    parser.add_argument("--precision", default="float32", help="the layers' dtype policy")
    parser.add_argument("--reference", default="base", choices=RECIPES,
                        help="the recipe the report measures the others against")
    parser.add_argument("--report-only", action="store_true", help="only report what --out has")
    args = parser.parse_args(argv)
    recipes = args.recipes.split(",")
    unknown = set(recipes) - set(RECIPES)
    if unknown:
        parser.error(f"unknown recipe(s): {', '.join(sorted(unknown))}")
    return run_tool(lambda: run_study(args, recipes), Path(args.out).parent, "--out")


if __name__ == "__main__":
    sys.exit(main())
