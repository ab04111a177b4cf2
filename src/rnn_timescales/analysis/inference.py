"""Timescales of any activity -- simulated networks or recorded spike counts -- with uncertainty
(docs/timescales.md).

Per unit: the trial-averaged autocorrelation (:func:`rnn_timescales.analysis.autocorrelation.autocorrelation`),
a fit of its *expected* value under one, two (or three) exponential components plus white noise
at lag 0 (:mod:`rnn_timescales.analysis.acf_models`; the white-noise term takes the Poisson jump
of spike counts, so it is never read as a timescale), a model choice calibrated by simulation, and
a parametric bootstrap: B data sets of the unit's trials x steps x kind simulated from the fitted
model (:mod:`rnn_timescales.analysis.synthetic`), fitted the same way. The bootstrap gives the
bias correction (in log tau) and the intervals of every timescale and weight.

Arrays are time-major ``(time, trials, units)``; timescales are returned in units of ``dt``.

Over 400 lines: the estimate is one pipeline (checks, fits, model test, bootstrap, table) whose
steps share the unit's fitted parameters and simulation settings; split, they would pass a dozen
values between modules for no reader's benefit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from rnn_timescales.analysis.acf_models import MODELS, Fit, fit_model
from rnn_timescales.analysis.autocorrelation import autocorrelation

KINDS = ("continuous", "counts")
INTERVALS = ("bootstrap", "trials", "none")
COUNT_MODELS = ("auto", "poisson", "gamma")
MIN_TRIALS = 2
MIN_WEIGHT = 0.05  # a component below this share of the variance is not a timescale
MIN_RATIO = 1.5  # nor one within this factor of its neighbour
MIN_SIGNAL = 0.01  # a unit whose correlated variance is below this share has no measurable timescale


@dataclass
class TimescaleEstimate:
    """Result of :func:`estimate_timescales`.

    table: one row per unit (see :func:`estimate_timescales`).
    units: one dict per unit, ``{"unit", "timescales", "intervals", "weights", "weight_intervals",
        "model", ...}`` (timescales in units of dt, slowest last) -- what ``--json`` prints.
    lags: (L,) lags in units of dt.
    acf: (U, L) the data's autocorrelation normalised by its lag-0 value.
    fit: (U, L) the selected model's expected estimate, same normalisation.
    band: (U, 2, L) the bootstrap's pointwise interval of the fitted curve (NaN without one).
    """

    table: pd.DataFrame
    units: list[dict]
    lags: np.ndarray
    acf: np.ndarray
    fit: np.ndarray
    band: np.ndarray
    settings: dict = field(default_factory=dict)


def _check(data: np.ndarray, dt: float, kind: str, max_lag: int | None, models: Sequence[str],
           interval: str, n_boot: int, level: float, count_model: str) -> tuple[np.ndarray, int]:
    x = np.asarray(data)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"data must have shape (time, trials, units), got {np.shape(data)}")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise ValueError(f"data must be real numbers, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise ValueError(f"data holds {int((~np.isfinite(x)).sum())} NaN or infinite values")
    n_steps, n_trials, n_units = x.shape
    if n_units < 1:
        raise ValueError("data has no units")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive number, got {dt!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}, got {interval!r}")
    if count_model not in COUNT_MODELS:
        raise ValueError(f"count_model must be one of {', '.join(COUNT_MODELS)}, got {count_model!r}")
    if not models or any(m not in MODELS for m in models) or list(models) != sorted(set(models)):
        raise ValueError(f"models must be an increasing selection of {', '.join(MODELS)}, got {list(models)!r}")
    if n_trials < MIN_TRIALS:
        raise ValueError(f"need at least {MIN_TRIALS} trials, got {n_trials}")
    if interval == "trials" and n_trials < 20:
        raise ValueError(f"interval='trials' resamples trials and needs at least 20, got {n_trials}")
    if not (0.5 <= level < 1):
        raise ValueError(f"level must be in [0.5, 1), got {level!r}")
    if interval != "none" and not (isinstance(n_boot, (int, np.integer)) and n_boot >= 20):
        raise ValueError(f"n_boot must be an integer >= 20, got {n_boot!r}")
    if max_lag is None:
        max_lag = default_max_lag(n_steps)
    if not isinstance(max_lag, (int, np.integer)) or max_lag < 4:
        raise ValueError(f"max_lag must be an integer >= 4, got {max_lag!r}")
    if n_steps < 2 * max_lag:
        raise ValueError(f"trials of {n_steps} steps are too short for lags up to {max_lag} (need >= {2 * max_lag})")
    if (x.std(axis=0) == 0).all(axis=0).any():
        u = int(np.flatnonzero((x.std(axis=0) == 0).all(axis=0))[0])
        raise ValueError(f"unit {u} is constant in every trial: no autocorrelation to fit")
    if kind == "counts" and (x < 0).any():
        raise ValueError("counts must be non-negative")
    return x, int(max_lag)


def default_max_lag(n_steps: int) -> int:
    """Lags fitted by default: a fifth of the trial, at most 500 (later lags are mostly noise)."""
    return int(max(4, min(n_steps // 5, 500)))


def guess_kind(data: np.ndarray) -> str:
    """"counts" for non-negative integer-valued data, else "continuous"."""
    x = np.asarray(data)
    if np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.bool_):
        return "counts" if (x >= 0).all() else "continuous"
    if np.issubdtype(x.dtype, np.floating) and np.isfinite(x).all() and (x >= 0).all() and np.array_equal(x, np.round(x)):
        return "counts"
    return "continuous"


# --- simulation from a fitted model ----------------------------------------------------------------
@dataclass
class _Params:
    """One unit's fitted model in a simulatable form (steps)."""

    taus: np.ndarray
    amps: np.ndarray
    white: float
    osc: np.ndarray | None
    mean: float
    integer: bool


def _fast_size(n: int) -> int:
    """Smallest 5-smooth integer >= n (fast FFT length)."""
    m = n
    while True:
        k = m
        for f in (2, 3, 5):
            while k % f == 0:
                k //= f
        if k == 1:
            return m
        m += 1


def simulate_acf(
    taus: np.ndarray,
    amps: np.ndarray,
    white: float,
    n_rep: int,
    n_steps: int,
    n_trials: int,
    max_lag: int,
    kind: str = "continuous",
    mean: float = 1.0,
    counts: str = "poisson",
    osc: np.ndarray | None = None,
    seed: int | None = None,
    device: str = "cpu",
) -> np.ndarray:
    """Trial-averaged autocorrelations of ``n_rep`` simulated data sets, in torch (CPU or GPU).

    The same generative models as :mod:`rnn_timescales.analysis.synthetic` (exact OU
    discretisation, rectified rate, Poisson or gamma counts), written for batches of replicates:
    float32, a time loop over (replicates x trials) vectors, the autocorrelation by a real FFT.

    Parameters
    ----------
    taus, amps : arrays, shape (J,)
        Timescales (steps) and variances of the OU components.
    white : float
        Variance of the white noise (continuous) or the counts' lag-0 excess (counts; the Fano
        factor is white / mean, Poisson counts when ``counts="poisson"``).
    n_rep, n_steps, n_trials, max_lag : int
    kind : {"continuous", "counts"}
    mean : float
        Mean count per bin (counts).
    counts : {"poisson", "gamma", "gaussian"}
        "gaussian": counts with the mean and variance of the gamma counts, normally distributed
        (cheap; the model test's null simulations use it).
    osc : array (amplitude, tau, frequency), optional
        A damped oscillation (complex OU).
    seed : int, optional
    device : str
        Torch device ("cpu", "cuda").

    Returns
    -------
    array, shape (n_rep, max_lag + 1), float64
    """
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(int(np.random.SeedSequence(seed).generate_state(1)[0]) if seed is not None else 0)
    taus = np.asarray(taus, float)
    amps = np.maximum(np.asarray(amps, float), 0.0)
    fano = max(white, 1e-6) / mean if kind == "counts" else 0.0
    nfft = _fast_size(n_steps + max_lag)
    lags = torch.arange(max_lag + 1, device=device, dtype=torch.float64)
    out = np.empty((n_rep, max_lag + 1))
    per = max(1, int(2.5e7 // (n_steps * n_trials)))  # replicates per chunk: 100 MB of float32
    for s in range(0, n_rep, per):
        c = min(per, n_rep - s)
        cols = c * n_trials
        x = torch.zeros((n_steps, cols), device=device)
        comps = [(float(t), float(a), 0.0) for t, a in zip(taus, amps) if a > 0]
        if osc is not None and osc[0] > 0:
            comps.append((float(osc[1]), float(osc[0]), float(osc[2])))
        for tau, var, freq in comps:
            r = np.exp(-1.0 / tau) if np.isfinite(tau) else 1.0
            if freq == 0.0:
                e = torch.randn((n_steps, cols), generator=gen, device=device)
                e[0] *= np.sqrt(var)
                e[1:] *= np.sqrt(var * (1 - r * r))
                y = e[0]
                x[0] += y
                for t in range(1, n_steps):
                    y = y * r + e[t]
                    x[t] += y
            else:  # damped oscillation: real part of a complex OU with variance 2 var
                cr, ci = r * np.cos(2 * np.pi * freq), r * np.sin(2 * np.pi * freq)
                sd = np.sqrt(var * (1 - r * r))
                e = torch.randn((2, n_steps, cols), generator=gen, device=device) * sd
                yr = torch.randn(cols, generator=gen, device=device) * np.sqrt(var)
                yi = torch.randn(cols, generator=gen, device=device) * np.sqrt(var)
                x[0] += yr
                for t in range(1, n_steps):
                    yr, yi = cr * yr - ci * yi + e[0, t], ci * yr + cr * yi + e[1, t]
                    x[t] += yr
        if kind == "continuous":
            if white > 0:
                x += np.sqrt(white) * torch.randn((n_steps, cols), generator=gen, device=device)
        else:
            rate = (x + mean).clamp_(min=0.0)
            if counts == "poisson":
                x = torch.poisson(rate, generator=gen)
            elif counts == "gaussian":  # mean and variance of the counts, Gaussian: cheap
                x = rate + (fano * rate).sqrt_() * torch.randn(rate.shape, generator=gen, device=device)
            else:
                g = torch._standard_gamma((rate / fano).clamp_(min=1e-6), generator=gen) * fano
                x = torch.where(rate > 0, g, torch.zeros_like(g))
        x = x - x.mean(0, keepdim=True)
        spec = torch.fft.rfft(x, n=nfft, dim=0)
        power = spec.real.square_() + spec.imag.square_()
        del spec
        raw = torch.fft.irfft(power, n=nfft, dim=0)[: max_lag + 1].double()
        ac = raw / (n_steps - lags)[:, None]
        out[s : s + c] = ac.reshape(max_lag + 1, c, n_trials).mean(2).T.cpu().numpy()
    return out


def _simulate_acf(p: _Params, kind: str, count_model: str, n_rep: int, n_steps: int, n_trials: int,
                  max_lag: int, rng: np.random.Generator, device: str = "cpu", cheap: bool = False) -> np.ndarray:
    """Trial-averaged autocorrelations of ``n_rep`` data sets simulated from one unit's fit
    (``cheap``: Gaussian counts, for the model test)."""
    fano = max(p.white, 0.0) / p.mean if kind == "counts" else 0.0
    poisson = count_model == "poisson" or (count_model == "auto" and p.integer and abs(fano - 1) < 0.2)
    counts = "gaussian" if cheap else "poisson" if poisson else "gamma"
    return simulate_acf(p.taus, p.amps, p.white, n_rep, n_steps, n_trials, max_lag, kind, p.mean,
                        counts, p.osc, seed=int(rng.integers(2**62)), device=device)


def _params(fit: Fit, u: int, mean: float, integer: bool) -> _Params:
    return _Params(taus=fit.taus[u], amps=np.maximum(fit.amps[u], 0.0), white=float(fit.white[u]),
                   osc=None if fit.osc is None else fit.osc[u], mean=mean, integer=integer)


def _plausible(fit: Fit) -> np.ndarray:
    """Every component a real timescale: weight >= MIN_WEIGHT, neighbours >= MIN_RATIO apart,
    none at the end of the grid."""
    w = fit.weights
    ok = (w >= MIN_WEIGHT).all(1) & ~fit.at_bound
    if fit.taus.shape[1] > 1:
        ok &= (fit.taus[:, 1:] / fit.taus[:, :-1] >= MIN_RATIO).all(1)
    return ok & np.isfinite(fit.rss)


def _p_value(stat: float, null: np.ndarray) -> float:
    """P-value of the smaller model's residual sum of squares ``stat`` against the same quantity
    on data simulated from that model, ``null`` (a parametric-bootstrap goodness-of-fit test).

    The larger tail is what matters and a few dozen simulations do not reach small levels, so
    above the null's 75th percentile q the tail of log(null) is taken as exponential with the
    mean excess m of the simulated values over q (peaks over a threshold):
    p = 0.25 exp(-(log stat - q) / m). Below q the empirical p-value is returned."""
    null = np.log(null[np.isfinite(null) & (null > 0)])
    if len(null) < 10 or not np.isfinite(stat) or stat <= 0:
        return 1.0
    ls = np.log(stat)
    q = np.quantile(null, 0.75)
    if ls <= q:
        return float((1 + np.sum(null >= ls)) / (1 + len(null)))
    excess = null[null > q] - q
    m = max(excess.mean() if len(excess) else 0.0, 0.05)
    return float(0.25 * np.exp(-(ls - q) / m))


def _quantiles(boot: np.ndarray, est: np.ndarray, level: float, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected estimate and basic-bootstrap interval, (J,) and (J, 2); in log space for
    timescales. The bootstrap replicates ``boot`` (B, J) come from data simulated at ``est``."""
    b = np.log(boot) if log else boot
    e = np.log(est) if log else est
    b = b[np.isfinite(b).all(1)]
    if len(b) < 10:
        nan = np.full(est.shape, np.nan)
        return nan, np.stack([nan, nan], 1)
    lo, hi = np.quantile(b, [(1 - level) / 2, (1 + level) / 2], axis=0)
    centre = np.median(b, axis=0)
    corrected = 2 * e - centre
    # basic bootstrap, each side at least the normal half-width z sd: extreme quantiles of a
    # hundred replicates understate the spread
    from scipy.stats import norm

    half = norm.ppf((1 + level) / 2) * b.std(axis=0, ddof=1)
    interval = np.stack([corrected - np.maximum(hi - centre, half), corrected + np.maximum(centre - lo, half)], 1)
    if log:
        return np.exp(corrected), np.exp(interval)
    return corrected, interval


def estimate_timescales(
    data: np.ndarray,
    dt: float = 1.0,
    kind: str = "continuous",
    max_lag: int | None = None,
    models: Sequence[str] = ("1exp", "2exp"),
    oscillation: bool = False,
    interval: str = "bootstrap",
    n_boot: int = 100,
    level: float = 0.95,
    alpha: float = 0.01,
    count_model: str = "auto",
    seed: int | None = 0,
    device: str = "cpu",
    progress: Callable[[int, int], None] | None = None,
) -> TimescaleEstimate:
    """Timescales of every unit, with intervals: autocorrelation, model fit, simulation-calibrated
    model choice, parametric-bootstrap bias correction and intervals (docs/timescales.md).

    Parameters
    ----------
    data : array, shape (time, trials, units) or (time, trials)
        Activity (``kind="continuous"``) or spike counts per bin (``kind="counts"``), time-major.
    dt : float
        Sampling interval or bin size; timescales are returned in its unit.
    kind : {"continuous", "counts"}
        Counts are simulated as Poisson or gamma counts of a rectified OU rate in the bootstrap;
        continuous data as OU processes plus Gaussian white noise.
    max_lag : int, optional
        Fit lags 0 ... max_lag (steps); default :func:`default_max_lag`. Trials must have at
        least 2 * max_lag steps.
    models : sequence of {"1exp", "2exp", "3exp"}
        Candidate models, simplest first; a larger one is chosen only when it fits better, all its
        components are plausible (weight >= 5 %, timescales >= 1.5x apart, inside the grid) and
        the smaller model fails a parametric-bootstrap goodness-of-fit test at level ``alpha``:
        its residual is larger than on data simulated from it.
    oscillation : bool
        Add a damped oscillation to every model.
    interval : {"bootstrap", "trials", "none"}
        ``"bootstrap"``: parametric bootstrap from the fitted model (bias correction and
        intervals; the model choice always simulates). ``"trials"``: resample trials (no bias
        correction; fast; needs >= 20 trials). ``"none"``: point estimates only.
    n_boot : int
        Simulated data sets per unit for the intervals (the model test simulates half as many).
    level : float
        Confidence level of the intervals.
    alpha : float
        Level of the goodness-of-fit test that adds a component.
    count_model : {"auto", "poisson", "gamma"}
        How counts are simulated: "auto" is Poisson for integer data whose lag-0 excess matches a
        Fano factor of 1 (within 20 %), else gamma counts with the measured Fano factor.
    seed : int, optional
    device : str
        Torch device of the bootstrap's simulations ("cpu", "cuda").
    progress : callable(done, total), optional
        Called after each unit.

    Returns
    -------
    TimescaleEstimate
        ``table`` has one row per unit: ``unit, model`` ("none" where no timescale is measurable:
        the correlated part is below 1 % of the variance, the timescale is outside 0.2 steps ... 4
        trials, or the data are anti-correlated), ``n_components, tau_1 ... tau_J`` (fastest
        first, units of dt, bias-corrected), ``tau_j_low, tau_j_high``, ``weight_j, weight_j_low,
        weight_j_high``, ``tau_j_raw`` (the fit before correction), ``white_noise`` (lag-0 excess
        over the fit, as a share of the variance), ``fano`` (counts), ``p_value`` (of the test
        that chose the model), ``r2``, ``rmse``, ``at_bound``, ``seconds``.
    """
    x, max_lag = _check(data, dt, kind, max_lag, models, interval, n_boot, level, count_model)
    n_steps, n_trials, n_units = x.shape
    rng = np.random.default_rng(seed)
    ac_trials = autocorrelation(x, max_lag, per_trial=True)  # (trials, U, L)
    ac = ac_trials.mean(0)
    means = x.mean(axis=(0, 1)).astype(float)
    integer = guess_kind(x) == "counts"
    fits = {m: fit_model(ac, n_steps, m, oscillation) for m in models}
    max_j = MODELS[models[-1]]
    units, rows = [], []
    curves = np.full((n_units, max_lag + 1), np.nan)
    band = np.full((n_units, 2, max_lag + 1), np.nan)
    for u in range(n_units):
        t0 = time.perf_counter()
        chosen, p_value = models[0], np.nan
        boot_acfs = None  # bootstrap data sets simulated from the chosen model
        for nxt in models[1:]:
            cur = fits[chosen]
            stat = cur.rss[u] / fits[nxt].rss[u]
            if not (_plausible(fits[nxt])[u] and stat > 1.0):
                break
            n_test = max(40, n_boot // 2)
            sims = _simulate_acf(_params(cur, u, means[u], integer), kind, count_model, n_test, n_steps,
                                 n_trials, max_lag, rng, device, cheap=True)
            null_small = fit_model(sims, n_steps, chosen, oscillation)
            p_value = _p_value(cur.rss[u], null_small.rss)
            if p_value >= alpha:
                if kind == "continuous":  # the null simulations are the bootstrap of the smaller model
                    boot_acfs = (sims, null_small)
                break
            chosen = nxt
        fit = fits[chosen]
        j = MODELS[chosen]
        taus, weights = fit.taus[u], fit.weights[u]
        signal = fit.amps[u].sum()
        share = signal / (signal + max(fit.white[u], 0.0)) if signal > 0 else 0.0
        measurable = np.isfinite(fit.rss[u]) and not fit.at_bound[u] and share >= MIN_SIGNAL
        if not measurable:
            # no model with non-negative amplitudes fits (anti-correlated data), the timescale is at
            # the end of the grid (shorter than 0.2 steps or longer than 4 trials), or the
            # correlated part is < 1 % of the variance (white noise): no timescale to report
            chosen = "none"
            taus = weights = np.full(j, np.nan)
            tau_c, w_c = taus, weights
            tau_ci = w_ci = np.full((j, 2), np.nan)
        elif interval == "bootstrap":
            sims = np.zeros((0, max_lag + 1)) if boot_acfs is None else boot_acfs[0]
            if len(sims) < n_boot:
                more = _simulate_acf(_params(fit, u, means[u], integer), kind, count_model, n_boot - len(sims),
                                     n_steps, n_trials, max_lag, rng, device)
                sims = np.concatenate([sims, more])
            boot = fit_model(sims, n_steps, chosen, oscillation)
            tau_c, tau_ci = _quantiles(boot.taus, taus, level, log=True)
            w_c, w_ci = _quantiles(boot.weights, weights, level, log=False)
            w_c, w_ci = np.clip(w_c, 0, 1), np.clip(w_ci, 0, 1)
            curve_b = boot.curve(n_steps, max_lag) / np.maximum(sims[:, :1], 1e-300)
            band[u] = np.quantile(curve_b, [(1 - level) / 2, (1 + level) / 2], axis=0)
        elif interval == "trials":
            idx = rng.integers(0, n_trials, (n_boot, n_trials))
            res = np.stack([ac_trials[i, u].mean(0) for i in idx])
            boot = fit_model(res, n_steps, chosen, oscillation)
            b = np.log(boot.taus)
            tau_c = taus
            tau_ci = np.exp(np.quantile(b, [(1 - level) / 2, (1 + level) / 2], axis=0).T)
            w_c = weights
            w_ci = np.clip(np.quantile(boot.weights, [(1 - level) / 2, (1 + level) / 2], axis=0).T, 0, 1)
            band[u] = np.quantile(boot.curve(n_steps, max_lag) / res[:, :1], [(1 - level) / 2, (1 + level) / 2], axis=0)
        else:
            tau_c, w_c = taus, weights
            tau_ci = w_ci = np.full((j, 2), np.nan)
        one = Fit(chosen, fit.taus[u : u + 1], fit.amps[u : u + 1], fit.white[u : u + 1], fit.rss[u : u + 1],
                  fit.at_bound[u : u + 1], None if fit.osc is None else fit.osc[u : u + 1])
        c0 = ac[u, 0] if ac[u, 0] > 0 else 1.0
        curves[u] = one.curve(n_steps, max_lag)[0] / c0
        resid = ac[u] - one.curve(n_steps, max_lag)[0]
        tss = ((ac[u, 1:] - ac[u, 1:].mean()) ** 2).sum()
        variance = float(fit.amps[u].sum() + fit.white[u] + (fit.osc[u, 0] if fit.osc is not None else 0.0))
        row = {"unit": u, "model": chosen + ("+osc" if oscillation and measurable else ""),
               "n_components": j if measurable else 0}
        for i in range(max_j):
            k = i + 1
            have = i < j
            row[f"tau_{k}"] = tau_c[i] * dt if have else np.nan
            row[f"tau_{k}_low"] = tau_ci[i, 0] * dt if have else np.nan
            row[f"tau_{k}_high"] = tau_ci[i, 1] * dt if have else np.nan
            row[f"weight_{k}"] = w_c[i] if have else np.nan
            row[f"weight_{k}_low"] = w_ci[i, 0] if have else np.nan
            row[f"weight_{k}_high"] = w_ci[i, 1] if have else np.nan
            row[f"tau_{k}_raw"] = taus[i] * dt if have else np.nan
        if oscillation:
            row["osc_weight"] = fit.osc[u, 0] / max(fit.amps[u].sum() + fit.osc[u, 0], 1e-300)
            row["osc_tau"], row["osc_frequency"] = fit.osc[u, 1] * dt, fit.osc[u, 2] / dt
        row["white_noise"] = fit.white[u] / variance if variance > 0 else np.nan
        row["fano"] = fit.white[u] / means[u] if kind == "counts" and means[u] > 0 else np.nan
        row["p_value"] = p_value
        row["r2"] = 1 - (resid[1:] ** 2).sum() / tss if tss > 0 else np.nan
        row["rmse"] = float(np.sqrt((resid[1:] ** 2).mean()) / c0)
        row["at_bound"] = bool(fit.at_bound[u])
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        units.append({
            "unit": u,
            "timescales": [float(v) for v in tau_c[:j] * dt] if measurable else [],
            "intervals": [[float(a), float(b)] for a, b in tau_ci[:j] * dt] if measurable else [],
            "weights": [float(v) for v in w_c[:j]] if measurable else [],
            "weight_intervals": [[float(a), float(b)] for a, b in w_ci[:j]] if measurable else [],
            "model": row["model"],
            "timescales_raw": [float(v) for v in taus[:j] * dt] if measurable else [],
            "white_noise": float(row["white_noise"]),
            "p_value": None if not np.isfinite(p_value) else float(p_value),
            "r2": float(row["r2"]),
        })
        if progress is not None:
            progress(u + 1, n_units)
    with np.errstate(divide="ignore", invalid="ignore"):
        acf = ac / np.where(ac[:, :1] > 0, ac[:, :1], 1.0)
    settings = {"dt": dt, "kind": kind, "max_lag": max_lag, "models": list(models), "oscillation": oscillation,
                "interval": interval, "n_boot": n_boot, "level": level, "alpha": alpha, "seed": seed,
                "n_steps": n_steps, "n_trials": n_trials, "count_model": count_model, "device": device}
    return TimescaleEstimate(table=pd.DataFrame(rows), units=units, lags=np.arange(max_lag + 1) * dt,
                             acf=acf, fit=curves, band=band, settings=settings)


__all__ = ["KINDS", "TimescaleEstimate", "default_max_lag", "estimate_timescales", "guess_kind"]
