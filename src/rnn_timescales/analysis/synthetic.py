"""Processes with known timescales, to measure the bias and selection errors of the estimator.

AR(1): x_t = r x_{t-1} + sqrt(1 - r^2) e_t, r = exp(-1/tau), e_t ~ N(0, 1) — the sampled
Ornstein-Uhlenbeck process with unit stationary variance and autocorrelation exp(-|k| / tau).
A mixture of independent AR(1) processes with variance weights w_j (summing to 1) has
autocorrelation sum_j w_j exp(-|k| / tau_j).

Arrays are time-major: ``(time, trials, units)``, float32 to match simulated activity.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from scipy.signal import lfilter


def ar1(
    tau: float | Sequence[float] | np.ndarray,
    n_steps: int,
    n_trials: int = 1,
    n_units: int | None = None,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Stationary AR(1) series with timescale ``tau`` (time steps), started from the stationary law.

    Parameters
    ----------
    tau : float or array of shape (units,)
        Timescale of each unit, > 0.
    n_steps, n_trials : int
    n_units : int, optional
        Number of units when ``tau`` is a scalar (default 1).
    seed : int or Generator

    Returns
    -------
    x : array, shape (n_steps, n_trials, units), float32, unit variance
    """
    tau = np.atleast_1d(np.asarray(tau, dtype=np.float64))
    if n_units is not None:
        if tau.size == 1:
            tau = np.full(n_units, tau[0])
        elif tau.size != n_units:
            raise ValueError(f"tau has {tau.size} values but n_units is {n_units}")
    if not (tau > 0).all():
        raise ValueError("every tau must be positive")
    if n_steps < 1 or n_trials < 1:
        raise ValueError(f"n_steps and n_trials must be >= 1, got {n_steps}, {n_trials}")
    rng = np.random.default_rng(seed)
    out = np.empty((n_steps, n_trials, tau.size), dtype=np.float32)
    for j, tj in enumerate(tau):
        r = np.exp(-1.0 / tj)
        noise = rng.standard_normal((n_steps, n_trials))
        noise *= np.sqrt(1.0 - r * r)
        noise[0] = rng.standard_normal(n_trials)  # x_0 from the stationary law
        out[:, :, j] = lfilter([1.0], [1.0, -r], noise, axis=0)
    return out


def ar1_mixture(
    taus: Sequence[float],
    weights: Sequence[float] | None,
    n_steps: int,
    n_trials: int = 1,
    n_units: int = 1,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Sum of independent AR(1) processes: autocorrelation sum_j w_j exp(-|k| / tau_j).

    Parameters
    ----------
    taus : sequence of float
        Timescales of the components (time steps).
    weights : sequence of float, optional
        Share of the variance of each component (normalised to sum 1; default equal).

    Returns
    -------
    x : array, shape (n_steps, n_trials, n_units), float32, unit variance
    """
    taus = np.asarray(taus, dtype=np.float64)
    w = np.full(taus.size, 1.0 / taus.size) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != taus.shape or (w < 0).any() or w.sum() <= 0:
        raise ValueError("weights must be non-negative, one per timescale, not all zero")
    w = w / w.sum()
    rng = np.random.default_rng(seed)
    out = np.zeros((n_steps, n_trials, n_units), dtype=np.float32)
    for tj, wj in zip(taus, w):
        out += np.float32(np.sqrt(wj)) * ar1(tj, n_steps, n_trials, n_units, seed=rng)
    return out
