"""Side by side with the field's fast methods, one protocol for every method (docs/timescales.md,
"Side by side with the field").

    pip install mrestimator fooof                  # benchmark-only (the extra "field")
    python benchmarks/timescales_field.py --sets 60 --csv docs/figures/timescales/field_comparison.csv \
        --figure docs/figures/timescales/field_comparison.png --markdown /tmp/field_table.md

Cases (each data set one unit of trials x steps, drawn with its own seed): OU at tau = 5, 20, 100
(100 x 500) and tau = 20 with little data (20 x 200); two timescales (5, 80; the slow one is scored);
Poisson counts of a rectified OU rate (tau = 20); a damped oscillation (AR(2), decay 20, period 25;
the decay is scored). Methods:

- ours: ``estimate_timescales`` (the data sets of a case as units of one call), 95 % intervals,
  with the defaults (``fit="gls"``: generalised least squares with the exact finite-trial
  covariance; ``mean="auto"``: the mean of all trials unless a unit's trial means differ or drift,
  docs/timescales.md), with ``mean="trial"`` (each trial's own mean, the definition of
  docs/science.md), with ``fit="gls-bartlett"`` (Bartlett's asymptotic covariance, the first
  weighting) and with ``fit="ols"`` (every lag weighted equally: the fit before generalised least
  squares); ``--fits`` picks which;
- MR estimator (``mrestimator``): multistep-regression coefficients of lags 1 ... max_lag
  (stationary-mean method), exponential fit;
- spectral knee (``fooof``, aperiodic mode "knee"): the trial-averaged periodogram, tau =
  1 / (2 pi knee^(1 / exponent)) (Gao et al. 2020).

abcTau (aABC) is not run here (minutes to hours per data set): benchmarks/abctau_field.py runs it on
some of these data sets under a CPU limit (docs/timescales.md, "Side by side with abcTau").
Per method and case: median and 90th percentile of |relative error|, coverage of the 95 % interval
(ours only: the others give none), CPU seconds per data set, the least of ``--repeats`` (3) runs of
the case (all methods run one after another in this process, each case after an untimed warm-up of
every method on two of its data sets, ours with each kind of mean, so the ratio between methods is
what to read on a loaded machine).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import periodogram

from rnn_timescales.analysis.inference import default_max_lag, estimate_timescales
from rnn_timescales.analysis.synthetic import FIELD_CASES


CASES = FIELD_CASES  # name -> (truth scored, trials, steps, kind, generate(n, trials, steps, rng))


def ours(x: np.ndarray, kind: str, mean: str = "auto", fit: str = "gls") -> tuple[np.ndarray, np.ndarray, float]:
    """Slowest decay (timescale, or the oscillation's decay) and its interval per unit; CPU s per unit."""
    t0 = time.process_time()
    est = estimate_timescales(x, kind=kind, mean=mean, fit=fit, seed=0)
    secs = (time.process_time() - t0) / x.shape[2]
    return (*slowest_decay(est), secs)


def slowest_decay(est) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's slowest timescale (an oscillation's decay where it has no exponential) and its
    interval, (U,) and (U, 2); NaN where the model is "none"."""
    tau, ci = np.full(len(est.units), np.nan), np.full((len(est.units), 2), np.nan)
    for i, u in enumerate(est.units):
        if u["oscillation"] is not None and not u["timescales"]:
            tau[i], ci[i] = u["oscillation"]["decay"], u["oscillation"]["decay_interval"]
        elif u["timescales"]:
            tau[i], ci[i] = u["timescales"][-1], u["intervals"][-1]
    return tau, ci


def mr_estimator(x: np.ndarray) -> tuple[np.ndarray, float]:
    import mrestimator as mre

    logging.getLogger("mrestimator").setLevel(logging.ERROR)
    out = np.full(x.shape[2], np.nan)
    t0 = time.process_time()
    lag = default_max_lag(x.shape[0])
    for u in range(x.shape[2]):
        try:
            rk = mre.coefficients(x[:, :, u].T, steps=(1, lag), method="sm", dt=1, dtunit="step", description="")
            out[u] = mre.fit(rk, fitfunc="exponential", numboot=0, description="").tau
        except Exception:  # a failed fit counts as a miss (NaN)
            pass
    return out, (time.process_time() - t0) / x.shape[2]


def spectral_knee(x: np.ndarray) -> tuple[np.ndarray, float]:
    from fooof import FOOOF

    out = np.full(x.shape[2], np.nan)
    t0 = time.process_time()
    for u in range(x.shape[2]):
        f, p = periodogram(x[:, :, u], fs=1.0, axis=0)
        p = p.mean(1)
        fm = FOOOF(aperiodic_mode="knee", max_n_peaks=3, verbose=False)
        fm.fit(f[1:], p[1:], [f[1], 0.4])
        _, knee, expo = fm.aperiodic_params_
        if knee > 0 and expo > 0:
            out[u] = 1.0 / (2 * np.pi * knee ** (1.0 / expo))
    return out, (time.process_time() - t0) / x.shape[2]


def repeated(method, x: np.ndarray, repeats: int):
    """``method(x)`` run ``repeats`` times: the first run's results with the least CPU seconds per
    unit of all runs (the usual reading of a timing on a shared machine: interference only adds)."""
    first = method(x)
    secs = min([first[-1]] + [method(x)[-1] for _ in range(repeats - 1)])
    return (*first[:-1], secs)


def score(name: str, method: str, est: np.ndarray, truth: float, secs: float, ci: np.ndarray | None = None) -> dict:
    err = np.abs(est / truth - 1)
    err = np.where(np.isfinite(err), err, 1e9)  # no estimate: an error of 1e9
    row = {"case": name, "method": method, "median_rel_error": float(np.median(err)),
           "p90_rel_error": float(np.quantile(err, 0.9)), "failed": float(np.mean(err >= 1e9)), "cpu_s_per_unit": secs,
           "coverage": float(np.mean((ci[:, 0] <= truth) & (truth <= ci[:, 1]))) if ci is not None else np.nan}
    return row


def markdown(table: pd.DataFrame) -> str:
    """The table as docs/timescales.md shows it: median (p90) error, coverage, CPU ms per data set
    and its ratio to the fastest method of the case."""
    fastest = table.groupby("case")["cpu_s_per_unit"].transform("min")
    lines = ["| case (scored truth) | method | \\|relative error\\| median (p90) | coverage of 95 % intervals | "
             "CPU ms per data set | × the fastest |", "|---|---|---|---|---|---|"]
    for r, ratio in zip(table.itertuples(), table["cpu_s_per_unit"] / fastest):
        if r.failed >= 0.5:
            err = f"fails (fails); no estimate in {100 * r.failed:.0f} %"
        else:
            err = f"{100 * r.median_rel_error:.1f} % ({100 * r.p90_rel_error:.1f} %)"
            err += f"; no estimate in {100 * r.failed:.0f} %" if r.failed > 0 else ""
        cov = "–" if np.isnan(r.coverage) else f"{r.coverage:.2f}"
        lines.append(f"| {r.case} | {r.method} | {err} | {cov} | {1e3 * r.cpu_s_per_unit:.1f} | {ratio:.1f} |")
    return "\n".join(lines) + "\n"


def figure(table: pd.DataFrame, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases, methods = list(dict.fromkeys(table["case"])), list(dict.fromkeys(table["method"]))
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.6), gridspec_kw={"width_ratios": [3, 1.2]})
    width = 0.8 / len(methods)
    for i, m in enumerate(methods):
        t = table[table["method"] == m].set_index("case").reindex(cases)
        xs = np.arange(len(cases)) + (i - (len(methods) - 1) / 2) * width
        med = np.minimum(t["median_rel_error"].to_numpy(), 10)
        p90 = np.minimum(t["p90_rel_error"].to_numpy(), 10)
        a.bar(xs, med, width, label=m, color=f"C{i}")
        a.errorbar(xs, med, yerr=[np.zeros_like(med), p90 - med], fmt="none", ecolor="0.3", lw=0.8, capsize=2)
        b.bar(i, t["cpu_s_per_unit"].median() * 1e3, color=f"C{i}")
    a.set_yscale("log")
    a.set_xticks(np.arange(len(cases)), cases, rotation=25, ha="right", fontsize=8)
    a.set_ylabel("|relative error| of the slowest timescale\n(bar: median; whisker: p90, cut at 10)")
    a.legend(fontsize=8)
    b.set_xticks(range(len(methods)), methods, rotation=25, ha="right", fontsize=8)
    b.set_ylabel("CPU ms per unit (median over cases)")
    b.set_yscale("log")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--sets", type=int, default=20, help="data sets per case")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cases", default=";".join(CASES), help="case names separated by ';'")
    p.add_argument("--fits", default="gls,gls-bartlett,ols", help="our fits to run: gls (the default fit, with "
                   "either mean), gls-bartlett (Bartlett's covariance, mean auto) and ols (the former fit, mean auto)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs of every method per case; the least CPU time")
    p.add_argument("--csv")
    p.add_argument("--figure")
    p.add_argument("--markdown", help="write the table as docs/timescales.md shows it")
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    rows = []
    for name in args.cases.split(";"):
        truth, trials, steps, kind, gen = CASES[name]
        g = np.random.default_rng([args.seed, sum(map(ord, name))])
        x = gen(args.sets, trials, steps, g)
        first = len(rows)
        fits = args.fits.split(",")
        # untimed warm-up on two data sets (imports, cached tables, FFT plans), so that the first
        # method of the first case is not charged for them; ours with each kind of mean (its tables
        # depend on it, and mean="auto" may put a case's units under either)
        for method in (lambda y: ours(y, kind, "global"), lambda y: ours(y, kind, "trial"), mr_estimator,
                       spectral_knee):
            method(x[:, :, :2])
        k = args.repeats
        if "gls" in fits:
            tau, ci, secs = repeated(lambda y: ours(y, kind), x, k)
            rows.append(score(name, "ours (95 % intervals)", tau, truth, secs, ci))
            tau, ci, secs = repeated(lambda y: ours(y, kind, "trial"), x, k)
            rows.append(score(name, "ours, mean=trial", tau, truth, secs, ci))
        if "gls-bartlett" in fits:
            tau, ci, secs = repeated(lambda y: ours(y, kind, fit="gls-bartlett"), x, k)
            rows.append(score(name, "ours, fit=gls-bartlett (Bartlett's covariance)", tau, truth, secs, ci))
        if "ols" in fits:
            tau, ci, secs = repeated(lambda y: ours(y, kind, fit="ols"), x, k)
            rows.append(score(name, "ours, fit=ols (before GLS)", tau, truth, secs, ci))
        est, secs = repeated(mr_estimator, x, k)
        rows.append(score(name, "MR estimator", est, truth, secs))
        est, secs = repeated(spectral_knee, x, k)
        rows.append(score(name, "spectral knee (fooof)", est, truth, secs))
        for r in rows[first:]:
            print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}), flush=True)
    table = pd.DataFrame(rows)
    if args.csv:
        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.csv, index=False, float_format="%.4g")
    if args.figure:
        figure(table, args.figure)
    if args.markdown:
        Path(args.markdown).write_text(markdown(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
