"""``rnn-timescales probe-forgetting``: does a frozen network still hold the earlier N? Fresh linear
readouts of its states, held-out accuracy (docs/commands/probe-forgetting.md)."""

from __future__ import annotations

import argparse
import sys

from rnn_timescales.cli.options import add_progress, non_negative_int, positive_float, positive_int
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe-forgetting",
        help="forgetting measured by fresh linear readouts of each checkpoint's states (held-out accuracy)",
        description="For every checkpoint of each network (a run directory, a directory of run directories, or a "
        "folder of the paper code's checkpoints) and its untrained weights, fit a linear readout of the frozen "
        "states for every earlier N' on some streams and score it on held-out streams, beside the network's own "
        "head (the paper's measure). Writes DIR/probe_forgetting.csv, _summary.csv, .json and .png.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (replaced if it holds an earlier "
                   "probe-forgetting output)")
    p.add_argument("--streams", type=positive_int, default=10, help="streams per checkpoint (default 10)")
    p.add_argument("--held-out", type=positive_int, default=3, help="streams that score the probe, never fit it "
                   "(default 3)")
    p.add_argument("--warmup", type=non_negative_int, default=100, help="unused steps at each stream's start (default 100)")
    p.add_argument("--length", type=positive_int, default=1000, help="steps per stream used (default 1000)")
    p.add_argument("--probe", choices=("ridge", "logistic"), default="ridge",
                   help="ridge (least squares on +-1 labels, default) or logistic regression")
    p.add_argument("--alpha", type=positive_float, default=1.0, help="L2 penalty on the standardised states (default 1)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of the streams and initial states")
    add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnn_timescales.analysis.robustness.probes import ProbeSettings
    from rnn_timescales.studies.probe_forgetting import FIGURE, SUMMARY, TABLE, run_probe_forgetting

    try:
        settings = ProbeSettings(streams=args.streams, held_out=args.held_out, warmup=args.warmup, length=args.length,
                                 probe=args.probe, alpha=args.alpha, seed=args.seed)
    except ValueError as e:
        raise UsageError(str(e)) from None
    bars: dict[str, tqdm] = {}

    def progress(name: str, done: int, total: int) -> None:
        bar = bars.setdefault(name, tqdm(total=total, desc=f"probe {name}", disable=args.no_progress, file=sys.stderr))
        bar.update(done - bar.n)

    try:
        summary = run_probe_forgetting(args.paths, args.out, settings, progress,
                                       command="rnn-timescales " + " ".join(sys.argv[1:]))
    finally:
        for bar in bars.values():
            bar.close()
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"wrote {args.out}/{TABLE}, {SUMMARY}, {FIGURE}")
    return 0
