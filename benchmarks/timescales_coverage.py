"""Accuracy, interval coverage and time of ``estimate_timescales`` over repeated draws of the
generative models with known truth (docs/timescales.md).

    python benchmarks/timescales_coverage.py --repeats 20                       # 500 trials x 1000 steps
    python benchmarks/timescales_coverage.py --trials 100 --steps 400 --n-boot 40 --repeats 40

Prints one line per case: median relative error of each timescale, coverage of each timescale's
interval, how often the right number of components was chosen, mean weight error, seconds per
data set.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from rnn_timescales.analysis.inference import estimate_timescales
from rnn_timescales.analysis.synthetic import VALIDATION_CASES, ou_process, ou_spike_counts

CASES = VALIDATION_CASES


def draw(name: str, steps: int, trials: int, units: int, seed) -> np.ndarray:
    taus, weights, kind, kw = CASES[name]
    if kind == "continuous":
        return ou_process(taus, weights, steps, trials, units, seed=seed)
    return ou_spike_counts(taus, weights, steps, trials, units, mean=1.0, std=0.5, seed=seed, **kw)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--trials", type=int, default=500)
    p.add_argument("--n-boot", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    out = []
    for name in args.cases.split(","):
        taus, weights, kind, _ = CASES[name]
        j = len(taus)
        err, cover, right, werr, secs = [], [], [], [], []
        for r in range(args.repeats):
            x = draw(name, args.steps, args.trials, 1, seed=[args.seed, r, len(name)])
            t0 = time.perf_counter()
            u = estimate_timescales(x, kind=kind, n_boot=args.n_boot, seed=r).units[0]
            secs.append(time.perf_counter() - t0)
            right.append(len(u["timescales"]) == j)
            if right[-1]:
                est, ci = np.array(u["timescales"]), np.array(u["intervals"])
                err.append(est / taus - 1)
                cover.append((ci[:, 0] <= taus) & (taus <= ci[:, 1]))
                werr.append(np.abs(np.array(u["weights"]) - weights).max())
        row = {"case": name, "trials": args.trials, "steps": args.steps, "n_boot": args.n_boot,
               "repeats": args.repeats, "right_model": float(np.mean(right)),
               "median_abs_rel_error": np.median(np.abs(err), 0).round(4).tolist() if err else None,
               "max_abs_rel_error": np.abs(err).max(0).round(4).tolist() if err else None,
               "coverage": np.mean(cover, 0).round(3).tolist() if cover else None,
               "max_weight_error": float(np.max(werr)) if werr else None,
               "seconds_median": float(np.median(secs)), "seconds_max": float(np.max(secs))}
        out.append(row)
        print(json.dumps(row) if args.json else
              f"{name:9s} right model {row['right_model']:.2f}  |rel err| median {row['median_abs_rel_error']} "
              f"max {row['max_abs_rel_error']}  coverage {row['coverage']}  max |w err| {row['max_weight_error']}  "
              f"{row['seconds_median']:.1f} s (max {row['seconds_max']:.1f})", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
