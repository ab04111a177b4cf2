"""The models' building blocks: the expected value of the measured autocorrelation for a given
autocovariance, and its closed forms for an exponential, a damped cosine and white noise
(docs/timescales.md; :mod:`rnn_timescales.analysis.acf_models` fits sums of them).

Everything is in time steps.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


def expected_estimate(gamma: np.ndarray, n_steps: int, max_lag: int, n_mean: int = 1) -> np.ndarray:
    """Expected value of the mean-subtracted, n - k normalised autocorrelation estimate.

    With the mean taken over ``n_mean`` independent trials of n steps (1: each trial's own mean;
    R: the mean of all R trials, ``mean="global"``) every correction term is divided by n_mean:
    E[x_t m] = g(t) / (R n) and E[m^2] = G / (R n^2) when only the own trial correlates.

    Parameters
    ----------
    gamma : array, shape (..., n_steps)
        True autocovariance at lags 0 ... n_steps - 1.
    n_steps : int
        Samples per trial, n.
    max_lag : int
        Largest lag returned.
    n_mean : int
        Trials in the subtracted mean.

    Returns
    -------
    array, shape (..., max_lag + 1)
    """
    gamma = np.asarray(gamma, dtype=np.float64)
    n = int(n_steps)
    if gamma.shape[-1] != n:
        raise ValueError(f"gamma needs lags 0..{n - 1}, got {gamma.shape[-1]}")
    cum = np.cumsum(gamma, axis=-1)  # Gamma(m) = sum_{j<=m} gamma_j
    # g(t) = sum_{j<=t} gamma_j + sum_{1<=j<=n-1-t} gamma_j
    g = cum + cum[..., ::-1] - 2 * gamma[..., :1]
    g = g + gamma[..., :1]
    pre = np.concatenate([np.zeros(g.shape[:-1] + (1,)), np.cumsum(g, axis=-1)], axis=-1)  # P(m), m = 0..n
    big = pre[..., n : n + 1]
    k = np.arange(max_lag + 1)
    return gamma[..., k] - ((pre[..., n - k] + big - pre[..., k]) / (n * (n - k)) - big / n**2) / n_mean


def exp_basis(taus: np.ndarray, n_steps: int, max_lag: int, n_mean: int = 1) -> np.ndarray:
    """b(tau): expected estimate of a unit-variance process with autocorrelation exp(-k / tau).

    taus: any shape, in steps (> 0) -> array of shape taus.shape + (max_lag + 1,).

    :func:`expected_estimate` applied to gamma_k = r^k, r = exp(-1 / tau), in closed form (O(max_lag)
    per timescale instead of O(n_steps)): g(t) = S(t) + S(n-1-t) - 1 with S(m) = (1 - r^(m+1)) / (1 - r),
    so P(m) = sum_{t<m} g(t) = (2m - (r + r^(n-m+1)) (1 - r^m) / (1 - r)) / (1 - r) - m; the powers are
    taken through expm1 so that long timescales (r near 1) keep their precision."""
    taus = np.asarray(taus, dtype=np.float64)
    return _geometric_basis(1.0 / taus, n_steps, max_lag, n_mean).real


def _geometric_basis(rates: np.ndarray, n_steps: int, max_lag: int, n_mean: int = 1) -> np.ndarray:
    """Expected estimate of gamma_k = exp(-rate k) for real or complex ``rates`` (any shape), the
    closed form of :func:`exp_basis`; a complex rate 1/tau - 2 pi i f gives the damped cosine as the
    real part. Returns rates.shape + (max_lag + 1,), complex when the rates are."""
    rates = np.asarray(rates)
    n = int(n_steps)
    inv = rates.reshape(-1, 1)  # (T, 1)
    q = -np.expm1(-inv)  # 1 - r
    r1 = np.exp(-inv)

    def pre(m: np.ndarray) -> np.ndarray:  # P(m), m an array of counts 0..n
        one_minus_rm = -np.expm1(-m * inv)
        return (2 * m - (r1 + np.exp(-(n - m + 1) * inv)) * one_minus_rm / q) / q - m

    big = pre(np.array([float(n)]))
    if np.iscomplexobj(inv):
        return _complex_basis(inv, q, r1, big, n, max_lag, n_mean).reshape(rates.shape + (max_lag + 1,))
    k = np.arange(max_lag + 1, dtype=np.float64)
    # P(n - k) - P(k) from three exponentials of (T, L) instead of five: r^k, 1 - r^k and
    # 1 - r^(n-k) (the last two through expm1), with r^(k+1) = r r^k and r^(n-k+1) = r (1 - (1 - r^(n-k)))
    rk = np.exp(-k * inv)
    low_k = -np.expm1(-k * inv)  # 1 - r^k
    low_nk = -np.expm1(-(n - k) * inv)  # 1 - r^(n-k)
    diff = (2 * (n - 2 * k) - r1 * ((1 + rk) * low_nk - (2 - low_nk) * low_k) / q) / q - (n - 2 * k)
    out = rk - ((diff + big) / (n * (n - k)) - big / n**2) / n_mean
    return out.reshape(rates.shape + (max_lag + 1,))


def _complex_basis(inv: np.ndarray, q: np.ndarray, z: np.ndarray, big: np.ndarray, n: int, max_lag: int,
                   n_mean: int = 1) -> np.ndarray:
    """The closed form of :func:`_geometric_basis` for complex rates (|rate| >= 2 pi / max_lag for
    an oscillation, so no cancellation to guard against). With P(n - k) - P(k) = (2/q - 1)(n - 2k)
    - 2 z (z^k - z^(n-k)) / q^2 the estimate is

        z^k (1 + e a_k / R) - e a_k z^(n-k) / R - ((2/q - 1)(n - 2k) a_k + G (a_k - 1/n^2)) / R,

    a_k = 1 / (n (n - k)), e = 2 z / q^2, R = n_mean; every power z^k from one cumulative product
    z^0 ... z^max_lag and z^(n-k) = z^(n-L) z^(L-k) from the same (complex exponentials are ten
    times dearer than products)."""
    zk = np.cumprod(np.concatenate([np.ones_like(z), np.broadcast_to(z, (len(z), max_lag))], 1), axis=1)  # z^k
    k = np.arange(max_lag + 1, dtype=np.float64)
    a = 1.0 / (n * (n - k))
    e = (2 * z / (q * q)) / n_mean  # (T, 1)
    ea = e * a
    out = zk * (1 + ea)
    out -= ea * (np.exp(-(n - max_lag) * inv) * zk[:, ::-1])
    out -= ((2 / q - 1) * ((n - 2 * k) * a) + big * (a - 1.0 / n**2)) / n_mean
    return out


def osc_basis(taus: np.ndarray, freqs: np.ndarray, n_steps: int, max_lag: int, n_mean: int = 1) -> np.ndarray:
    """Expected estimate of exp(-k / tau) cos(2 pi f k) (f in cycles per step); broadcasts.

    The real part of :func:`exp_basis` at the complex rate 1/tau - 2 pi i f (the map gamma -> E[C]
    is linear and real), so O(max_lag) per oscillation at any trial length."""
    taus, freqs = np.broadcast_arrays(np.asarray(taus, float), np.asarray(freqs, float))
    return _geometric_basis(1.0 / taus - 2j * np.pi * freqs, n_steps, max_lag, n_mean).real


def osc_sin_basis(taus: np.ndarray, freqs: np.ndarray, n_steps: int, max_lag: int, n_mean: int = 1) -> np.ndarray:
    """Expected estimate of exp(-|k| / tau) sin(2 pi f |k|), the damped oscillation's phase term
    (an AR(2) process has autocorrelation r^k (cos wk + c sin wk)); broadcasts. The imaginary
    part of the complex rate's basis (the map gamma -> E[C] uses gamma at lags >= 0 only)."""
    taus, freqs = np.broadcast_arrays(np.asarray(taus, float), np.asarray(freqs, float))
    return _geometric_basis(1.0 / taus - 2j * np.pi * freqs, n_steps, max_lag, n_mean).imag


def osc_pair(taus: np.ndarray, freqs: np.ndarray, n_steps: int, max_lag: int, n_mean: int = 1) -> np.ndarray:
    """The cosine and sine bases of :func:`osc_basis` and :func:`osc_sin_basis` from one complex
    evaluation, shape taus.shape + (2, max_lag + 1)."""
    taus, freqs = np.broadcast_arrays(np.asarray(taus, float), np.asarray(freqs, float))
    z = _geometric_basis(1.0 / taus - 2j * np.pi * freqs, n_steps, max_lag, n_mean)
    return np.stack([z.real, z.imag], -2)


def white_basis(n_steps: int, max_lag: int, n_mean: int = 1) -> np.ndarray:
    """Expected estimate of white noise of unit variance, shape (max_lag + 1,)."""
    gamma = np.zeros(n_steps)
    gamma[0] = 1.0
    return expected_estimate(gamma, n_steps, max_lag, n_mean)


def tau_grid(n_steps: int, size: int, tau_min: float = 0.2) -> np.ndarray:
    """Log-spaced timescales from ``tau_min`` to 4 n_steps (steps): beyond that a trial holds no
    information on the timescale."""
    return np.geomspace(tau_min, 4.0 * n_steps, size)


TABLE_POINTS = 4096  # exp_basis tabulated on this many log-spaced timescales for the refinements


@lru_cache(maxsize=8)
def _exp_table(n_steps: int, max_lag: int, tau_min: float, tau_max: float, n_mean: int = 1) -> np.ndarray:
    """exp_basis on TABLE_POINTS log-spaced timescales from tau_min to tau_max, (T, max_lag + 1)."""
    return exp_basis(np.geomspace(tau_min, tau_max, TABLE_POINTS), n_steps, max_lag, n_mean)


def _table_basis(taus: np.ndarray, n_steps: int, max_lag: int, tau_min: float, tau_max: float,
                 n_mean: int = 1) -> np.ndarray:
    """exp_basis(taus) by linear interpolation in log tau of :func:`_exp_table` (spacing below 0.005
    in log tau, so a relative error below 1e-5; ten times cheaper than the closed form)."""
    table = _exp_table(int(n_steps), int(max_lag), float(tau_min), float(tau_max), int(n_mean))
    return _interpolate(table, *_table_position(taus, tau_min, tau_max))


def _interpolate(rows: np.ndarray, i: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Rows of a table (T, ...) between row ``i`` and ``i + 1`` with weight ``f`` on the latter (as
    :func:`_table_position` gives them): shape i.shape + rows.shape[1:]."""
    return rows[i] * (1 - f) + rows[i + 1] * f


def _table_position(taus: np.ndarray, tau_min: float, tau_max: float) -> tuple[np.ndarray, np.ndarray]:
    """Where ``taus`` fall in :func:`_exp_table`: the row below (int, taus.shape) and the weight of
    the row above (taus.shape + (1,)), for the linear interpolation of :func:`_table_basis`."""
    pos = (np.log(taus) - np.log(tau_min)) / np.log(tau_max / tau_min) * (TABLE_POINTS - 1)
    i = np.clip(np.floor(pos).astype(int), 0, TABLE_POINTS - 2)
    return i, np.clip(pos - i, 0.0, 1.0)[..., None]


TABLE_RANK_TOL = 1e-15  # singular values of the table kept by _table_factors, relative to the largest


@lru_cache(maxsize=8)
def _table_factors(n_steps: int, max_lag: int, tau_min: float, tau_max: float,
                   n_mean: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_exp_table` as a product ``coef @ basis``, coef (T, r), basis (r, max_lag + 1)
    orthonormal rows: its singular value decomposition truncated below TABLE_RANK_TOL of the
    largest singular value. Exponentials over a few hundred lags span few dimensions (r = 25 ... 46
    for 40 ... 1 000 lags; every row reproduced within 1e-13 of its largest entry), so a row is
    whitened as ``coef[i] @ (basis @ W.T)``: r products per lag instead of max_lag + 1."""
    table = _exp_table(n_steps, max_lag, tau_min, tau_max, n_mean)
    # the span from every 16th row (256 rows, the rest lie in it to rounding: the table is smooth
    # in log tau), then every row's coefficients by projection
    _, s, vt = np.linalg.svd(table[::16], full_matrices=False)
    basis = vt[: int((s > TABLE_RANK_TOL * s[0]).sum())]
    return table @ basis.T, basis


@lru_cache(maxsize=8)
def _table_dots(n_steps: int, max_lag: int, tau_min: float, tau_max: float,
                n_mean: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Squared norms of the rows of :func:`_exp_table` and their products with white noise."""
    table = _exp_table(n_steps, max_lag, tau_min, tau_max, n_mean)
    return (table * table).sum(1), table @ white_basis(n_steps, max_lag, n_mean)


__all__ = ["TABLE_POINTS", "exp_basis", "expected_estimate", "osc_basis", "osc_pair", "osc_sin_basis", "tau_grid",
           "white_basis"]
