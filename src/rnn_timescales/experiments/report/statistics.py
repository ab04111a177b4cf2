"""The report's statistics: mean and spread across runs, curves of the largest N solved on a common
grid, quantiles of per-neuron values, and the paper's aggregation of tau_net."""

from __future__ import annotations

import numpy as np
import pandas as pd

SPREADS = ("sem", "bootstrap")
CARRY_STOPS = ("target_n", "target_level", "solved", "heads_exhausted")
"""Stop reasons after which a run keeps its final N to the right of its end (it reached its goal)."""
ONE_STEP = 1.0
BOOTSTRAP_RESAMPLES = 2000


def spread_interval(values: np.ndarray, spread: str, seed: int = 0) -> tuple[float, float, float, int]:
    """(mean, lo, hi, n) of the finite ``values``. ``spread``: ``sem`` (mean ± s.e.m., ddof 1),
    ``sd`` (mean ± s.d., ddof 0, as the paper's notebooks), ``bootstrap`` (95 % percentile interval
    of the mean over 2000 resamples drawn with ``seed``). One value: lo = hi = mean."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    mean = float(v.mean())
    if n == 1:
        return mean, mean, mean, 1
    if spread == "sem":
        e = float(v.std(ddof=1) / np.sqrt(n))
        return mean, mean - e, mean + e, n
    if spread == "sd":
        e = float(v.std(ddof=0))
        return mean, mean - e, mean + e, n
    if spread == "bootstrap":
        rng = np.random.default_rng(seed)
        means = v[rng.integers(0, n, size=(BOOTSTRAP_RESAMPLES, n))].mean(axis=1)
        lo, hi = np.quantile(means, [0.025, 0.975])
        return mean, float(lo), float(hi), n
    raise ValueError(f"spread must be one of sem, sd, bootstrap, got {spread!r}")


def aggregate(table: pd.DataFrame, by: list[str], value: str, spread: str) -> pd.DataFrame:
    """One row per group of ``by``: ``by..., mean, lo, hi, n`` of ``value`` across the group's rows
    (each row one network), in the order the groups first appear."""
    rows = []
    for key, g in table.groupby(by, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        mean, lo, hi, n = spread_interval(g[value].to_numpy(), spread)
        if n:
            rows.append({**dict(zip(by, key)), "mean": mean, "lo": lo, "hi": hi, "n": n})
    return pd.DataFrame(rows, columns=[*by, "mean", "lo", "hi", "n"])


def solved_curves(metrics: pd.DataFrame, n_start: dict[str, int]) -> pd.DataFrame:
    """Largest N solved after each epoch, per run: ``run, epoch, wall_time_s, n_solved``, starting
    with epoch 0 at time 0 and n_start - 1. ``metrics``: the runs' metrics.csv rows with ``run``."""
    parts = []
    for run, m in metrics.groupby("run", sort=False):
        m = m.sort_values("epoch")
        base = n_start.get(run, 2) - 1
        solved = np.where(m["solved"].astype(bool), m["n_max"], base)
        parts.append(pd.DataFrame({"run": run, "epoch": np.r_[0, m["epoch"]], "wall_time_s": np.r_[0.0, m["wall_time_s"]],
                                   "n_solved": np.maximum.accumulate(np.r_[base, solved])}))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["run", "epoch", "wall_time_s", "n_solved"])


def curve_on_grid(curves: pd.DataFrame, x: str, grid: np.ndarray, carry: set[str]) -> pd.DataFrame:
    """Each run's step curve of ``n_solved`` against ``x`` read at ``grid``: ``run, <x>, value``.
    Past its last point a run in ``carry`` keeps its final value; any other run has none there."""
    parts = []
    for run, c in curves.groupby("run", sort=False):
        xs, ys = c[x].to_numpy(float), c["n_solved"].to_numpy(float)
        idx = np.searchsorted(xs, grid, side="right") - 1
        value = np.where(idx >= 0, ys[np.clip(idx, 0, None)], np.nan)
        if run not in carry:
            value = np.where(grid > xs[-1], np.nan, value)
        parts.append(pd.DataFrame({"run": run, x: grid, "value": value}))
    return pd.concat(parts, ignore_index=True)


QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


def neuron_quantiles(neurons: pd.DataFrame, value: str, above: float | None = None) -> pd.DataFrame:
    """The distribution of ``value`` over neurons per condition and N, pooled over the condition's
    networks: ``condition, n_max, q10, q25, q50, q75, q90, neurons`` (the count used). ``above``:
    keep only neurons whose value exceeds it (e.g. tau_net > 1 step). ``neurons``: one row per
    neuron with ``condition, n_max`` and ``value``."""
    cols = ["condition", "n_max", *(f"q{round(100 * q)}" for q in QUANTILES), "neurons"]
    if neurons.empty or value not in neurons:
        return pd.DataFrame(columns=cols)
    rows = []
    for (condition, n_max), g in neurons.groupby(["condition", "n_max"], sort=False):
        v = g[value].to_numpy(float)
        v = v[np.isfinite(v)]
        if above is not None:
            v = v[v > above]
        if v.size:
            rows.append([condition, n_max, *np.quantile(v, QUANTILES), int(v.size)])
    return pd.DataFrame(rows, columns=cols).sort_values(["condition", "n_max"], kind="stable").reset_index(drop=True)


def share_below_one_step(neurons: pd.DataFrame) -> pd.DataFrame:
    """Per network (run) and N: the share of neurons with tau_net <= 1 step among those with a
    finite tau_net: ``condition, run, n_max, share``."""
    t = neurons.dropna(subset=["tau_net"])
    share = (t["tau_net"] <= ONE_STEP).groupby([t["condition"], t["run"], t["n_max"]], sort=False).mean()
    return share.rename("share").reset_index()


def paper_tau_net(neurons: pd.DataFrame) -> pd.DataFrame:
    """The paper's per-network tau_net: for each checkpoint (``n_max``), the mean tau_net of the
    neurons with tau_net > 1 step: ``n_max, value, kept, neurons`` (value NaN if none is kept)."""
    rows = []
    for n_max, g in neurons.groupby("n_max", sort=True):
        t = g["tau_net"].to_numpy(float)
        keep = t[np.isfinite(t) & (t > ONE_STEP)]
        rows.append({"n_max": n_max, "value": float(keep.mean()) if keep.size else np.nan, "kept": int(keep.size),
                     "neurons": int(t.size)})
    return pd.DataFrame(rows, columns=["n_max", "value", "kept", "neurons"])
