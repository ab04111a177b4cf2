"""The estimator question (issue 21; docs/reproduction.md): on processes built to look like the trained
networks' autocorrelations, which estimator tells the truth about slow components?

    python benchmarks/estimator_question.py                      # the paper's length: 10 x 10^5 steps
    python benchmarks/estimator_question.py --steps 20000 --units 20   # a quicker look
    python benchmarks/estimator_question.py --out results/k24/estimator_synthetic.csv

The networks' neurons mostly decorrelate within a step or two (tau_net 0.5-2 steps), and the
question is whether some also carry a slow component of small weight that grows with N. Each case
is a sum of independent AR(1) processes with known timescales and variance weights (a fast one
alone, or a fast one plus a slow one of weight w), simulated at the networks' analysis length,
then fitted by both estimators: ``parsimonious`` (ours) and ``paper`` (AIC between one and two
exponentials, from curve_fit's default start, as the paper's code). Printed per case: the share of
units given two components, the median slow timescale and weight they report, the median tau_net,
and the truth. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from rnn_timescales.analysis.autocorrelation import autocorrelation
from rnn_timescales.analysis.synthetic import ar1_mixture
from rnn_timescales.analysis.timescales import fit_timescales

FAST = 0.6  # the networks' typical one-step decorrelation: rho(1) = exp(-1/0.6) = 0.19


def cases() -> list[dict]:
    out = [{"tau_fast": t, "tau_slow": np.nan, "w_slow": 0.0} for t in (FAST, 1.5, 3.0, 7.5)]
    out += [{"tau_fast": FAST, "tau_slow": ts, "w_slow": w} for ts in (5.0, 15.0, 40.0) for w in (0.02, 0.05, 0.1, 0.3)]
    return out


def run_case(case: dict, steps: int, trials: int, units: int, seed: int) -> list[dict]:
    taus = [case["tau_fast"]] if case["w_slow"] == 0 else [case["tau_fast"], case["tau_slow"]]
    weights = [1.0] if case["w_slow"] == 0 else [1 - case["w_slow"], case["w_slow"]]
    x = ar1_mixture(taus, weights, steps, trials, units, seed=seed)
    ac = autocorrelation(x, 200, per_trial=True)
    rows = []
    for method in ("parsimonious", "paper"):
        t0 = time.perf_counter()
        table = fit_timescales(ac, 30, method)
        double = table["model"].to_numpy() == 2
        rows.append({
            **case, "method": method, "units": units,
            "share_double": float(double.mean()),
            "slow_tau_median": float(np.median(table["tau_slow"][double])) if double.any() else np.nan,
            "slow_weight_median": float(np.median(1 - table["c_fast"][double])) if double.any() else np.nan,
            "tau_net_median": float(table["tau_net"].median()),
            "fit_s": time.perf_counter() - t0,
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the table here (CSV)")
    args = parser.parse_args()
    rows = []
    for k, case in enumerate(cases()):
        rows += run_case(case, args.steps, args.trials, args.units, args.seed + k)
        last = rows[-2:]
        truth = ("one timescale" if case["w_slow"] == 0 else
                 f"slow {case['tau_slow']:g} at weight {case['w_slow']:g}")
        print(f"fast {case['tau_fast']:>4g}, {truth:<28}" + "".join(
            f" | {r['method'][:5]}: 2-exp {r['share_double']:5.0%}, slow tau {r['slow_tau_median']:6.1f}, "
            f"w {r['slow_weight_median']:4.2f}, tau_net {r['tau_net_median']:6.2f}" for r in last), flush=True)
    table = pd.DataFrame(rows)
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
