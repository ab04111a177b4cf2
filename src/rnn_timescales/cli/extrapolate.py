"""``rnn-timescales extrapolate``: delayed recall beyond the trained delays."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnn_timescales.cli.networks import network_name, recall_networks
from rnn_timescales.cli.options import (
    add_device,
    add_json,
    add_out,
    add_progress,
    check_device,
    check_labels,
    default_out,
    non_negative_int,
    positive_int,
)
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "extrapolate",
        help="delayed recall: accuracy against the delay, far beyond the delays trained",
        description="For delayed-recall networks (run directories, at their last level solved, or checkpoint files, "
        "e.g. RUN_DIR/checkpoints/final.safetensors for the end of a run that advanced on a schedule): "
        "accuracy at the response step against the delay t_a - t_s, from the minimum gap up to --max-delay "
        "(default 5 times the trained T_max), on held-out images. Writes extrapolation.csv and extrapolation.png "
        "(all networks on one figure) and prints the table.",
    )
    p.add_argument("paths", nargs="+", metavar="RUN_OR_CHECKPOINT")
    p.add_argument("--max-delay", type=positive_int, metavar="D", help="largest delay (default: --factor x trained T_max)")
    p.add_argument("--factor", type=positive_int, default=5, help="default largest delay as a multiple of T_max (default 5)")
    p.add_argument("--trials", type=positive_int, default=256, help="trials per delay (default 256)")
    p.add_argument("--labels", nargs="+", metavar="NAME", help="names of the networks in the table and figure "
                   "(default: run directory names)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for the trials")
    add_device(p)
    add_out(p, "output directory (default RUN_DIR/extrapolation for one run, "
                   "else ./extrapolation/<names>)")
    add_json(p, 'print {"delays": [{"delay", "accuracy", "n_trials", ...}], ...} ({"runs": [...]} for several)')
    add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnn_timescales.analysis.extrapolation import extrapolation_delays
    from rnn_timescales.studies.extrapolate import OUTPUT, extrapolation_table, write_extrapolation
    from rnn_timescales.runtime import resolve_device

    check_device(args.device)
    check_labels(args.labels, args.paths)
    device = resolve_device(args.device)
    runs = []
    for path, (ckpt, task) in zip(args.paths, recall_networks(args.paths, "extrapolate")):
        try:
            delays = extrapolation_delays(ckpt.level["max_delay"], task.params.min_gap, args.max_delay, args.factor)
        except ValueError as e:
            raise UsageError(f"--max-delay: {e} of {path!r}") from None
        runs.append((ckpt, task, delays, network_name(path, ckpt)))
    names = args.labels or [name for *_, name in runs]
    out = Path(args.out) if args.out else default_out(args.paths, "extrapolation", names)
    try:
        OUTPUT.check(out)
    except ValueError as e:
        raise UsageError(str(e)) from None
    tables = []
    total = sum(len(delays) for _, _, delays, _ in runs) * args.trials
    with tqdm(total=total, unit="trial", unit_scale=True, disable=args.no_progress, file=sys.stderr) as bar:
        for (ckpt, task, delays, _), name in zip(runs, names):
            bar.set_description(name)
            tables.append(extrapolation_table(ckpt, task, name, delays, args.trials, args.seed, device, bar.update))
    written = write_extrapolation(tables, out)
    if args.json:
        entries = [{"run": t["run"].iloc[0], "checkpoint": t["checkpoint"].iloc[0],
                    "trained_max_delay": int(t["trained_max_delay"].iloc[0]), "n_classes": int(t["n_classes"].iloc[0]),
                    "delays": [{"delay": int(r.delay), "accuracy": float(r.accuracy), "n_trials": int(r.n_trials),
                                "null_accuracy": float(r.null_accuracy)} for r in t.itertuples()]}
                   for t in tables]
        print(json.dumps(entries[0] if len(entries) == 1 else {"runs": entries}))
    else:
        for t in tables:
            print(f"{t['run'].iloc[0]}  ({t['checkpoint'].iloc[0]}, trained T_max {t['trained_max_delay'].iloc[0]}, "
                  f"{t['n_classes'].iloc[0]} classes)")
            print(t[["delay", "accuracy", "n_trials", "null_accuracy"]].to_string(index=False, float_format=lambda x: f"{x:.4f}"))
        print(f"wrote {written['table']} and {written['figure']}")
    return 0
