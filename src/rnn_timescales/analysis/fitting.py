"""Exponential fits to many autocorrelation curves at once (docs/science.md, timescales).

One bounded least-squares problem per unit, all solved together by a vectorised, projected
Levenberg-Marquardt iteration in NumPy: each iteration forms the (units, P, P) normal equations,
frees the parameters that are not pinned at a bound by a gradient pointing outwards, solves, and
projects the step back into the box. A timescale changes by at most a factor of 2 per iteration
(a trust region in log tau): a full Gauss-Newton step can otherwise throw a fast component to
tau ~ 0.01, where exp(-1/tau) and its gradient vanish and the fit can never come back. It reaches
the same minima as ``scipy.optimize.curve_fit`` (trust-region reflective) from a data-derived
starting point, without a Python loop over units.

The paper's fits (:func:`fit_paper`) are ``curve_fit`` itself, one unit at a time: they start at
the middle of the box, where the double exponential sits on a saddle (tau1 == tau2, c = 1/2), and
which units leave the saddle, and for which minimum, depends on rounding in the optimiser's path.
No other optimiser reproduces that choice per unit, so the paper's estimator is only reproduced by
running its optimiser (docs/reproduction.md, "Our tau_net against the authors'").

Models (parameter order as in the paper's code):

- single: ``f(t) = a exp(-t / tau)``, p = (a, tau), bounds a in [0, 1], tau in [0, 100];
- double: ``f(t) = a (c exp(-t / tau1) + (1 - c) exp(-t / tau2))``, p = (a, tau1, tau2, c),
  bounds a, c in [0, 1], tau1, tau2 in [0, 100].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TAU_MAX = 100.0
# tau = 0 divides by zero; scipy's TRF never reaches the bound either (it stays strictly inside).
TAU_MIN = 1e-6

SINGLE_BOUNDS = (np.array([0.0, TAU_MIN]), np.array([1.0, TAU_MAX]))
DOUBLE_BOUNDS = (np.array([0.0, TAU_MIN, TAU_MIN, 0.0]), np.array([1.0, TAU_MAX, TAU_MAX, 1.0]))


def single_exp(t: np.ndarray, a, tau) -> np.ndarray:
    """a exp(-t / tau); broadcasts."""
    return a * np.exp(-t / tau)


def double_exp(t: np.ndarray, a, tau1, tau2, c) -> np.ndarray:
    """a (c exp(-t / tau1) + (1 - c) exp(-t / tau2)); broadcasts."""
    return a * (c * np.exp(-t / tau1) + (1 - c) * np.exp(-t / tau2))


def _single(p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, tau = p[:, :1], p[:, 1:2]
    e = np.exp(-t / tau)
    f = a * e
    jac = np.stack([e, f * t / tau**2], axis=-1)
    return f, jac


def _double(p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, tau1, tau2, c = (p[:, i : i + 1] for i in range(4))
    e1, e2 = np.exp(-t / tau1), np.exp(-t / tau2)
    mix = c * e1 + (1 - c) * e2
    f = a * mix
    jac = np.stack([mix, a * c * e1 * t / tau1**2, a * (1 - c) * e2 * t / tau2**2, a * (e1 - e2)], axis=-1)
    return f, jac


MODELS = {1: (_single, SINGLE_BOUNDS), 2: (_double, DOUBLE_BOUNDS)}
# which parameters are timescales (their steps are limited multiplicatively)
IS_TAU = {1: np.array([False, True]), 2: np.array([False, True, True, False])}
TAU_STEP_FACTOR = 2.0


@dataclass
class FitResult:
    """Batched fit of one model to U curves.

    params: (U, P) best parameters; rss: (U,) residual sum of squares; converged: (U,) bool;
    n_iter: (U,) iterations used.
    """

    params: np.ndarray
    rss: np.ndarray
    converged: np.ndarray
    n_iter: np.ndarray


def fit_batched(
    y: np.ndarray,
    t: np.ndarray,
    model: int,
    p0: np.ndarray,
    max_iter: int = 400,
    ftol: float = 1e-10,
    xtol: float = 1e-10,
    gtol: float = 1e-12,
) -> FitResult:
    """Least-squares fit of the single (``model=1``) or double (``model=2``) exponential to every row.

    Parameters
    ----------
    y : array, shape (U, n)
        Curves to fit (e.g. normalised autocorrelations at lags ``t``).
    t : array, shape (n,)
        Abscissa (lags, in time steps).
    model : {1, 2}
    p0 : array, shape (U, P) or (P,)
        Starting points; clipped into the bounds.
    max_iter : int
        Iterations before a unit that has not converged is reported as not converged.

    Returns
    -------
    FitResult
    """
    # Long on purpose: the batched least squares of every model for every unit, one vectorised pass.
    if model not in MODELS:
        raise ValueError(f"model must be 1 (single exponential) or 2 (double), got {model!r}")
    fn, (lb, ub) = MODELS[model]
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    t = np.asarray(t, dtype=np.float64)[None, :]
    if y.shape[1] != t.shape[1]:
        raise ValueError(f"y has {y.shape[1]} points per curve but t has {t.shape[1]}")
    n_units, n_par = y.shape[0], lb.size
    p = np.broadcast_to(np.asarray(p0, dtype=np.float64), (n_units, n_par)).copy()
    p = np.clip(p, lb, ub)
    finite = np.isfinite(y).all(axis=1)
    y = np.where(finite[:, None], y, 0.0)

    f, jac = fn(p, t)
    r = f - y
    cost = 0.5 * (r * r).sum(1)
    mu = np.full(n_units, 1e-3)
    done = ~finite
    converged = np.zeros(n_units, bool)
    n_iter = np.zeros(n_units, int)
    eye = np.eye(n_par)
    for it in range(max_iter):
        act = np.flatnonzero(~done)
        if act.size == 0:
            break
        n_iter[act] += 1
        pa, ja, ra = p[act], jac[act], r[act]
        g = np.einsum("unp,un->up", ja, ra)
        tol = 1e-9 * (ub - lb)
        at_lb, at_ub = pa <= lb + tol, pa >= ub - tol
        pinned = (at_lb & (g > 0)) | (at_ub & (g < 0))
        free = ~pinned
        proj_g = np.where(free, g, 0.0)
        small_g = np.abs(proj_g).max(1) <= gtol
        a_mat = np.einsum("unp,unq->upq", ja, ja)
        mask = free[:, :, None] & free[:, None, :]
        a_mat = np.where(mask, a_mat, 0.0)
        diag = np.einsum("upp->up", a_mat)
        damp = mu[act, None] * np.maximum(diag, 1e-12) + np.where(free, 0.0, 1.0)
        lhs = a_mat + damp[:, :, None] * eye
        step = np.linalg.solve(lhs, -proj_g[..., None])[..., 0]
        step = np.where(free, step, 0.0)
        new_p = _step_back(pa, pa + step, lb, ub, IS_TAU[model])
        new_f, new_jac = fn(new_p, t)
        new_r = new_f - y[act]
        new_cost = 0.5 * (new_r * new_r).sum(1)
        better = new_cost < cost[act]
        dp = np.abs(new_p - pa).max(1)
        # converged: gradient vanishes, or an accepted step barely changed the cost or the parameters
        small_f = better & (cost[act] - new_cost <= ftol * np.maximum(cost[act], 1e-300))
        small_x = dp <= xtol * (xtol + np.abs(pa).max(1))
        stop = small_g | small_f | (small_x & (mu[act] < 1e8))
        acc = act[better]
        p[acc], jac[acc], r[acc], cost[acc] = new_p[better], new_jac[better], new_r[better], new_cost[better]
        mu[act] = np.where(better, np.maximum(mu[act] / 3.0, 1e-12), mu[act] * 4.0)
        stall = mu[act] > 1e12  # no downhill step left at any damping: a (bounded) minimum
        converged[act[stop | stall]] = True
        done[act[stop | stall]] = True
    rss = np.where(finite, 2.0 * cost, np.nan)
    return FitResult(params=p, rss=rss, converged=converged & finite, n_iter=n_iter)


def fit_scipy(y: np.ndarray, t: np.ndarray, model: int, p0: np.ndarray, maxfev: int = 2000) -> FitResult:
    """The same fits as :func:`fit_batched`, one ``scipy.optimize.curve_fit`` (trust-region
    reflective) per curve: the reference the batched fitter is validated against, and the way the
    paper's code fits. A curve whose fit raises gets NaN parameters and ``converged=False``.

    y: (U, n), t: (n,), p0: (U, P) or (P,) -> :class:`FitResult`.
    """
    from scipy.optimize import curve_fit

    if model not in MODELS:
        raise ValueError(f"model must be 1 (single exponential) or 2 (double), got {model!r}")
    fn = single_exp if model == 1 else double_exp
    lb, ub = MODELS[model][1]
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    t = np.asarray(t, dtype=np.float64)
    starts = np.clip(np.broadcast_to(np.asarray(p0, dtype=np.float64), (y.shape[0], lb.size)), lb, ub)
    params = np.full((y.shape[0], lb.size), np.nan)
    for i, (yi, start) in enumerate(zip(y, starts)):
        try:
            params[i] = curve_fit(fn, t, yi, p0=start, bounds=(lb, ub), maxfev=maxfev)[0]
        except (RuntimeError, ValueError):
            pass
    converged = np.isfinite(params).all(1)
    rss = ((fn(t, *params.T[:, :, None]) - y) ** 2).sum(1)
    return FitResult(params=params, rss=np.where(converged, rss, np.nan), converged=converged,
                     n_iter=np.zeros(y.shape[0], int))


# The paper code's bounds: tau from 0 (not TAU_MIN) to 100.
PAPER_BOUNDS = {1: ((0.0, 0.0), (1.0, TAU_MAX)), 2: ((0.0, 0.0, 0.0, 0.0), (1.0, TAU_MAX, TAU_MAX, 1.0))}
PAPER_MAXFEV = 2000


def _paper_single(t, a, tau):
    return a * np.exp(-t / tau)


def _paper_double(t, a, tau1, tau2, c):
    # this order of operations, not double_exp's: from the saddle start the fit's path depends on rounding
    return a * c * np.exp(-t / tau1) + a * (1 - c) * np.exp(-t / tau2)


def fit_paper(y: np.ndarray, t: np.ndarray, model: int) -> FitResult:
    """The paper code's fit of every row: ``curve_fit`` (trust-region reflective) with no starting
    point, so from the middle of the bounds a, c in [0, 1], tau in [0, 100]; at most 2000 function
    evaluations; any exception is a failed fit (NaN parameters, ``converged=False``, RSS NaN). The
    RSS is computed as the paper computes it, from the fitted curve in the paper's arithmetic.

    y: (U, n), t: (n,) -> :class:`FitResult`. On identical curves it returns what the paper's code
    returns, to the last bit (tests/analysis/test_paper_fits.py).
    """
    import warnings

    from scipy.optimize import OptimizeWarning, curve_fit

    if model not in MODELS:
        raise ValueError(f"model must be 1 (single exponential) or 2 (double), got {model!r}")
    fn = _paper_single if model == 1 else _paper_double
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    t = np.asarray(t, dtype=np.float64)
    params = np.full((y.shape[0], 2 * model), np.nan)
    rss = np.full(y.shape[0], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for i, yi in enumerate(y):
            if not np.isfinite(yi).all():
                continue
            try:
                params[i] = curve_fit(fn, t, yi, maxfev=PAPER_MAXFEV, bounds=PAPER_BOUNDS[model])[0]
            except Exception:  # the paper's rule: a fit that raises, for whatever reason, failed
                continue
            rss[i] = ((fn(t, *params[i]) - yi) ** 2).sum()
    converged = np.isfinite(params).all(1)
    return FitResult(params=params, rss=rss, converged=converged, n_iter=np.zeros(y.shape[0], int))


def _step_back(p: np.ndarray, target: np.ndarray, lb: np.ndarray, ub: np.ndarray, is_tau: np.ndarray) -> np.ndarray:
    """Move to ``target``, but a component that would leave the box only goes 90 % of the way to
    its bound (as trust-region reflective stays strictly inside), and a timescale moves by at most
    a factor :data:`TAU_STEP_FACTOR`. Clipping straight onto the bound can strand a fit: at
    tau = 0 the exponential and its gradient vanish."""
    lo, hi = target < lb, target > ub
    out = np.where(lo, lb + 0.1 * (p - lb), target)
    out = np.where(hi, ub - 0.1 * (ub - p), out)
    out = np.where(is_tau, np.clip(out, p / TAU_STEP_FACTOR, p * TAU_STEP_FACTOR), out)
    return np.clip(out, lb, ub)


def tau_at_inverse_e(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Rough timescale of each normalised curve: -t/ln y at the first lag where y < 1/e (or at the
    last positive point if it never gets there). y: (U, n), t: (n,) -> (U,), in units of t."""
    y = np.asarray(y, dtype=np.float64)
    below = y < np.exp(-1.0)
    first = np.where(below.any(1), below.argmax(1), y.shape[1] - 1)
    idx = np.arange(y.shape[0])
    yk = y[idx, first]
    # the point just before the crossing when the crossing itself is at or below zero
    prev = np.maximum(first - 1, 1)
    use_prev = yk <= 0
    k = np.where(use_prev, prev, first)
    yk = np.clip(y[idx, k], 1e-6, 1 - 1e-6)
    tk = np.maximum(t[k], 1.0)
    return np.clip(-tk / np.log(yk), 0.1, TAU_MAX * 0.99)


def start_single(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Data-derived start for the single exponential: a = 1, tau = 1/e crossing. (U, 2)."""
    tau = tau_at_inverse_e(y, t)
    return np.stack([np.full_like(tau, 0.999), tau], axis=1)


def start_double(y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Data-derived fast/slow start for the double exponential, (U, 4) as (a, tau1, tau2, c).

    The slow component is read off a log-linear fit of the second half of the curve (its slope and
    intercept give tau_slow and its weight), the fast one from what is left at lag 1; tau1 is the
    fast timescale, c its weight. The start never has tau1 == tau2 (the saddle of the paper's start).
    """
    y = np.asarray(y, dtype=np.float64)
    tau_e = tau_at_inverse_e(y, t)
    half = t >= t[-1] / 2
    tt = t[half]
    yy = y[:, half]
    ok = yy > 1e-3
    logy = np.log(np.where(ok, yy, 1.0))
    w = ok.astype(float)
    sw = w.sum(1)
    mt = (w * tt).sum(1) / np.maximum(sw, 1)
    ml = (w * logy).sum(1) / np.maximum(sw, 1)
    cov = (w * (tt - mt[:, None]) * (logy - ml[:, None])).sum(1)
    var = (w * (tt - mt[:, None]) ** 2).sum(1)
    slope = np.where((sw >= 2) & (var > 0), cov / np.maximum(var, 1e-12), -1.0 / tau_e)
    tau_s = np.where(slope < 0, -1.0 / np.minimum(slope, -1e-9), TAU_MAX * 0.9)
    tau_s = np.clip(np.maximum(tau_s, 2.0 * tau_e), 0.5, TAU_MAX * 0.95)
    w_s = np.clip(np.exp(ml - slope * mt), 0.05, 0.95)
    lag1 = int(np.argmin(np.abs(t - 1.0)))
    t1 = max(t[lag1], 1.0)
    rest = (y[:, lag1] - w_s * np.exp(-t1 / tau_s)) / (1.0 - w_s)
    tau_f = -t1 / np.log(np.clip(rest, 1e-3, 0.99))
    tau_f = np.clip(np.minimum(tau_f, tau_s / 3.0), 0.05, TAU_MAX * 0.3)
    return np.stack([np.full_like(tau_s, 0.999), tau_f, tau_s, 1.0 - w_s], axis=1)


def paper_start(model: int) -> np.ndarray:
    """The start the paper's code gets: ``curve_fit`` without p0 but with bounds starts from the
    middle of the box, (0.5, 50) and (0.5, 50, 50, 0.5) (tau1 == tau2: a saddle of the double fit).
    :func:`fit_paper` starts there by itself; this is for other optimisers started at that point."""
    lb, ub = MODELS[model][1]
    return 0.5 * (np.where(lb == TAU_MIN, 0.0, lb) + ub)
