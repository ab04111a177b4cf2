"""``rnn-timescales report``: the HTML report of a sweep or of runs."""

from __future__ import annotations

import argparse

from rnn_timescales.cli.options import add_out

from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="figures and one HTML page for a sweep or a run directory",
        description="Aggregate a sweep (runs grouped by the settings that vary other than the seed) or show one "
        "run: training curves, timescales, dimensionality and whatever analyses exist, as PNG figures and "
        "DIR/report/index.html.",
    )
    p.add_argument("dir", metavar="DIR", help="a sweep directory, a run directory, or a directory of run directories")
    add_out(p, "report directory (default DIR/report)", metavar="OUT")
    p.add_argument("--ci", default="sem", help="spread across seeds: sem (mean ± s.e.m., default) or bootstrap "
                   "(95%% bootstrap interval of the mean)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rnn_timescales.experiments.report import SPREADS, write_report

    if args.ci not in SPREADS:
        raise UsageError(f"--ci must be one of {', '.join(SPREADS)}, got {args.ci!r}")
    out = write_report(args.dir, args.out, spread=args.ci)
    print(f"wrote {out / 'index.html'}")
    return 0
