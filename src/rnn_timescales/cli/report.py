"""``rnn-timescales report``: the HTML report of a sweep or of runs; the reproduction's figures from its
result tables."""

from __future__ import annotations

import argparse
from pathlib import Path

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
    p.add_argument("dir", metavar="DIR", help="a sweep directory, a run directory, a directory of run directories, "
                   "or a results directory of the reproduction (results/k24: its figures, from its tables alone)")
    add_out(p, "report directory (default DIR/report)", metavar="OUT")
    p.add_argument("--ci", default="sem", help="spread across seeds: sem (mean ± s.e.m., default) or bootstrap "
                   "(95%% bootstrap interval of the mean)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rnn_timescales.experiments.report import SPREADS, write_report
    from rnn_timescales.experiments.results import draw_figures, is_results_dir

    if args.ci not in SPREADS:
        raise UsageError(f"--ci must be one of {', '.join(SPREADS)}, got {args.ci!r}")
    if is_results_dir(args.dir):  # the reproduction's committed tables: its figures, from them alone
        out = args.out or Path(args.dir) / "figures"
        drawn = draw_figures(args.dir, out)
        print(f"wrote {len(drawn)} figures into {out}")
        return 0
    out = write_report(args.dir, args.out, spread=args.ci)
    print(f"wrote {out / 'index.html'}")
    return 0
