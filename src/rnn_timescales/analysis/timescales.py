"""Network-mediated timescales tau_net from autocorrelations (docs/science.md, timescales).

Every unit's autocorrelation, normalised by its lag-0 value, is fitted at lags 0 ... ``fit_lag``
with a single and a double exponential (:mod:`rnn_timescales.analysis.fitting`, all units at
once). One of the two is then selected:

``method="paper"``
    The paper's code: both fits are ``curve_fit`` itself, one unit at a time, started where it
    starts without ``p0`` (the middle of the bounds, so tau1 == tau2 for the double fit; see
    :func:`~rnn_timescales.analysis.fitting.fit_paper`), a failed fit gets AIC = 1e5, and the model
    with the lower AIC = 2k + n ln(RSS/n) wins (a tie, i.e. both fits failed, gives NaN). On the
    same curves it selects what the paper's code selects, unit by unit; on curves that differ by
    rounding (1e-8) a few per cent of the units change model, in the paper's code as in this one.

``method="parsimonious"`` (default)
    Data-derived starts (the 1/e crossing; a fast/slow pair read off the curve), then the single
    exponential unless the second component is demonstrably real, see :class:`SelectionRule`.
    AIC is not used: neighbouring autocorrelation lags are strongly correlated, so AIC treats 31
    points as 31 independent observations and over-selects the double exponential.

tau_net is the single fit's tau, or the larger of the two taus of the double fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnn_timescales.analysis.autocorrelation import autocorrelation
from rnn_timescales.analysis.fitting import (
    TAU_MAX,
    FitResult,
    fit_batched,
    fit_paper,
    start_double,
    start_single,
)

METHODS = ("parsimonious", "paper")
FAILED_AIC = 1e5


@dataclass(frozen=True)
class SelectionRule:
    """When the default method accepts the double exponential. All conditions must hold.

    min_rss_drop:
        RSS_single / RSS_double at least this (the two extra parameters must explain most of what
        the single exponential leaves; two free parameters fitted to correlated noise buy a factor
        of a few at most).
    min_noise_excess:
        RSS_single at least this many times the sampling noise of the curve, sum_k var_k, with
        var_k the trial-to-trial variance of the normalised autocorrelation at lag k divided by
        the number of trials (skipped with a single trial): the single exponential must misfit
        by more than the data's own uncertainty.
    min_tau_ratio:
        tau_slow / tau_fast at least this (well separated timescales).
    min_weight:
        Each component's weight (c and 1 - c) at least this.
    bound_margin:
        No timescale within this fraction of its bound (tau >= (1 - margin) * 100 or
        tau <= margin): a component pinned at a bound is not a measured timescale.
    """

    min_rss_drop: float = 5.0
    min_noise_excess: float = 10.0
    min_tau_ratio: float = 2.0
    min_weight: float = 0.05
    bound_margin: float = 0.01


def _aic(rss: np.ndarray, n: int, k: int) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return 2 * k + n * np.log(rss / n)


def _check_ac(ac: np.ndarray, fit_lag: int) -> tuple[np.ndarray, np.ndarray | None]:
    ac = np.asarray(ac, dtype=np.float64)
    if ac.ndim == 1:
        ac = ac[None, :]
    if ac.ndim not in (2, 3):
        raise ValueError(f"ac must have shape (units, lags) or (trials, units, lags), got {ac.shape}")
    if not isinstance(fit_lag, (int, np.integer)) or fit_lag < 2:
        raise ValueError(f"fit_lag must be an integer >= 2, got {fit_lag!r}")
    if ac.shape[-1] <= fit_lag:
        raise ValueError(f"ac has lags 0..{ac.shape[-1] - 1}; fit_lag = {fit_lag} needs more (raise max_lag)")
    per_trial = ac if ac.ndim == 3 else None
    mean = ac.mean(axis=0) if ac.ndim == 3 else ac
    return mean, per_trial


def fit_timescales(
    ac: np.ndarray,
    fit_lag: int = 30,
    method: str = "parsimonious",
    rule: SelectionRule | None = None,
    bias_correction: str | None = None,
    n_steps: int | None = None,
) -> pd.DataFrame:
    """Fit and select exponential models for many autocorrelation curves at once.

    Parameters
    ----------
    ac : array, shape (units, lags) or (trials, units, lags)
        Autocorrelations from lag 0 (e.g. :func:`autocorrelation`). With per-trial curves the fit
        uses their average and the selection also uses their spread.
    fit_lag : int
        Fit lags 0 ... fit_lag (time steps).
    method : {"parsimonious", "paper"}
    rule : SelectionRule, optional
        Thresholds of the default method.
    bias_correction : {None, "analytic"}
        ``"analytic"``: correct the selected fit for the finite-sample bias of the estimator (see
        :func:`correct_bias`); needs ``n_steps``. ``tau_net`` is then the corrected value and
        ``tau_net_raw`` the fitted one.
    n_steps : int, optional
        Length of each trial, for the bias correction.

    Returns
    -------
    DataFrame, one row per unit:
        ``unit``; ``model`` (1 or 2, 0 where both fits failed); ``tau_net`` (time steps, NaN where
        no fit); ``a_single, tau_single, rss_single``; ``a_double, tau_fast, tau_slow,
        c_fast`` (weight of the fast component), ``rss_double``; ``aic_single, aic_double``;
        ``converged_single, converged_double``; ``r2`` (of the selected fit);
        ``noise`` (sampling noise of the curve, NaN with one trial).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if bias_correction not in (None, "analytic"):
        raise ValueError(f"bias_correction must be None or 'analytic', got {bias_correction!r}")
    if bias_correction and (n_steps is None or n_steps <= fit_lag):
        raise ValueError("bias_correction='analytic' needs n_steps, the length of each trial")
    mean, per_trial = _check_ac(ac, fit_lag)
    lags = np.arange(fit_lag + 1, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = mean[:, : fit_lag + 1] / mean[:, :1]
    usable = np.isfinite(y).all(1) & (mean[:, 0] > 0)
    y = np.where(usable[:, None], y, np.nan)

    if method == "paper":
        single, double = fit_paper(y, lags, 1), fit_paper(y, lags, 2)
    else:
        yy = np.where(usable[:, None], y, 1.0)
        single = fit_batched(y, lags, 1, start_single(yy, lags))
        double = fit_batched(y, lags, 2, start_double(yy, lags))

    noise = sampling_noise(per_trial, fit_lag) if per_trial is not None else None
    table = select_models(y, single, double, noise, method, rule)
    if bias_correction == "analytic":
        table["tau_net_raw"] = table["tau_net"]
        table["tau_net"] = correct_bias(table, n_steps, fit_lag)
    return table


def sampling_noise(ac: np.ndarray, fit_lag: int) -> np.ndarray | None:
    """Sampling noise of each trial-averaged, normalised autocorrelation curve at lags 0 ... fit_lag:
    sum over lags of the trial-to-trial variance divided by the number of trials.

    ac: (trials, units, lags) per-trial autocorrelations -> (units,), or None with one trial.
    """
    if ac.shape[0] < 2:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        yt = ac[:, :, : fit_lag + 1] / ac[:, :, :1]
    return (yt.var(axis=0, ddof=1) / ac.shape[0]).sum(1)


def select_models(
    y: np.ndarray,
    single: FitResult,
    double: FitResult,
    noise: np.ndarray | None = None,
    method: str = "parsimonious",
    rule: SelectionRule | None = None,
) -> pd.DataFrame:
    """Choose the single or the double exponential for every curve, given both fits.

    Parameters
    ----------
    y : array, shape (units, n)
        The fitted curves (normalised autocorrelation at lags 0 ... n - 1); a row holding a NaN
        is unusable and gets model 0.
    single, double : FitResult
        Fits of the single (a, tau) and double (a, tau1, tau2, c) exponential to ``y``, from
        :func:`rnn_timescales.analysis.fitting.fit_batched` or any other optimiser.
    noise : array, shape (units,), optional
        Sampling noise of each curve (see :class:`SelectionRule`); None skips that condition.
    method : {"parsimonious", "paper"}
    rule : SelectionRule, optional

    Returns
    -------
    DataFrame, one row per unit, with the columns of :func:`fit_timescales`.
    """
    # Long on purpose: the selection rules share the per-unit scores computed once above them.
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    rule = rule or SelectionRule()
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    n_units, n = y.shape
    noise = np.full(n_units, np.nan) if noise is None else np.asarray(noise, dtype=np.float64)
    usable = np.isfinite(y).all(1)
    ok1, ok2 = single.converged & usable, double.converged & usable

    a2, t1, t2, c = double.params.T
    fast_is_1 = t1 <= t2
    tau_fast, tau_slow = np.where(fast_is_1, t1, t2), np.where(fast_is_1, t2, t1)
    c_fast = np.where(fast_is_1, c, 1 - c)
    aic1 = np.where(ok1, _aic(single.rss, n, 2), FAILED_AIC)
    aic2 = np.where(ok2, _aic(double.rss, n, 4), FAILED_AIC)

    if method == "paper":
        model = np.where(aic1 < aic2, 1, np.where(aic2 < aic1, 2, 0))
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            drop = single.rss / double.rss
        real = (
            ok2
            & (drop >= rule.min_rss_drop)
            & (tau_slow >= rule.min_tau_ratio * tau_fast)
            & (np.minimum(c_fast, 1 - c_fast) >= rule.min_weight)
            & (tau_slow <= (1 - rule.bound_margin) * TAU_MAX)
            & (tau_fast >= rule.bound_margin)
        )
        real &= ~np.isfinite(noise) | (single.rss >= rule.min_noise_excess * noise)
        model = np.where(ok1 & ~real, 1, np.where(real | (~ok1 & ok2), 2, 0))

    tau_net = np.where(model == 1, single.params[:, 1], np.where(model == 2, tau_slow, np.nan))
    rss_sel = np.where(model == 1, single.rss, np.where(model == 2, double.rss, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        tss = ((y - y.mean(axis=1, keepdims=True)) ** 2).sum(1)
        r2 = 1 - rss_sel / tss

    return pd.DataFrame(
        {
            "unit": np.arange(n_units),
            "model": model.astype(int),
            "tau_net": tau_net,
            "a_single": single.params[:, 0],
            "tau_single": single.params[:, 1],
            "rss_single": single.rss,
            "a_double": a2,
            "tau_fast": tau_fast,
            "tau_slow": tau_slow,
            "c_fast": c_fast,
            "rss_double": double.rss,
            "aic_single": aic1,
            "aic_double": aic2,
            "converged_single": ok1,
            "converged_double": ok2,
            "r2": r2,
            "noise": noise,
        }
    )


def tau_net_table(
    activity: np.ndarray,
    max_lag: int = 200,
    fit_lag: int = 30,
    method: str = "parsimonious",
    rule: SelectionRule | None = None,
    bias_correction: str | None = None,
) -> pd.DataFrame:
    """tau_net of every unit of ``activity``: autocorrelation (docs/science.md, timescales) then exponential fits.

    Parameters
    ----------
    activity : array, shape (time, trials, units)
        Simulated or recorded activity, time-major.
    max_lag : int
        Autocorrelation computed to this lag (only lags up to ``fit_lag`` enter the fit).
    fit_lag : int
        Fit lags 0 ... fit_lag.
    method : {"parsimonious", "paper"}
        Model selection, see the module docstring.
    rule : SelectionRule, optional
    bias_correction : {None, "analytic"}

    Returns
    -------
    DataFrame with one row per unit, columns as :func:`fit_timescales` (at least ``unit, tau_net,
    model``; ``model`` is 1 or 2, 0 with ``tau_net`` NaN where no fit).
    """
    activity = np.asarray(activity)
    if activity.ndim != 3:
        raise ValueError(f"activity must have shape (time, trials, units), got {activity.shape}")
    if max_lag < fit_lag:
        raise ValueError(f"max_lag ({max_lag}) must be at least fit_lag ({fit_lag})")
    ac = autocorrelation(activity, max_lag, per_trial=True)
    return fit_timescales(ac, fit_lag, method, rule, bias_correction, n_steps=activity.shape[0])


# --- finite-sample bias ----------------------------------------------------------------------------
def expected_autocorrelation(
    taus: np.ndarray, weights: np.ndarray, n_steps: int, max_lag: int
) -> np.ndarray:
    """Expected value of the estimator (trial-mean removed, n - lag normalisation) for a process
    whose true autocovariance is sum_j w_j exp(-|k| / tau_j), on trials of ``n_steps`` samples.

    The estimator is biased low because the trial mean absorbs part of the slow fluctuations:
    E[C_k] = gamma_k - (P(n-k) + G - P(k)) / (n (n-k)) + G / n^2, with g(t) = sum_s gamma_{|t-s|},
    P(m) = sum_{t<m} g(t) and G = P(n), all in closed form for exponentials. A component with
    tau = 0 is white noise.

    Parameters
    ----------
    taus, weights : arrays, shape (units, J)
    n_steps : int
    max_lag : int

    Returns
    -------
    array, shape (units, max_lag + 1)
    """
    taus = np.atleast_2d(np.asarray(taus, dtype=np.float64))
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    n = float(n_steps)
    k = np.arange(max_lag + 1, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore", under="ignore"):
        r = np.where(taus > 0, np.exp(-1.0 / np.where(taus > 0, taus, 1.0)), 0.0)[..., None]  # (U, J, 1)
    one_m_r = 1.0 - r

    def prefix(m):  # sum_{t<m} g(t) for the unit-weight component
        rm = r**m
        return (m * (1 + r) - r * (1 - rm) / one_m_r - r ** (n - m + 1) * (1 - rm) / one_m_r) / one_m_r

    gamma = r**k
    big = prefix(n)
    cross = gamma - (prefix(n - k) + big - prefix(k)) / (n * (n - k)) + big / n**2
    return (weights[..., None] * cross).sum(axis=1)


def _model_curve_params(table: pd.DataFrame, model: int, taus_override=None):
    if model == 1:
        tau = table["tau_single"].to_numpy() if taus_override is None else taus_override[0]
        a = table["a_single"].to_numpy()
        return np.stack([tau, np.zeros_like(tau)], 1), np.stack([a, 1 - a], 1)
    fast = table["tau_fast"].to_numpy() if taus_override is None else taus_override[0]
    slow = table["tau_slow"].to_numpy() if taus_override is None else taus_override[1]
    a, c = table["a_double"].to_numpy(), table["c_fast"].to_numpy()
    return np.stack([fast, slow, np.zeros_like(a)], 1), np.stack([a * c, a * (1 - c), 1 - a], 1)


def correct_bias(table: pd.DataFrame, n_steps: int, fit_lag: int, n_iter: int = 6) -> np.ndarray:
    """Bias-corrected tau_net: the timescales whose *expected* finite-sample autocorrelation,
    fitted the same way, gives back the fitted ones.

    Iterates theta <- theta + (theta_fit - fit(E[AC | theta])) from theta = theta_fit, with E[AC]
    from :func:`expected_autocorrelation` (amplitude a < 1 read as white noise of variance 1 - a).
    A parametric bootstrap with the expectation in closed form, so it costs a few batched fits.

    Returns
    -------
    array, shape (units,): corrected tau_net (NaN where the table has none).
    """
    lags = np.arange(fit_lag + 1, dtype=np.float64)
    out = table["tau_net"].to_numpy(dtype=float).copy()
    for model in (1, 2):
        sel = (table["model"] == model).to_numpy()
        if not sel.any():
            continue
        sub = table[sel]
        fitted = [sub["tau_single"].to_numpy()] if model == 1 else [sub["tau_fast"].to_numpy(), sub["tau_slow"].to_numpy()]
        theta = [f.copy() for f in fitted]
        for _ in range(n_iter):
            taus, weights = _model_curve_params(sub, model, theta)
            e = expected_autocorrelation(taus, weights, n_steps, fit_lag)
            yexp = e / e[:, :1]
            if model == 1:
                p0 = np.stack([sub["a_single"].to_numpy(), theta[0]], 1)
                refit = [fit_batched(yexp, lags, 1, p0).params[:, 1]]
            else:
                p0 = np.stack([sub["a_double"].to_numpy(), theta[0], theta[1], sub["c_fast"].to_numpy()], 1)
                q = fit_batched(yexp, lags, 2, p0).params
                refit = [np.minimum(q[:, 1], q[:, 2]), np.maximum(q[:, 1], q[:, 2])]
            theta = [np.clip(th + (f - r), 1e-3, TAU_MAX) for th, f, r in zip(theta, fitted, refit)]
        out[sel] = theta[-1]
    return out


__all__ = [
    "METHODS",
    "SelectionRule",
    "correct_bias",
    "tau_net_table",
    "expected_autocorrelation",
    "fit_timescales",
    "sampling_noise",
    "select_models",
]
