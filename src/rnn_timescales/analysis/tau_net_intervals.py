"""Intervals of tau_net for ``analyze`` (docs/timescales.md, "tau_net with its interval").

The trials of a simulation are independent, so the sampling distribution of the trial-averaged
autocorrelation is estimated by resampling trials with replacement; each resample is fitted and
selected exactly as the point estimate (:func:`rnn_timescales.analysis.timescales.fit_timescales`,
all neurons and resamples in one batched fit), and the interval of tau_net is the percentile
interval of the resampled values. With the paper's 10 trials the interval is a rough one (a
bootstrap of 10 values understates the spread by about 5 %, and the model choice may flip between
resamples); it says how sure each tau_net is, not more.
"""

from __future__ import annotations

import numpy as np

from rnn_timescales.analysis.timescales import fit_timescales


def tau_net_interval(
    ac: np.ndarray,
    fit_lag: int,
    method: str = "parsimonious",
    n_boot: int = 100,
    level: float = 0.95,
    seed: int = 0,
    bias_correction: str | None = None,
    n_steps: int | None = None,
    max_curves: int = 10_000,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of every unit's tau_net from trial resamples.

    Parameters
    ----------
    ac : array, shape (trials, units, lags)
        Per-trial autocorrelations (lags 0 ... >= fit_lag).
    fit_lag, method, bias_correction, n_steps
        As :func:`fit_timescales`.
    n_boot : int
        Resamples (>= 20).
    level : float
        Confidence level.
    seed : int
    max_curves : int
        Curves fitted per batch (memory: trials x max_curves x (fit_lag + 1) floats).

    Returns
    -------
    low, high : arrays, shape (units,)
        In time steps; NaN with fewer than 2 trials or where fewer than half the resamples gave
        a tau_net.
    """
    ac = np.asarray(ac, dtype=np.float64)
    if ac.ndim != 3:
        raise ValueError(f"ac must have shape (trials, units, lags), got {ac.shape}")
    if n_boot < 20:
        raise ValueError(f"n_boot must be at least 20, got {n_boot}")
    n_trials, n_units = ac.shape[:2]
    nan = np.full(n_units, np.nan)
    if n_trials < 2:
        return nan, nan.copy()
    ac = ac[..., : fit_lag + 1]
    idx = np.random.default_rng(seed).integers(0, n_trials, (n_boot, n_trials))
    out = np.empty((n_boot, n_units))
    per = max(1, max_curves // max(n_units, 1))
    for b0 in range(0, n_boot, per):
        sel = ac[idx[b0 : b0 + per]]  # (b, trials, units, lags)
        b = sel.shape[0]
        curves = sel.transpose(1, 0, 2, 3).reshape(n_trials, b * n_units, -1)
        table = fit_timescales(curves, fit_lag, method, bias_correction=bias_correction, n_steps=n_steps)
        out[b0 : b0 + b] = table["tau_net"].to_numpy().reshape(b, n_units)
    enough = np.isfinite(out).mean(0) >= 0.5
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low, high = np.nanquantile(out, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return np.where(enough, low, np.nan), np.where(enough, high, np.nan)


__all__ = ["tau_net_interval"]
