"""The model fits of one revision against another's on the same curves (docs/timescales.md, "Side
by side with the field": what moved the estimates when the larger models' fits became cheaper).

    python benchmarks/timescales_fit_compare.py --save /tmp/new.npz
    python benchmarks/timescales_fit_compare.py --save /tmp/new120.npz --grid2 120   # 120 grid points for 2exp
    PYTHONPATH=OLD_CHECKOUT/src python benchmarks/timescales_fit_compare.py --save /tmp/old.npz
    python benchmarks/timescales_fit_compare.py --compare /tmp/old.npz /tmp/new.npz

Fits, by ordinary least squares, the trial-averaged autocorrelations (lags 0 ... 100) of 200
seeded data sets (100 trials x 500 steps) per case with one model: an oscillation ("osc") on AR(2)
data and on two-timescale data (where it does not hold), "1exp+osc" on AR(2) data and on AR(2) +
OU data (tau 5 and 60, 100 sets each; where it holds), two exponentials on the coverage
benchmark's two-timescale data. ``--compare A B`` prints, per fit, in how many the residual of B
is lower and higher than A's (by more than 1e-9 relative), the 90th percentile and the extremes of
B / A - 1, and the median relative change of the fitted timescales. Uses only
``fit_model`` and the data generators, so that it runs against earlier revisions too.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from threadpoolctl import threadpool_limits

from rnn_timescales.analysis.acf_models import fit_model
from rnn_timescales.analysis.autocorrelation import autocorrelation
from rnn_timescales.analysis.synthetic import ar2_process, ou_process

N_STEPS, N_TRIALS, MAX_LAG = 500, 100, 100


def curves(name: str) -> np.ndarray:
    """The 200 data sets' trial-averaged autocorrelations of a case, (200, MAX_LAG + 1)."""
    if name == "ar2":
        x = ar2_process(20.0, 25.0, N_STEPS, N_TRIALS, 200, seed=11)
    elif name == "two_tau":
        x = ou_process([5.0, 80.0], [0.4, 0.6], N_STEPS, N_TRIALS, 200, seed=12)
    elif name == "ar2_plus_ou":
        a = ar2_process(20.0, 25.0, N_STEPS, N_TRIALS, 200, seed=13)
        x = a / a.std() + np.concatenate([ou_process([tau], None, N_STEPS, N_TRIALS, 100, seed=14 + i)
                                          for i, tau in enumerate((5.0, 60.0))], axis=2)
    else:
        raise ValueError(name)
    return autocorrelation(x.astype(np.float64), MAX_LAG)


FITS = {  # name -> (case, model, oscillation)
    "osc on AR(2)": ("ar2", "osc", False),
    "osc on two timescales (does not hold)": ("two_tau", "osc", False),
    "1exp+osc on AR(2) (one part too many)": ("ar2", "1exp", True),
    "1exp+osc on AR(2) + OU (holds)": ("ar2_plus_ou", "1exp", True),
    "2exp on two timescales": ("two_tau", "2exp", False),
}


def save(path: str, grid2: int | None) -> None:
    out, cache = {}, {}
    with threadpool_limits(limits=1, user_api="blas"):
        for name, (case, model, osc) in FITS.items():
            y = cache.setdefault(case, curves(case))
            f = fit_model(y, N_STEPS, model, osc, grid=grid2 if model == "2exp" else None)
            taus = np.concatenate([f.taus, f.osc[:, 1:3] if f.osc is not None else np.zeros((len(y), 0))], 1)
            out[name] = np.column_stack([f.rss, taus])
    np.savez(path, **out)


def compare(a_path: str, b_path: str) -> None:
    a, b = np.load(a_path), np.load(b_path)
    for name in a.files:
        d = b[name][:, 0] / a[name][:, 0] - 1
        moved = np.nanmedian(np.abs(b[name][:, 1:] / a[name][:, 1:] - 1), axis=0)
        print(json.dumps({"fit": name, "sets": len(d), "b_lower": int((d < -1e-9).sum()), "b_higher": int((d > 1e-9).sum()),
                          "p90": round(float(np.quantile(d, 0.9)), 5), "max": round(float(d.max()), 5),
                          "min": round(float(d.min()), 5), "median_parameter_change": [round(float(v), 5) for v in moved]}))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--save", help="write this revision's fits (.npz)")
    p.add_argument("--grid2", type=int, help="grid points for the two-timescale model (default: the model's)")
    p.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two saved fits")
    args = p.parse_args()
    if args.save:
        save(args.save, args.grid2)
    if args.compare:
        compare(*args.compare)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
