"""``rnn-timescales list``: every registered study, measure, task, model and curriculum, one line each."""

from __future__ import annotations

import argparse

KINDS = ("studies", "measures", "tasks", "models", "curricula")


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "list",
        help="every registered study, measure, task, model and curriculum, one line each",
        description="List what the package offers, read from its registries: the studies (their command and "
        "the files they write), the measures analyze computes (their column, unit and definition), and the tasks, "
        "models and curricula a run configuration may name.",
    )
    p.add_argument("what", nargs="*", metavar="WHAT", help=f"only these: {', '.join(KINDS)} (default: all)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rnn_timescales.errors import UsageError
    from rnn_timescales.studies.registry import registry_lines

    unknown = [w for w in args.what if w not in KINDS]
    if unknown:
        raise UsageError(f"list: unknown {unknown[0]!r}; choose from {', '.join(KINDS)}")
    for i, kind in enumerate(args.what or KINDS):
        lines = registry_lines(kind)
        print(("\n" if i else "") + f"{kind} ({len(lines)}):")
        width = max(len(name) for name, _ in lines)
        for name, text in lines:
            print(f"  {name:<{width}}  {text}")
    return 0
