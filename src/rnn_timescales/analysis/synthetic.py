"""Processes with known timescales, to measure the bias and selection errors of the estimator.

AR(1): x_t = r x_{t-1} + sqrt(1 - r^2) e_t, r = exp(-1/tau), e_t ~ N(0, 1) — the sampled
Ornstein-Uhlenbeck process with unit stationary variance and autocorrelation exp(-|k| / tau).
A mixture of independent AR(1) processes with variance weights w_j (summing to 1) has
autocorrelation sum_j w_j exp(-|k| / tau_j).

Arrays are time-major: ``(time, trials, units)``, float32 to match simulated activity.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

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


# --- generative models of recorded activity (docs/timescales.md) -------------------------------------
def _as_generator(seed) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def ou_process(
    taus: float | Sequence[float],
    weights: Sequence[float] | None = None,
    n_steps: int = 1000,
    n_trials: int = 1,
    n_units: int = 1,
    dt: float = 1.0,
    oscillation: tuple[float, float, float] | None = None,
    seed: int | np.random.Generator | None = None,
    dtype=np.float64,
) -> np.ndarray:
    """Sum of independent Ornstein-Uhlenbeck processes sampled every ``dt``, exact discretisation.

    Component j follows x_{t+1} = x_t e^{-dt/tau_j} + sqrt(w_j (1 - e^{-2 dt/tau_j})) xi_t,
    xi_t ~ N(0, 1), started from its stationary law N(0, w_j); the sum has unit variance and
    autocorrelation sum_j w_j exp(-|lag| dt / tau_j). The optional damped oscillation is the real
    part of a complex OU process z_{t+1} = z_t e^{-dt/tau_o + 2 pi i f dt} + noise, whose
    autocorrelation is w_o exp(-|lag| dt / tau_o) cos(2 pi f lag dt).

    Parameters
    ----------
    taus : float or sequence of float
        Timescales, in the units of ``dt`` (> 0).
    weights : sequence of float, optional
        Share of the variance of each component (with the oscillation's, normalised to sum 1;
        default equal).
    n_steps, n_trials, n_units : int
        Samples per trial, trials, independent units (all units share the parameters).
    dt : float
        Sampling interval (the unit of ``taus``).
    oscillation : (tau_o, frequency, weight), optional
        Damping timescale (units of dt; ``inf`` for an undamped oscillation with a random phase),
        frequency (cycles per unit of dt) and variance weight of a damped oscillation.
    seed : int or Generator
    dtype : numpy dtype of the result

    Returns
    -------
    x : array, shape (n_steps, n_trials, n_units), zero mean, unit variance
    """
    taus = np.atleast_1d(np.asarray(taus, dtype=np.float64))
    w = np.full(taus.size, 1.0) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != taus.shape or (w < 0).any():
        raise ValueError("weights must be non-negative, one per timescale")
    if not (taus > 0).all() or not np.isfinite(taus).all():
        raise ValueError("every timescale must be positive and finite")
    if n_steps < 1 or n_trials < 1 or n_units < 1 or not dt > 0:
        raise ValueError(f"n_steps, n_trials, n_units must be >= 1 and dt > 0, got {n_steps}, {n_trials}, {n_units}, {dt}")
    w_osc = 0.0 if oscillation is None else float(oscillation[2])
    total = w.sum() + w_osc
    if total <= 0:
        raise ValueError("the weights must not all be zero")
    w, w_osc = w / total, w_osc / total
    rng = _as_generator(seed)
    shape = (n_trials, n_units)
    out = np.zeros((n_steps, *shape), dtype=dtype)
    for tau, wj in zip(taus, w):
        if wj == 0:
            continue
        r = np.exp(-dt / tau)
        s = np.sqrt(wj * (1.0 - r * r))
        noise = rng.standard_normal((n_steps, *shape))
        noise[0] = np.sqrt(wj) * rng.standard_normal(shape)
        noise[1:] *= s
        out += lfilter([1.0], [1.0, -r], noise, axis=0).astype(dtype, copy=False)
    if w_osc > 0:
        tau_o, freq = float(oscillation[0]), float(oscillation[1])
        phase = np.exp(2j * np.pi * freq * dt)
        if np.isinf(tau_o):
            ph0 = rng.uniform(0, 2 * np.pi, shape)
            t = np.arange(n_steps)[:, None, None] * dt
            out += (np.sqrt(2 * w_osc) * np.cos(2 * np.pi * freq * t + ph0)).astype(dtype)
        else:
            r = np.exp(-dt / tau_o) * phase
            s = np.sqrt(w_osc * (1.0 - abs(r) ** 2))  # complex noise of variance s^2 (s^2/2 per part)
            noise = (rng.standard_normal((n_steps, *shape)) + 1j * rng.standard_normal((n_steps, *shape))) / np.sqrt(2)
            noise[0] *= np.sqrt(2 * w_osc)  # stationary: E|z|^2 = 2 w_osc, so Re z has variance w_osc
            noise[1:] *= s * np.sqrt(2)
            out += lfilter([1.0], [1.0, -r], noise, axis=0).real.astype(dtype, copy=False)
    return out


def spike_counts(
    rate_process: np.ndarray,
    mean: float,
    std: float,
    distribution: str = "poisson",
    fano: float = 1.0,
    seed: int | np.random.Generator | None = None,
    rate: str = "rectified",
) -> np.ndarray:
    """Spike counts per bin whose rate follows a unit-variance process (e.g. :func:`ou_process`).

    The rate per bin is lambda_t = max(mean + std * x_t, 0) (expected count in the bin), or with
    ``rate="exp"`` lambda_t = mean exp(std x_t - std^2 / 2) (mean ``mean``; the counts'
    autocovariance is then mean^2 (exp(std^2 rho_k) - 1) at lags k >= 1). Counts are
    Poisson(lambda_t) or gamma-distributed with mean lambda_t and variance ``fano`` * lambda_t
    (shape lambda_t / fano, scale fano; real-valued, as in abcTau's gamma spikes). Given the rate,
    counts in different bins are independent, so the counts' autocovariance is std^2 times the
    autocorrelation of x at every lag, plus fano * mean at lag 0 only (up to the clipping at zero).

    Parameters
    ----------
    rate_process : array, shape (time, ...)
        Zero-mean, unit-variance process.
    mean : float
        Mean count per bin (> 0).
    std : float
        Standard deviation of the rate per bin (>= 0); keep it below about mean / 2 so that the
        rate is rarely clipped at zero.
    distribution : {"poisson", "gamma"}
    fano : float
        Fano factor of the gamma counts (ignored for Poisson).
    seed : int or Generator

    Returns
    -------
    counts : array, same shape as ``rate_process``; int64 for Poisson, float64 for gamma
    """
    if distribution not in ("poisson", "gamma"):
        raise ValueError(f"distribution must be 'poisson' or 'gamma', got {distribution!r}")
    if rate not in ("rectified", "exp"):
        raise ValueError(f"rate must be 'rectified' or 'exp', got {rate!r}")
    if not mean > 0 or not std >= 0 or not fano > 0:
        raise ValueError(f"need mean > 0, std >= 0 and fano > 0, got {mean}, {std}, {fano}")
    rng = _as_generator(seed)
    x = np.asarray(rate_process, dtype=np.float64)
    lam = mean * np.exp(std * x - std**2 / 2) if rate == "exp" else np.maximum(mean + std * x, 0.0)
    if distribution == "poisson":
        return rng.poisson(lam)
    out = np.zeros_like(lam)
    pos = lam > 0
    out[pos] = rng.gamma(lam[pos] / fano, fano)
    return out


def ou_spike_counts(
    taus: float | Sequence[float],
    weights: Sequence[float] | None = None,
    n_steps: int = 1000,
    n_trials: int = 500,
    n_units: int = 1,
    mean: float = 1.0,
    std: float = 0.5,
    distribution: str = "poisson",
    fano: float = 1.0,
    dt: float = 1.0,
    oscillation: tuple[float, float, float] | None = None,
    seed: int | np.random.Generator | None = None,
    rate: str = "rectified",
) -> np.ndarray:
    """Spike counts of ``n_units`` neurons whose rate is an OU mixture: :func:`ou_process` then
    :func:`spike_counts` (``rate`` "rectified" or "exp"). Shape (n_steps, n_trials, n_units)."""
    rng = _as_generator(seed)
    x = ou_process(taus, weights, n_steps, n_trials, n_units, dt, oscillation, seed=rng)
    return spike_counts(x, mean, std, distribution, fano, seed=rng, rate=rate)


def ar2_process(
    decay: float,
    period: float,
    n_steps: int,
    n_trials: int = 1,
    n_units: int = 1,
    seed: int | np.random.Generator | None = None,
    burn_in: int = 300,
) -> np.ndarray:
    """An AR(2) process x_t = 2 r cos(w) x_{t-1} - r^2 x_{t-2} + e_t (e_t ~ N(0, 1)), r =
    exp(-1 / decay), w = 2 pi / period: a damped oscillation whose autocorrelation is
    r^k (cos w k + c sin w k), c = (1 - r^2) / (1 + r^2) cot w (docs/timescales.md, the oscillation
    model). Started from zero and run ``burn_in`` steps before the ones returned (the start's
    transient decays as r^burn_in). Decay and period in steps.

    Returns
    -------
    x : array, shape (n_steps, n_trials, n_units), float64, zero mean
    """
    if not (decay > 0 and period > 2) or n_steps < 1 or n_trials < 1 or n_units < 1 or burn_in < 0:
        raise ValueError(f"need decay > 0, period > 2 and positive sizes, got {decay}, {period}, "
                         f"{n_steps}, {n_trials}, {n_units}, burn_in {burn_in}")
    r, om = np.exp(-1.0 / decay), 2 * np.pi / period
    e = _as_generator(seed).standard_normal((n_steps + burn_in, n_trials, n_units))
    return lfilter([1.0], [1.0, -2 * r * np.cos(om), r * r], e, axis=0)[burn_in:]


class FieldCase(NamedTuple):
    """One case of the benchmark against the field's methods (benchmarks/timescales_field.py):
    the scored timescale (steps; the slowest, the latent process's for counts, the decay for the
    oscillation), the data's trials and steps, its kind for ``estimate_timescales``, and
    ``generate(n, trials, steps, rng)`` -> n independent data sets as units, (steps, trials, n)."""

    truth: float
    trials: int
    steps: int
    kind: str
    generate: Callable[[int, int, int, np.random.Generator], np.ndarray]


# The cases of the field benchmark (docs/timescales.md, "Side by side with the field"), shared by
# benchmarks/timescales_field.py, timescales_field_why.py and abctau_field.py.
FIELD_CASES = {
    "OU tau=5": FieldCase(5.0, 100, 500, "continuous", lambda n, r, s, g: ou_process([5.0], None, s, r, n, seed=g)),
    "OU tau=20": FieldCase(20.0, 100, 500, "continuous", lambda n, r, s, g: ou_process([20.0], None, s, r, n, seed=g)),
    "OU tau=100": FieldCase(100.0, 100, 500, "continuous",
                            lambda n, r, s, g: ou_process([100.0], None, s, r, n, seed=g)),
    "OU tau=20 (20x200)": FieldCase(20.0, 20, 200, "continuous",
                                    lambda n, r, s, g: ou_process([20.0], None, s, r, n, seed=g)),
    "two tau 5 & 80": FieldCase(80.0, 100, 500, "continuous",
                                lambda n, r, s, g: ou_process([5.0, 80.0], [0.4, 0.6], s, r, n, seed=g)),
    "Poisson counts tau=20": FieldCase(20.0, 100, 500, "counts",
                                       lambda n, r, s, g: ou_spike_counts([20.0], None, s, r, n, mean=1.0, std=0.5,
                                                                          seed=g)),
    "AR(2) decay 20": FieldCase(20.0, 100, 500, "continuous", lambda n, r, s, g: ar2_process(20.0, 25.0, s, r, n, g)),
}


# The validation cases of the recorded-data estimator (docs/timescales.md): name -> (timescales,
# weights, kind, keyword arguments of ou_spike_counts for counts), shared by its tests and benchmarks.
VALIDATION_CASES = {
    "ou1": ([20.0], [1.0], "continuous", {}),
    "ou2": ([5.0, 80.0], [0.4, 0.6], "continuous", {}),
    "poisson1": ([20.0], [1.0], "counts", {"distribution": "poisson"}),
    "poisson2": ([5.0, 80.0], [0.4, 0.6], "counts", {"distribution": "poisson"}),
    "gamma1": ([20.0], [1.0], "counts", {"distribution": "gamma", "fano": 1.5}),
    "gamma2": ([5.0, 80.0], [0.4, 0.6], "counts", {"distribution": "gamma", "fano": 1.5}),
}
