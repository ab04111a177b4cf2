"""``rnn-timescales timescales``: timescales of recorded or simulated activity (spike counts too), with
intervals (docs/timescales.md)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rnn_timescales.cli.options import non_negative_int, positive_float, positive_int
from rnn_timescales.errors import UsageError


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "timescales",
        help="timescales of recorded or simulated activity (spike counts too), with intervals",
        description="Timescales of every unit of DATA (.npy, .npz, .csv, or a folder or .npz of one array per "
        "unit), all units at once: autocorrelation, fits of white noise, exponential components or a damped "
        "oscillation plus white noise at lag 0, a simulation-calibrated model choice, and a parametric bootstrap "
        "for the bias correction and the intervals (docs/timescales.md). Writes timescales.csv (one row per "
        "unit), timescales.json and figures/.",
    )
    p.add_argument("data", metavar="DATA")
    p.add_argument("--axes", required=True, help="the data's axes in order, from time, trials, units "
                   "(e.g. trials,time or time,trials,units; for a folder or .npz of units, each array's axes)")
    p.add_argument("--dt", type=positive_float, default=1.0, help="bin size or sampling interval; the unit of "
                   "the timescales in the output (default 1 = steps)")
    p.add_argument("--unit", default=None, help="name of the unit of --dt for the figure (e.g. ms)")
    p.add_argument("--kind", choices=["continuous", "counts"], help="kind of data (default: counts for "
                   "non-negative integers, else continuous; the guess is printed)")
    p.add_argument("--key", help="array to read from a .npz holding several")
    p.add_argument("--max-lag", type=positive_int, help="fit lags 0..MAX_LAG steps (default a fifth of a trial, "
                   "at most 500)")
    p.add_argument("--models", default="1exp,2exp,osc", help="candidate models besides none (white noise), "
                   "from 1exp, 2exp, 3exp, osc (a damped oscillation), 1exp+osc (default 1exp,2exp,osc)")
    p.add_argument("--oscillation", action="store_true", help="add osc and 1exp+osc to the candidates")
    p.add_argument("--rate", choices=["rectified", "exp"], default="rectified", help="counts: how the rate follows "
                   "the latent process x, max(mean + x, 0) (default) or mean exp(x - var/2); the timescales are "
                   "the latent process's either way")
    p.add_argument("--mean", choices=["auto", "trial", "global"], default="auto", help="mean subtracted by the "
                   "autocorrelation: per unit the mean of all trials unless its trial means differ or drift more "
                   "than its timescales explain, then each trial's own (auto, default); each trial's own (trial); "
                   "the unit's over all trials (global: assumes the same mean in every trial)")
    p.add_argument("--fit", choices=["gls", "gls-bartlett", "ols"], default="gls", help="how the models are "
                   "fitted to the autocorrelation: generalised least squares, weighted by the covariance of the "
                   "estimate across lags for trials of the data's length (gls, default) or by Bartlett's asymptotic "
                   "covariance (gls-bartlett, the first weighting), or every lag weighted equally (ols, the former fit)")
    p.add_argument("--interval", default="bootstrap", help="bootstrap (default: parametric, with bias "
                   "correction), trials (resample trials) or none")
    p.add_argument("--n-boot", type=positive_int, default=100, help="simulated data sets per unit (default 100)")
    p.add_argument("--level", type=positive_float, default=0.95, help="confidence level (default 0.95)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--threads", type=positive_int, default=1, help="linear-algebra (BLAS) threads (default 1: the "
                   "work is many small matrices; more threads help little on an idle machine and slow a busy one)")
    p.add_argument("--figure-units", type=non_negative_int, default=48, help="units drawn in the figure "
                   "(default the first 48; 0: no figure)")
    p.add_argument("--out", metavar="DIR", help="output directory (default ./timescales/<DATA name>)")
    p.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rnn_timescales.studies import recorded_timescales as rt

    from rnn_timescales.analysis.model_choice import CANDIDATES

    models = tuple(m.strip() for m in args.models.split(",") if m.strip())
    if not models or any(m not in CANDIDATES for m in models) or len(set(models)) != len(models):
        raise UsageError(f"--models must be distinct names from {', '.join(CANDIDATES)}, got {args.models!r}")
    if not 0.5 <= args.level < 1:
        raise UsageError(f"--level must be in [0.5, 1), got {args.level}")
    if args.interval != "none" and args.n_boot < 20:
        raise UsageError(f"--n-boot must be at least 20, got {args.n_boot}")
    out = Path(args.out) if args.out else Path("timescales") / Path(args.data).stem
    try:
        prep = rt.prepare(args.data, args.axes, args.kind, args.dt, args.max_lag, args.interval, args.key)
        rt.check_out(out)
        if args.interval == "trials" and prep.data.shape[1] < 20:
            raise ValueError(f"--interval trials resamples trials and needs at least 20, got {prep.data.shape[1]}")
    except ValueError as e:
        raise UsageError(str(e)) from None
    n_steps, n_trials, n_units = prep.data.shape
    if prep.kind_note:
        print(prep.kind_note, file=sys.stderr)
    print(f"{n_units} unit(s), {n_trials} trial(s) x {n_steps} steps of {args.dt:g}", file=sys.stderr)
    from tqdm import tqdm

    with tqdm(total=n_units, unit="unit", disable=args.no_progress, file=sys.stderr) as bar:
        est = rt.run(prep, args.dt, max_lag=args.max_lag, models=models, oscillation=args.oscillation,
                     interval=args.interval, n_boot=args.n_boot, level=args.level, seed=args.seed, rate=args.rate, mean=args.mean,
                     fit=args.fit, threads=args.threads,
                     progress=lambda done, total: bar.update(done - bar.n))
    for line in est.warnings:
        print(f"warning: {line}", file=sys.stderr)
    rt.write(est, out, args.unit or ("steps" if args.dt == 1 else f"x {args.dt:g}"), args.figure_units)
    if args.json:
        print(json.dumps(rt.to_json(est)))
    else:
        cols = [c for c in est.table.columns if c in ("unit", "name", "model") or (c.startswith(("tau_", "weight_", "osc_"))
                and not c.endswith("_raw"))]
        table = est.table[cols].dropna(axis=1, how="all")  # e.g. no oscillation columns when none oscillates
        if len(table) > 40:
            print(table.head(20).to_string(index=False, float_format=lambda v: f"{v:.3g}"))
            print(f"... {len(table) - 20} more units in {out}/{rt.TABLE}")
        else:
            print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print(f"wrote {out}/{rt.TABLE}, timescales.json, figures/", file=sys.stderr)
    return 0
