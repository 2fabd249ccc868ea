"""What makes a dict read from summary.json other than a whole summary of this format
(docs/summary.md), part by part: the kinds of fields, the settings, and what the reports read
inside the nested fields. `results.summary_problem` asks each."""

import dataclasses
import json
import typing

from fashion_tuning.config import Config
from fashion_tuning.data import CLASS_NAMES

# The JSON words for the kinds of fields.
JSON_KINDS = {dict: "an object", list: "a list", str: "a string", int: "an integer",
              float: "a number", bool: "true or false", type(None): "null"}

# Every setting a summary records, `Config.settings()`'s names, and its kind: its field's, or a
# rule constant's value's.
SETTING_KINDS = {**{f.name: typing.get_type_hints(Config)[f.name]
                    for f in dataclasses.fields(Config)},
                 **{name: type(value) for name, value in Config().rule_constants().items()}}
# The settings that summaries archived from runs before they existed record as null; any other
# is null only where its default is None.
UNRECORDED = ("results_dir", "overwrite", "quick", "precision", "pruning", "trial_epochs",
              "initial_points", "pruning_min_completed", "judged_from_epoch")
NULLABLE = {*UNRECORDED, *(f.name for f in dataclasses.fields(Config) if f.default is None)}
# What `compare` reads of `machine` (`cpu_flags`, a list, where there is one).
MACHINE_KEYS = ("cpu", "cores")


def is_of(value, kinds):
    """Whether `value` is of one of `kinds` (Python types of JSON values): an integer is a
    number too, but true and false are neither."""
    if isinstance(value, bool):
        return bool in kinds
    return isinstance(value, kinds + ((int,) if float in kinds else ()))


def not_of(where, value, kinds):
    """'`where` is `value`, not `kinds`', in JSON's words."""
    return (f"{where} is {json.dumps(value)[:40]}, not "
            f"{' or '.join(JSON_KINDS[k] for k in kinds)}")


def fields_problem(record, cls, where=""):
    """What makes the dict `record` (at `where`: "trials[3]", or "" for the summary itself)
    other than a whole `cls` (a dataclass), or "": each field there and of its annotated kind
    (`X` or `X | None`, `is_of`)."""
    if not isinstance(record, dict):
        return f"{where} is not an object"
    for name, hint in typing.get_type_hints(cls).items():
        kinds = typing.get_args(hint) or (hint,)
        if name not in record:
            return f"{where} lacks {name}".strip()
        if not is_of(record[name], kinds):
            return not_of(f"{where + '.' if where else ''}{name}", record[name], kinds)
    return ""


def settings_problem(settings):
    """What makes `settings` (a dict) other than a summary's settings, or "": every one of
    `SETTING_KINDS` there, of its kind or, where `NULLABLE`, null. The final recipe, recorded as
    its fields, `results.summary_problem` checks whole."""
    missing = [name for name in SETTING_KINDS if name not in settings]
    if missing:
        return f"settings lack {', '.join(missing)}"
    for name, kind in SETTING_KINDS.items():
        kinds = (kind, type(None)) if name in NULLABLE else (kind,)
        if name != "final_recipe" and not is_of(settings[name], kinds):
            return not_of(f"settings.{name}", settings[name], kinds)
    return ""


def contents_problem(summary):
    """What makes the nested fields of `summary` (whole, `fields_problem`) other than what the
    reports read, or "": a score or null for each class of `CLASS_NAMES` and no other, a
    confusion matrix of integers, class by class, `MACHINE_KEYS`, and at least one trial, of
    numbered ids that include the trained trial's and the top trial's."""
    scores, n = summary["per_class_accuracy"], len(CLASS_NAMES)
    missing = [c for c in CLASS_NAMES if c not in scores]
    if missing or len(scores) != n:
        return (f"per_class_accuracy lacks {', '.join(missing)}" if missing else
                f"per_class_accuracy has {', '.join(c for c in scores if c not in CLASS_NAMES)}"
                ", not classes")
    for c in CLASS_NAMES:
        if not is_of(scores[c], (float, type(None))):
            return not_of(f"per_class_accuracy.{c}", scores[c], (float, type(None)))
    matrix = summary["confusion_matrix"]
    if len(matrix) != n or not all(isinstance(row, list) and len(row) == n
                                   and all(is_of(v, (int,)) for v in row) for row in matrix):
        return f"confusion_matrix is not {n} rows of {n} integers"
    missing = [k for k in MACHINE_KEYS if k not in summary["machine"]]
    if missing:
        return f"machine lacks {', '.join(missing)}"
    if not is_of(summary["machine"].get("cpu_flags", []), (list,)):
        return not_of("machine.cpu_flags", summary["machine"]["cpu_flags"], (list,))
    ids = [t["trial_id"] for t in summary["trials"]]
    if not ids:
        return "no trials"
    if not all(i.isdecimal() for i in ids):  # The reports order trials by number.
        return f"trial_id {json.dumps(next(i for i in ids if not i.isdecimal()))} is not a number"
    for name in ("trained_trial_id", "top_trial_id"):
        if summary[name] not in ids:
            return f"{name} {json.dumps(summary[name])} is not a trial's"
    return ""
