"""Accuracy, model choice and 95 % interval coverage of ``estimate_timescales`` over independently
generated, seeded data sets with known truth (docs/timescales.md, "Accuracy, coverage and time").

    python benchmarks/timescales_coverage.py                      # every case, 100 data sets each
    python benchmarks/timescales_coverage.py --cases ou20,exp_counts --sets 200 --csv /tmp/cov.csv

Each data set is one unit of trials x steps drawn with its own seed; the estimator treats units
independently, so the data sets of a case are estimated in one call as units. Prints one line per
case: the share with the right model, the median and 90th percentile of |relative error| of the
slowest timescale (the latent process's for counts), and the coverage of its interval (the
decay and frequency for the oscillation); with --csv writes the table.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

from rnn_timescales.analysis.inference import estimate_timescales
from rnn_timescales.analysis.synthetic import ar2_process, ou_process, ou_spike_counts

# name -> (description, truth timescales, expected model, kind, estimator keywords, generator)
CASES = {
    "ou5": ("OU, tau = 5", [5.0], "1exp", "continuous", {}, lambda n, r, s, g: ou_process([5.0], None, s, r, n, seed=g)),
    "ou20": ("OU, tau = 20", [20.0], "1exp", "continuous", {}, lambda n, r, s, g: ou_process([20.0], None, s, r, n, seed=g)),
    "ou100": ("OU, tau = 100", [100.0], "1exp", "continuous", {},
              lambda n, r, s, g: ou_process([100.0], None, s, r, n, seed=g)),
    "ou100_global": ("OU, tau = 100, mean = global", [100.0], "1exp", "continuous", {"mean": "global"},
                     lambda n, r, s, g: ou_process([100.0], None, s, r, n, seed=g)),
    "ou100_long": ("OU, tau = 100, one trial of 200 000 steps", [100.0], "1exp", "continuous", {},
                   lambda n, r, s, g: ou_process([100.0], None, 200_000, 1, n, seed=g)),
    "ou2": ("OU, tau = 5, 80 (weights 0.4, 0.6)", [5.0, 80.0], "2exp", "continuous", {},
            lambda n, r, s, g: ou_process([5.0, 80.0], [0.4, 0.6], s, r, n, seed=g)),
    "rect_counts": ("Poisson counts, rectified rate (mean 1, sd 0.5), tau = 20", [20.0], "1exp", "counts",
                    {"rate": "rectified"},
                    lambda n, r, s, g: ou_spike_counts([20.0], None, s, r, n, mean=1.0, std=0.5, seed=g)),
    "exp_counts": ("Poisson counts, exponentiated rate (mean 1, log-rate sd 0.5), tau = 20", [20.0], "1exp", "counts",
                   {"rate": "exp"},
                   lambda n, r, s, g: ou_spike_counts([20.0], None, s, r, n, mean=1.0, std=0.5, seed=g, rate="exp")),
    "white_poisson": ("white Poisson noise (mean 1)", [], "none", "counts", {},
                      lambda n, r, s, g: g.poisson(1.0, (s, r, n))),
    "ar2": ("AR(2), decay 20, period 25", [20.0, 0.04], "osc", "continuous", {},
            lambda n, r, s, g: ar2_process(20.0, 25.0, s, r, n, g)),
}


def run_case(name: str, sets: int, trials: int, steps: int, n_boot: int, seed: int, fit: str = "gls") -> dict:
    desc, truth, model, kind, kw, gen = CASES[name]
    g = np.random.default_rng([seed, len(name), sum(map(ord, name))])
    x = gen(sets, trials, steps, g)
    t0 = time.perf_counter()
    est = estimate_timescales(x, kind=kind, n_boot=n_boot, seed=seed, fit=fit, **kw)
    secs = time.perf_counter() - t0
    table = est.table
    right = table["model"] == model
    row = {"case": name, "what": desc, "sets": sets, "trials": x.shape[1], "steps": x.shape[0], "n_boot": n_boot,
           "right_model": float(right.mean()), "seconds_per_set": secs / sets}
    if model == "none":
        return row
    if model == "osc":
        est_v = table["osc_tau"][right].to_numpy()
        lo, hi = table["osc_tau_low"][right], table["osc_tau_high"][right]
        f_err = np.abs(table["osc_frequency"][right] / truth[1] - 1)
        row["frequency_median_rel_error"] = float(np.median(f_err)) if right.any() else np.nan
        f_lo, f_hi = table["osc_frequency_low"][right], table["osc_frequency_high"][right]
        row["frequency_coverage"] = float(((f_lo <= truth[1]) & (truth[1] <= f_hi)).mean()) if right.any() else np.nan
        tau = truth[0]
    else:
        j = len(truth)
        tau = truth[-1]
        est_v = table[f"tau_{j}"][right].to_numpy()
        lo, hi = table[f"tau_{j}_low"][right], table[f"tau_{j}_high"][right]
    err = np.abs(est_v / tau - 1)
    row.update({"median_rel_error": float(np.median(err)) if len(err) else np.nan,
                "p90_rel_error": float(np.quantile(err, 0.9)) if len(err) else np.nan,
                "coverage": float(((lo <= tau) & (tau <= hi)).mean()) if len(err) else np.nan})
    return row


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--sets", type=int, default=100, help="independent data sets per case")
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--n-boot", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fit", choices=["gls", "gls-bartlett", "ols"], default="gls", help="the estimator's fit")
    p.add_argument("--csv", help="write the table here")
    args = p.parse_args()
    rows = []
    for name in args.cases.split(","):
        row = run_case(name, args.sets, args.trials, args.steps, args.n_boot, args.seed, args.fit)
        row["fit"] = args.fit
        rows.append(row)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    if args.csv:
        pd.DataFrame(rows).to_csv(args.csv, index=False, float_format="%.4g")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
