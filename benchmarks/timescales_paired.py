"""Two fits of ``estimate_timescales`` on the same data sets, compared pair by pair (docs/timescales.md,
"Weighting the lags: generalised least squares"): is one closer than the other beyond the data sets'
own scatter?

    python benchmarks/timescales_paired.py --case "OU tau=100" --seed 777 --sets 400 \
        --fits gls-bartlett,gls --csv docs/figures/timescales/paired_covariance_seed777.csv

The data sets are one case of the field benchmark (``FIELD_CASES``; pick a seed other than the
benchmark's 0 for a decision), estimated with all defaults but ``fit``, one unit per data set.
Prints per fit the median and 90th percentile of |relative error| of the slowest timescale, the root
mean square of log(estimate / truth), the coverage of the 95 % intervals and the share with the
one-exponential model; then, over the data sets where both found one, the share where the second
fit is closer and 95 % bootstrap intervals (2 000 resamples of the data sets) of the second minus
the first in rms(log) and in the median |relative error|. --csv writes one row per data set.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from rnn_timescales.analysis.inference import estimate_timescales
from rnn_timescales.analysis.synthetic import FIELD_CASES
from timescales_field import slowest_decay  # the sibling script (run as a script, its folder is on the path)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--case", default="OU tau=100", help="one of: " + "; ".join(FIELD_CASES))
    p.add_argument("--seed", type=int, default=777)
    p.add_argument("--sets", type=int, default=400)
    p.add_argument("--fits", default="gls-bartlett,gls", help="two fits, comma-separated")
    p.add_argument("--csv")
    args = p.parse_args()
    fits = args.fits.split(",")
    if len(fits) != 2 or args.case not in FIELD_CASES:
        p.error("--fits takes two fits and --case a field benchmark case")
    warnings.filterwarnings("ignore")
    truth, trials, steps, kind, gen = FIELD_CASES[args.case]
    x = gen(args.sets, trials, steps, np.random.default_rng([args.seed, sum(map(ord, args.case))]))
    rows = pd.DataFrame({"set": np.arange(args.sets)})
    for fit in fits:
        est = estimate_timescales(x, kind=kind, fit=fit, seed=1)
        tau, ci = slowest_decay(est)
        rows[f"{fit}_model"], rows[f"{fit}_tau"] = est.table["model"].to_numpy(), tau
        rows[f"{fit}_low"], rows[f"{fit}_high"] = ci[:, 0], ci[:, 1]
        err = np.abs(tau / truth - 1)
        print(json.dumps({"fit": fit, "median_rel_error": round(float(np.nanmedian(err)), 4),
                          "p90_rel_error": round(float(np.nanpercentile(err, 90)), 4),
                          "rms_log_error": round(float(np.sqrt(np.nanmean(np.log(tau / truth) ** 2))), 4),
                          "coverage": round(float(np.nanmean((rows[f"{fit}_low"] <= truth) & (truth <= rows[f"{fit}_high"]))), 4),
                          "one_exponential": round(float((est.table["model"] == "1exp").mean()), 4)}), flush=True)
    taus = [rows[f"{f}_tau"].to_numpy() for f in fits]
    ok = np.isfinite(taus[0]) & np.isfinite(taus[1])
    a, b = (np.abs(np.log(t[ok] / truth)) for t in taus)  # |log error|
    ra, rb = (np.abs(t[ok] / truth - 1) for t in taus)  # |relative error|
    rng = np.random.default_rng(0)
    draws = rng.integers(0, len(a), (2000, len(a)))
    rms = np.sqrt((b[draws] ** 2).mean(1)) - np.sqrt((a[draws] ** 2).mean(1))
    med = np.median(rb[draws], 1) - np.median(ra[draws], 1)
    print(json.dumps({"pairs": int(ok.sum()), f"{fits[1]}_closer": round(float((b < a).mean()), 4),
                      "rms_log_difference": round(float(np.sqrt((b**2).mean()) - np.sqrt((a**2).mean())), 4),
                      "rms_log_difference_95": [round(float(v), 4) for v in np.percentile(rms, [2.5, 97.5])],
                      "median_difference": round(float(np.median(rb) - np.median(ra)), 4),
                      "median_difference_95": [round(float(v), 4) for v in np.percentile(med, [2.5, 97.5])]}))
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        rows.to_csv(args.csv, index=False, float_format="%.5g")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
