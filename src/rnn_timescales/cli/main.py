"""The ``rnn-timescales`` command: a thin layer over the Python API.

Every command validates its input before doing any work. A bad argument, a missing file or an
invalid configuration prints one line on stderr and exits with code 2, leaving nothing written.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from rnn_timescales import __version__
from rnn_timescales.cli import (
    analyze,
    compare_models,
    evaluate,
    extrapolate,
    import_reference,
    listing,
    probe_forgetting,
    recall_memory,
    report,
    robustness,
    slow_points,
    speed_regularization,
    sweep,
    timescales,
    train,
)
from rnn_timescales.cli.options import Parser
from rnn_timescales.errors import CheckpointError, ConfigError, UsageError, WriteError

# The commands in the order ``--help`` lists them; each module has ``add(sub)`` (its options,
# with ``set_defaults(func=run)``) and ``run(args) -> exit code``. A new command is a module here.
COMMANDS = (train, evaluate, analyze, timescales, import_reference, extrapolate, compare_models, robustness,
            probe_forgetting, slow_points, recall_memory, speed_regularization, sweep, report, listing)


def command_name(module) -> str:
    """The command a module of :data:`COMMANDS` adds (``import_reference`` -> ``import-reference``)."""
    return module.__name__.rsplit(".", 1)[-1].replace("_", "-")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``rnn-timescales`` parser with every command of :data:`COMMANDS`, or with command
    ``only`` alone (what ``main`` builds when the command line names one: the other commands'
    options import torch, and ``rnn-timescales timescales --help`` then starts in well under 1 s)."""
    parser = Parser(prog="rnn-timescales", description="Train recurrent networks on memory tasks and "
                    "measure where their memory lives.")
    parser.add_argument("--version", action="version", version=f"rnn-timescales {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        if only is None or command_name(command) == only:
            command.add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; bad input of any kind is one line on stderr and exit code 2."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    named = args_in[0] if args_in and args_in[0] in {command_name(c) for c in COMMANDS} else None
    parser = build_parser(only=named)
    argv = args_in
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.func(args)
    except (UsageError, ConfigError, CheckpointError) as e:
        print(f"rnn-timescales: error: {e}", file=sys.stderr)
        return 2
    except WriteError as e:  # e.g. the disk is full: the previous files are kept (docs/errors.md, "Faults")
        print(f"rnn-timescales: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rnn-timescales: interrupted", file=sys.stderr)
        return 130
