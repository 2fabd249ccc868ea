"""The flags: each script's parser, generated from `Config`, and the helper tools' parser."""

import argparse
import textwrap

from fashion_tuning.config import Config, fields_for, flag_name, quick_preset
from fashion_tuning.data import SOURCE_ORDER
from fashion_tuning.errors import UserError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # One line, not argparse's usage block: the problem and where to look.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class _DefaultsFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's layout and adds "(default: X)" where a default means something."""

    def _get_help_string(self, action):
        if action.default in (None, False, argparse.SUPPRESS) or "default" in action.help:
            return action.help
        return action.help + " (default: %(default)s)"


def tool_parser(description):
    """The argument parser of a helper tool (compare, study, benchmark), help from `description`."""
    return argparse.ArgumentParser(description=description, formatter_class=_DefaultsFormatter)


def _typed(kind):
    """An argparse `type` whose error names the expected kind (or says what `kind`, a parser
    that raises UserError, found wrong)."""
    def convert(text):
        try:
            return kind(text)
        except UserError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a{'n' if kind is int else ''} "
                                             f"{kind.__name__}") from None
    return convert


def make_parser(strategy, description):
    """The argument parser of `strategy`'s script; defaults and help come from `Config`."""
    parser = _Parser(
        description=description,
        epilog=textwrap.fill(f"Data is loaded from: {SOURCE_ORDER}. Re-running into an "
                             "existing results folder resumes the search."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    # default=None everywhere, so that --quick can tell "not given" from "given".
    for f in fields_for(strategy):
        flag = flag_name(f.name)
        if f.type is bool:
            preset = quick_preset(strategy) if f.name == "quick" else {}
            extra = "".join(f" {flag_name(k)} {v}" for k, v in preset.items())
            # A switch that is on by default also gets its --no- form.
            action = argparse.BooleanOptionalAction if f.default else "store_true"
            parser.add_argument(flag, action=action, default=None,
                                help=f.metadata["help"] + extra
                                + (" (default: on)" if f.default else ""))
            continue
        parser.add_argument(flag, type=_typed(f.metadata.get("parse", f.type)),
                            choices=f.metadata.get("choices"),
                            default=None, metavar=f.metadata.get("metavar"),
                            help=f.metadata["help"] + (f" (default: {f.default})"
                                                       if f.default is not None else ""))
    return parser


def parse_config(strategy, argv, description=""):
    """Parse `argv` into a validated `Config`; bad values exit 2 with one line."""
    parser = make_parser(strategy, description)
    args = vars(parser.parse_args(argv))
    given = {k: v for k, v in args.items() if v is not None}
    preset = quick_preset(strategy) if given.get("quick") else {}
    try:
        return Config(**{**preset, **given})
    except UserError as e:
        parser.error(str(e))
