"""Why the MR estimator is closer than ours on some of the field benchmark's cases: the same data
sets (drawn with seeds other than the benchmark's) estimated with each ingredient changed alone
(docs/timescales.md, "Side by side with the field").

    python benchmarks/timescales_field_why.py --sets 200 --csv /tmp/why.csv

Per case and variant: median |relative error| of the (one-exponential) timescale, root mean square
and mean of log(estimate / truth). Variants: ours with each mean ("trial": each trial's own;
"global": the mean of all trials) and each fit ("ols": every lag weighted equally, the former
default; "gls": generalised least squares weighted by the estimate's exact covariance across lags
for trials of the data's length, "gls-bartlett": by Bartlett's asymptotic covariance), the
bias-corrected value and the raw fit (before the bootstrap's correction); the ordinary least-squares
fit of the expected estimate to lags 0 ... K for K = 20, 50 and the default (a fifth of the trial);
the MR estimator on the default lags. One-exponential model only, so the model choice does not
enter.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_timescales.analysis.acf_models import fit_model
from rnn_timescales.analysis.inference import _autocorrelations, default_max_lag, estimate_timescales
from rnn_timescales.analysis.synthetic import FIELD_CASES as CASES
from timescales_field import mr_estimator  # the sibling script (run as a script, its folder is on the path)


def row(case: str, variant: str, est: np.ndarray, truth: float) -> dict:
    le = np.log(est / truth)
    return {"case": case, "variant": variant, "median_rel_error": float(np.nanmedian(np.abs(est / truth - 1))),
            "rms_log_error": float(np.sqrt(np.nanmean(le**2))), "mean_log_error": float(np.nanmean(le)),
            "failed": int(np.isnan(est).sum())}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sets", type=int, default=200)
    p.add_argument("--seed", type=int, default=4242, help="not the benchmark's (0)")
    p.add_argument("--cases", default="OU tau=100;OU tau=5;Poisson counts tau=20")
    p.add_argument("--means", default="trial,global", help="comma-separated means to compare")
    p.add_argument("--fits", default="ols,gls-bartlett,gls", help="comma-separated fits to compare")
    p.add_argument("--csv")
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    for name in args.cases.split(";"):
        truth, trials, steps, kind, gen = CASES[name]
        start = len(rows)
        x = gen(args.sets, trials, steps, np.random.default_rng([args.seed, sum(map(ord, name))]))
        for mean in args.means.split(","):
            for fit in args.fits.split(","):
                est = estimate_timescales(x, kind=kind, mean=mean, fit=fit, seed=1, models=("1exp",))
                tau = np.array([u["timescales"][-1] if u["timescales"] else np.nan for u in est.units])
                raw = np.array([u["timescales_raw"][-1] if u["timescales"] else np.nan for u in est.units])
                rows += [row(name, f"ours, mean={mean}, fit={fit}, corrected", tau, truth),
                         row(name, f"ours, mean={mean}, fit={fit}, raw", raw, truth)]
            for k in (20, 50, default_max_lag(steps)):
                _, ac = _autocorrelations(x, k, False, mean == "global")
                ols_fit = fit_model(ac, steps, "1exp", n_mean=trials if mean == "global" else 1)
                rows.append(row(name, f"fit, mean={mean}, lags 0..{k}", ols_fit.taus[:, 0], truth))
        rows.append(row(name, f"MR estimator, lags 1..{default_max_lag(steps)}", mr_estimator(x)[0], truth))
        for r in rows[start:]:
            print(f"{r['case']:24s} {r['variant']:42s} median {100 * r['median_rel_error']:5.2f} %  "
                  f"rms(log) {100 * r['rms_log_error']:5.2f} %  mean(log) {100 * r['mean_log_error']:+5.2f} %", flush=True)
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(args.csv, index=False, float_format="%.4g")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
