"""``rnn-timescales slow-points``: slow and fixed points of a checkpoint."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rnn_timescales.cli.options import (
    add_device,
    add_out,
    add_progress,
    check_device,
    finder_overrides,
    non_negative_int,
    number,
    positive_int,
)
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "slow-points",
        help="slow and fixed points under the task's mean input, with their Jacobian timescales",
        description="Find the slow and fixed points of a trained network under a constant input (default: "
        "the task's mean input 0.5), starting from states drawn from its trajectories under the task input "
        "plus noise; report each distinct point's speed q, stability and slowest Jacobian timescales beside "
        "the network's trained tau and (when `analyze` was run on it) tau_net. RUN_OR_CHECKPOINT: a run "
        "directory (its latest checkpoint) or a checkpoint file (ours or the paper code's).",
    )
    p.add_argument("path", metavar="RUN_OR_CHECKPOINT")
    add_out(p, "output directory (default RUN_DIR/slow_points/<checkpoint>, "
                   "else ./slow_points/<folder>_<file>)")
    p.add_argument("--initial", type=positive_int, default=512, help="initial states (default 512)")
    p.add_argument("--noise", type=number(float, 0.0, False, "a non-negative number"), default=0.5,
                   help="noise added to the initial states, in units of the trajectories' s.d. (default 0.5)")
    p.add_argument("--input", type=float, default=0.5, help="the constant input (default 0.5, the task's mean)")
    p.add_argument("--trials", type=positive_int, default=16, help="input streams simulated (default 16)")
    p.add_argument("--steps", type=positive_int, default=500, help="steps per stream after burn-in (default 500)")
    p.add_argument("--burn-in", type=non_negative_int, default=100, help="discarded steps (default 100)")
    p.add_argument("--max-iters", type=positive_int, help="finder iteration cap (default 5000)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="any finder hyperparameter, e.g. --set tol_q=1e-10 (repeatable; docs/slow_points.md)")
    p.add_argument("--tau-net", metavar="PATH", help="`analyze` output (directory or summary.csv) to read tau_net "
                   "from (default: where `analyze` writes for this checkpoint)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for inputs, initial states and noise")
    add_device(p)
    add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnn_timescales.studies.slow_points import (
        SlowPointSettings, analyze_slow_points, check_slow_points_dir, default_slow_points_dir, write_slow_points)
    from rnn_timescales.dynamics.slow_points import SlowPointHyperparameters
    from rnn_timescales.runs import load_any
    from rnn_timescales.runtime import resolve_device

    check_device(args.device)
    if not abs(args.input) < float("inf"):
        raise UsageError(f"--input must be a finite number, got {args.input}")
    hyper = finder_overrides(args.overrides)
    if args.max_iters is not None:
        hyper["max_iters"] = args.max_iters
    if hyper.get("compute_jacobians") is False:
        raise UsageError("--set compute_jacobians=false: slow-points reports Jacobian timescales; keep it true")
    device = resolve_device(args.device)
    ckpt = load_any(args.path)
    if ckpt.make_task().recall:
        raise UsageError(f"{args.path!r} is a delayed-recall network: its per-class slow points come from "
                         "`rnn-timescales recall-memory`")
    out = Path(args.out) if args.out else default_slow_points_dir(args.path, ckpt.path)
    try:
        check_slow_points_dir(out)
        settings = SlowPointSettings(n_initial=args.initial, noise=args.noise, input_value=args.input,
                                     n_trials=args.trials, n_steps=args.steps, burn_in=args.burn_in, seed=args.seed,
                                     hyperparameters=hyper)
        if args.tau_net is not None:
            from rnn_timescales.studies.slow_points import find_tau_net

            find_tau_net(ckpt, args.tau_net)  # a wrong --tau-net is refused before any work
    except ValueError as e:
        raise UsageError(str(e)) from None
    max_iters = hyper.get("max_iters", SlowPointHyperparameters().max_iters)
    with tqdm(total=max_iters, unit="it", disable=args.no_progress, file=sys.stderr,
              desc=f"slow points N={ckpt.n_max}") as bar:
        analysis = analyze_slow_points(ckpt, settings, device=device, tau_net=args.tau_net, progress=bar.update)
    write_slow_points(analysis, out)
    cols = ["point", "q", "stable", "n_unstable", "timescale_max", "timescale_max_decaying", "unit_timescale_max",
            "n_initial"]
    s = analysis.summary
    print(analysis.points[cols].head(20).to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    if analysis.result.n_points > 20:
        print(f"... {analysis.result.n_points - 20} more points in {out / 'slow_points.csv'}")
    where = f" (tau_net from {analysis.tau_net_source})" if analysis.tau_net_source else \
        " (no `analyze` summary found for tau_net; run `rnn-timescales analyze` or give --tau-net)"
    print(f"{s['n_points']} distinct points ({s['n_stable']} stable) from {s['n_initial']} initial states; "
          f"trained tau median {s['tau_median']:.3g}, tau_net median {s['tau_net_median']:.3g}{where}")
    print(f"wrote {out}/slow_points.csv, slow_points_summary.csv, slow_points.npz, figures/")
    return 0
