"""``rnn-timescales import-reference``: the paper code's checkpoints as run directories."""

from __future__ import annotations

import argparse

from rnn_timescales.cli.options import add_out


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-reference",
        help="turn checkpoints of the paper's code into run directories",
        description="Convert checkpoints written by the paper's public code (files, folders named "
        "{cumulative|single|sliding_W_F}_{parity|dms}_network_K, or a folder of them) into run directories, "
        "one per network folder, that every command accepts. Files are loaded with weights_only=True.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    add_out(p, "folder to hold the run directories (default: runs)", metavar="ROOT", default="runs")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rnn_timescales.runs.files import CHECKPOINTS
    from rnn_timescales.runs.paper import import_reference

    for run_dir in import_reference(args.paths, args.out):
        ckpts = sorted(p.name for p in (run_dir / CHECKPOINTS).iterdir())
        print(f"{run_dir}  ({len(ckpts)} checkpoints: {', '.join(ckpts)})")
    return 0
