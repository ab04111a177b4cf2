"""``rnn-timescales report``: one HTML page (``OUT/index.html``, its figures and tables beside it)
for a run, a folder of runs, a sweep or a results directory of the reproduction; and
``rnn-timescales figures``: only the reproduction's figures and summary tables, redrawn from its
result tables (what ``report`` draws for a results directory, without the page)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rnn_timescales.cli.options import add_out

from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="one HTML page of figures and tables for a run, a folder of runs, a sweep or a results directory",
        description="Write OUT/index.html (default PATH/report/index.html), one self-contained page with its PNG "
        "figures and CSV tables beside it, for any of: a run directory, a directory of run directories, a sweep, "
        "or a results directory of the reproduction (results/k24: its figures from its tables alone). Every "
        "figure has a caption saying what it shows and what to look for; every table a definitions list.",
    )
    p.add_argument("dir", metavar="PATH", help="a run directory, a directory of run directories, a sweep "
                   "directory, or a results directory (runs.csv and timescales.csv, such as results/k24)")
    add_out(p, "report directory: OUT/index.html (default PATH/report)", metavar="OUT")
    p.add_argument("--ci", default="sem", help="spread across seeds in a run or sweep report: sem (mean ± s.e.m., "
                   "default) or bootstrap (95%% bootstrap interval of the mean); a results report gives ± s.d.")
    p.set_defaults(func=run)

    f = sub.add_parser(
        "figures",
        help="only the reproduction's figures and summary tables, from a results directory (no page)",
        description="Redraw the figures and summary tables of a results directory (results/k24) from its tables "
        "alone into OUT (default RESULTS/figures), listed in OUT/figures.json. `report RESULTS` draws the same "
        "files and adds the page.",
    )
    f.add_argument("dir", metavar="RESULTS", help="a results directory (runs.csv and timescales.csv)")
    add_out(f, "figures directory (default RESULTS/figures)", metavar="OUT")
    f.set_defaults(func=run_figures)


def run(args: argparse.Namespace) -> int:
    from rnn_timescales.experiments.report import SPREADS, write_report
    from rnn_timescales.experiments.report.results_page import write_results_report
    from rnn_timescales.experiments.results import is_results_dir

    if args.ci not in SPREADS:
        raise UsageError(f"--ci must be one of {', '.join(SPREADS)}, got {args.ci!r}")
    if is_results_dir(args.dir):  # the reproduction's committed tables: its figures, from them alone
        out = write_results_report(args.dir, args.out)
    else:
        out = write_report(args.dir, args.out, spread=args.ci)
    print(f"wrote {out / 'index.html'}")
    return 0


def run_figures(args: argparse.Namespace) -> int:
    from rnn_timescales.experiments.results import draw_figures

    out = args.out or Path(args.dir) / "figures"
    drawn = draw_figures(args.dir, out)
    print(f"wrote {len(drawn)} figures and tables into {out}")
    return 0
