"""Which model of the autocorrelation a unit gets, and the bootstrap's intervals
(docs/timescales.md, "Choosing the model").

Candidate models, in order of their number of parameters: ``none`` (white noise only: no
timescale), ``1exp``, ``osc`` (a damped oscillation), ``2exp``, ``1exp+osc``, ``3exp``. Every unit
starts at ``none``; the current model is tested against data simulated from it (a parametric
bootstrap goodness-of-fit test: its residual sum of squares on the data against the same quantity
on the simulations, :func:`p_values`). When it fails at level alpha, the unit moves to the
simplest larger candidate that fits better and whose every component is plausible
(:func:`plausible`); a unit whose model fails and has no such candidate keeps it, flagged as a
poor fit.
"""

from __future__ import annotations

import numpy as np

from rnn_timescales.analysis.acf_models import MODELS, Fit, fit_model, fit_white

ORDER = ("none", "1exp", "osc", "2exp", "1exp+osc", "3exp")
CANDIDATES = ("1exp", "2exp", "osc", "1exp+osc", "3exp")
MIN_WEIGHT = 0.05  # a component below this share of the variance is not a timescale
MIN_RATIO = 1.5  # nor one within this factor of its neighbour
MAX_FREQUENCY = 0.4  # cycles per step: faster ones (periods < 2.5 steps) are alternation at the sampling limit
MIN_CYCLES = 0.15  # an oscillation must swing: decay time x frequency >= this (its first trough visible)


def ladder(models) -> list[str]:
    """``none`` then the requested candidates in order of complexity."""
    bad = [m for m in models if m not in CANDIDATES]
    if bad or not models or len(set(models)) != len(models):
        raise ValueError(f"models must be distinct names from {', '.join(CANDIDATES)}, got {list(models)!r}")
    return ["none"] + [m for m in ORDER if m in models]


def n_exp(model: str) -> int:
    """Exponential components of a candidate."""
    return 0 if model in ("none", "osc") else MODELS[model.split("+")[0]]


def has_osc(model: str) -> bool:
    return model.endswith("osc")


def fit_candidate(model: str, y: np.ndarray, n_steps: int, n_mean: int = 1, whiten: np.ndarray | None = None) -> Fit:
    """Fit candidate ``model`` to curves y (U, L) (``n_mean``: trials in the subtracted mean)."""
    if model == "none":
        return fit_white(y, n_steps, n_mean, whiten)
    if model == "1exp+osc":
        return fit_model(y, n_steps, "1exp", oscillation=True, n_mean=n_mean, whiten=whiten)
    return fit_model(y, n_steps, model, n_mean=n_mean, whiten=whiten)


def plausible(fit: Fit, max_lag: int) -> np.ndarray:
    """Every component a real one: weight >= MIN_WEIGHT, timescales >= MIN_RATIO apart and inside
    the grid; an oscillation completing at least one cycle within the fitted lags, slower than
    MAX_FREQUENCY and swinging (decay x frequency >= MIN_CYCLES). (U,) bool."""
    ok = np.isfinite(fit.rss) & ~fit.at_bound
    w = fit.weights
    if w.shape[1]:
        ok &= (w >= MIN_WEIGHT).all(1)
    if fit.taus.shape[1] > 1:
        ok &= (fit.taus[:, 1:] / fit.taus[:, :-1] >= MIN_RATIO).all(1)
    if fit.osc is not None:
        total = fit.amps.sum(1) + fit.osc[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            ok &= fit.osc[:, 0] / total >= MIN_WEIGHT
        f = fit.osc[:, 2]
        ok &= (f >= 1.0 / max_lag) & (f <= MAX_FREQUENCY) & (fit.osc[:, 1] * f >= MIN_CYCLES)
    return ok


def nan_quantiles(a: np.ndarray, qs, axis: int) -> np.ndarray:
    """``np.nanquantile(a, qs, axis)`` (linear interpolation) over the finite values, vectorised:
    one sort instead of a call per row. Returns (len(qs), ...a's other axes); NaN where a row has
    no finite value."""
    a = np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)
    valid = np.isfinite(a)
    s = np.sort(np.where(valid, a, np.inf), axis=-1)  # NaN and infinities last, never reached below
    n = valid.sum(-1, keepdims=True)
    out = []
    for q in np.atleast_1d(qs):
        pos = q * np.maximum(n - 1, 0)
        lo = np.floor(pos).astype(int)
        hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
        f = pos - lo
        v = np.take_along_axis(s, lo, -1) * (1 - f) + np.take_along_axis(s, hi, -1) * f
        out.append(np.where(n > 0, v, np.nan)[..., 0])
    return np.stack(out)


def p_values(stat: np.ndarray, null: np.ndarray) -> np.ndarray:
    """P-values of each unit's residual sum of squares ``stat`` (U,) against the same quantity on
    data simulated from the unit's model, ``null`` (U, B) (a parametric-bootstrap goodness-of-fit
    test).

    The larger tail is what matters and a hundred simulations do not reach small levels, so
    above the null's 75th percentile q the tail of log(null) is taken as exponential with the
    mean excess m of the simulated values over q (peaks over a threshold, m >= 0.05):
    p = 0.25 exp(-(log stat - q) / m). Below q the empirical p-value (1 + #{null >= stat}) / (1 + B).
    Units with fewer than 10 usable simulations, or a non-positive statistic, get 1."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ln = np.where(np.isfinite(null) & (null > 0), np.log(np.where(null > 0, null, 1.0)), np.nan)
        ls = np.log(np.where(stat > 0, stat, np.nan))
    n = np.isfinite(ln).sum(1)
    q = nan_quantiles(ln, [0.75], axis=1)[0]
    above = ln > q[:, None]
    excess = np.where(above, ln - q[:, None], 0.0).sum(1) / np.maximum(above.sum(1), 1)
    m = np.maximum(np.where(above.any(1), excess, 0.0), 0.05)
    empirical = (1 + (ln >= ls[:, None]).sum(1)) / (1 + n)
    tail = 0.25 * np.exp(-(ls - q) / m)
    p = np.where(ls <= q, empirical, tail)
    return np.where((n >= 10) & np.isfinite(ls), p, 1.0)


def bootstrap_interval(boot: np.ndarray, est: np.ndarray, level: float, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected estimates (U, J) and basic-bootstrap intervals (U, J, 2) from replicates
    ``boot`` (U, B, J) simulated at ``est`` (U, J): corrected = 2 est - median(boot); the interval
    [corrected - max(q_hi - median, z sd), corrected + max(median - q_lo, z sd)] (each side at least
    the normal half-width: extreme quantiles of a hundred replicates understate the spread); in
    log space for timescales and frequencies. Units with fewer than 10 finite replicates get NaN."""
    from scipy.stats import norm

    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.log(boot) if log else np.asarray(boot, float)
        e = np.log(est) if log else np.asarray(est, float)
    b = np.where(np.isfinite(b), b, np.nan)
    enough = (np.isfinite(b).all(2).sum(1) >= 10)[:, None]
    lo, centre, hi = nan_quantiles(b, [(1 - level) / 2, 0.5, (1 + level) / 2], axis=1)
    half = norm.ppf((1 + level) / 2) * np.nanstd(b, axis=1, ddof=1)
    corrected = 2 * e - centre
    interval = np.stack([corrected - np.maximum(hi - centre, half), corrected + np.maximum(centre - lo, half)], -1)
    corrected = np.where(enough, corrected, np.nan)
    interval = np.where(enough[..., None], interval, np.nan)
    if log:
        return np.exp(corrected), np.exp(interval)
    return corrected, interval


__all__ = ["CANDIDATES", "MIN_RATIO", "MIN_WEIGHT", "ORDER", "bootstrap_interval", "fit_candidate", "ladder",
           "n_exp", "nan_quantiles", "p_values", "plausible"]
