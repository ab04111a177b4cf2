"""``rnn-timescales analyze``: timescales, dimensionality and Jacobian timescales of checkpoints."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from pathlib import Path

from rnn_timescales.cli.options import add_out, add_progress, non_negative_int, positive_int
from rnn_timescales.errors import UsageError

FLAGS = {"n_trials": "--trials", "n_steps": "--steps"}  # the settings whose flag is not their name


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="trained tau, tau_net, dimensionality and Jacobian timescales per checkpoint",
        description="Simulate each checkpoint on Bernoulli input and measure where its memory lives: trained "
        "tau, network-mediated tau_net (autocorrelation fits), population autocorrelation, PCA dimensionality "
        "and timescales of the linearised dynamics. PATH: a run directory (every solved N), a directory of "
        "checkpoints, or checkpoint files (ours or the paper code's).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--n", type=positive_int, nargs="+", metavar="N", help="only the checkpoints of these N")
    p.add_argument("--steps", type=positive_int, default=100_000, help="analysed steps per trial (default 10^5)")
    p.add_argument("--trials", type=positive_int, default=10, help="trials (default 10)")
    p.add_argument("--burn-in", type=non_negative_int, default=500, help="discarded steps (default 500)")
    p.add_argument("--max-lag", type=positive_int, default=200, help="autocorrelation lags kept (default 200)")
    p.add_argument("--fit-lag", type=positive_int, default=30, help="lags fitted (default 30)")
    p.add_argument("--method", default="parsimonious", help="model selection: parsimonious (default) or paper")
    p.add_argument("--bias-correction", action="store_true", help="correct tau_net for finite-sample bias")
    p.add_argument("--tau-net-intervals", type=non_negative_int, default=0, metavar="B",
                   help="95%% interval of every tau_net from B trial resamples (columns tau_net_low, "
                   "tau_net_high; about a quarter more time per checkpoint at B = 100; default 0: off)")
    p.add_argument("--include-init", action="store_true", help="also analyse the untrained network")
    p.add_argument("--seed", type=non_negative_int, default=0, help="seed for inputs and initial states")
    add_out(p, "output directory (default RUN_DIR/analysis, else ./analysis/<name>)")
    add_progress(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from rnn_timescales.studies.analyze import (
        OUTPUT_FILES, AnalysisSettings, analyze_checkpoint, check_out_dir, check_settings, checkpoints_to_analyze,
        default_out_dir, printed_summary, write_analysis)
    from rnn_timescales.runs import load_any

    settings = AnalysisSettings(n_trials=args.trials, n_steps=args.steps, burn_in=args.burn_in,
                                max_lag=args.max_lag, fit_lag=args.fit_lag, method=args.method,
                                bias_correction="analytic" if args.bias_correction else None, seed=args.seed,
                                tau_net_intervals=args.tau_net_intervals)
    check_settings(asdict(settings), name=lambda key: FLAGS.get(key, "--" + key.replace("_", "-")))
    files = checkpoints_to_analyze(args.paths, args.n, include_init=args.include_init)
    out = Path(args.out) if args.out else default_out_dir(args.paths[0])
    try:
        check_out_dir(out)
    except ValueError as e:
        raise UsageError(str(e)) from None
    results = []
    checkpoints = [load_any(f) for f in files]  # every file is checked before any work starts
    unsolved = {ckpt.path for ckpt in checkpoints if solved_nothing(ckpt.path)}
    for ckpt in checkpoints:
        if ckpt.path in unsolved:
            print(f"rnn-timescales: warning: {str(ckpt.path.parent.parent)!r} solved no N (its accuracy never passed "
                  f"the curriculum's threshold): its final weights, still at N = {ckpt.n_max}, are analysed and "
                  "labelled unsolved", file=sys.stderr)
    with tqdm(total=len(files) * args.steps, unit="step", unit_scale=True, disable=args.no_progress,
              file=sys.stderr) as bar:
        for ckpt in checkpoints:
            bar.set_description(f"N={ckpt.n_max}")
            results.append(analyze_checkpoint(ckpt, settings, progress=bar.update))
    for ckpt, result in zip(checkpoints, results):
        result.summary["solved"] = ckpt.path not in unsolved
    write_analysis(results, out, settings)
    import pandas as pd

    summary = pd.DataFrame([r.summary for r in results])
    printed = printed_summary(summary)
    if unsolved:
        printed.insert(1, "solved", summary["solved"])
    print(printed.to_string(index=False, float_format=lambda x: f"{x:.3g}"))
    print(f"wrote {out}/{', '.join(OUTPUT_FILES)}")
    return 0


def solved_nothing(path: Path) -> bool:
    """Whether the checkpoint ``path`` is the final weights of a run that solved no level (what
    ``analyze RUN_DIR`` analyses for such a run): the run's ``summary.json`` says so, or the run
    has no checkpoint of a solved level."""
    import json

    from rnn_timescales.runs.checkpoints import FINAL_NAME, SUFFIX, is_run_dir, list_run_checkpoints

    run_dir = Path(path).parent.parent
    if Path(path).name != FINAL_NAME + SUFFIX or not is_run_dir(run_dir):
        return False
    summary = run_dir / "summary.json"
    if summary.is_file():
        try:
            return json.loads(summary.read_text()).get("n_max_solved") is None
        except (ValueError, OSError):
            pass
    return not list_run_checkpoints(run_dir, include_init=False)
