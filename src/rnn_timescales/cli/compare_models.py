"""``rnn-timescales compare-models``: leaky RNN, GRU and LSTM under single- and multi-head curricula."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnn_timescales.cli.options import add_out, add_progress, non_negative_int, positive_float, positive_int


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare-models",
        help="leaky RNN, GRU and LSTM x single- and multi-head: largest N against epochs and wall time",
        description="Train every (model, curriculum) pair on one task under the same budget (epochs by default; "
        "wall time is recorded too) and write comparison.csv, comparison_curves.csv and figures of the largest N "
        "solved against epochs and against wall time. The leaky RNN trains with the quick preset's optimiser, the "
        "GRU and the LSTM with the gated preset's (Adam, lr 1e-3); all share the quick preset's epochs (100 "
        "batches of 256, 10 evaluation batches) unless --set changes them. Running it again on the same --out "
        "continues it (a larger --max-epochs or --time-budget extends the runs).",
    )
    p.add_argument("--models", nargs="+", default=["leaky_rnn", "gru", "lstm"], metavar="MODEL",
                   help="models to compare (default: leaky_rnn gru lstm)")
    p.add_argument("--curricula", nargs="+", default=["single", "multi"], metavar="KIND",
                   help="N curricula to compare (default: single multi)")
    p.add_argument("--task", default="parity", help="an N task: parity (default) or dms")
    p.add_argument("--hidden", type=positive_int, default=64, help="units H of every model (default 64)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed of every run (default 0)")
    p.add_argument("--max-epochs", type=positive_int, default=30, help="epoch budget per run (default 30)")
    p.add_argument("--time-budget", type=positive_float, metavar="SECONDS",
                   help="also stop each run after this much wall time (default: no time limit)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a setting for every run, e.g. --set training.batch_size=64 (repeatable)")
    p.add_argument("--workers", type=positive_int, default=1, help="runs trained at once, one process each (default 1)")
    p.add_argument("--threads", type=positive_int, default=1, help="torch threads per run (default 1)")
    add_out(p, "output directory (default comparisons/<task>_h<H>_seed<S>_<time>)")
    add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from rnn_timescales.studies.compare_models import check_comparison_dir, comparison_configs, run_comparison

    configs = comparison_configs(args.models, args.curricula, task=args.task, hidden=args.hidden, seed=args.seed,
                                 max_epochs=args.max_epochs, time_budget_s=args.time_budget, overrides=args.overrides)
    out = Path(args.out) if args.out else Path("comparisons") / (
        f"{args.task}_h{args.hidden}_seed{args.seed}_{time.strftime('%Y%m%d-%H%M%S')}")
    check_comparison_dir(out, configs)
    print(f"comparing {', '.join(configs)}: {args.max_epochs} epochs each"
          + (f", at most {args.time_budget:g} s each" if args.time_budget else "")
          + f", {args.workers} at a time -> {out}", file=sys.stderr)
    with tqdm(total=len(configs), unit="run", disable=args.no_progress, file=sys.stderr) as bar:
        def done(name: str, summary: dict) -> None:
            bar.update(1)
            bar.write(f"{name}: largest N {summary.get('n_max_solved')} after {summary.get('epochs')} epochs, "
                      f"{summary.get('wall_time_s', 0):.0f} s ({summary.get('stop_reason')})", file=sys.stderr)

        result = run_comparison(configs, out, workers=args.workers, threads=args.threads, on_done=done)
    cols = ["model", "curriculum", "largest_n", "epochs", "wall_time_s", "epoch_largest_n", "time_largest_n_s"]
    print(result.table[cols].to_string(index=False, float_format=lambda x: f"{x:.0f}"))
    print(f"wrote {out}/comparison.csv, comparison_curves.csv, figures/")
    return 0
