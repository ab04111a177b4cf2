"""Timescales of any activity -- simulated networks or recorded spike counts -- with uncertainty,
every unit of a recording at once (docs/timescales.md).

Per unit: the trial-averaged autocorrelation by FFT
(:func:`rnn_timescales.analysis.autocorrelation.autocorrelation`); a fit of its *expected* value
under white noise alone, one or more exponential components or a damped oscillation, each plus
white noise at lag 0 (:mod:`rnn_timescales.analysis.acf_models`; the white-noise term takes the
Poisson jump of spike counts, so it is never read as a timescale); a model choice by parametric-
bootstrap goodness-of-fit tests (:mod:`rnn_timescales.analysis.model_choice`); and the same
bootstrap's replicates, simulated from the fitted model for all units together
(:mod:`rnn_timescales.analysis.trial_pool`), fitted the same way, for the bias correction and the
intervals (:mod:`rnn_timescales.analysis.timescale_table` writes the result).

Arrays are time-major ``(time, trials, units)``; timescales are returned in units of ``dt``.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from rnn_timescales.analysis.acf_gls import gls_whitener
from rnn_timescales.analysis.acf_models import Fit
from rnn_timescales.analysis.model_choice import (
    CANDIDATES, MIN_RATIO, MIN_WEIGHT, fit_candidate, has_osc, ladder, n_exp, nan_quantiles, p_values, plausible)
from rnn_timescales.analysis.timescale_table import MIN_SIGNAL, TimescaleEstimate, build, merge
from rnn_timescales.analysis.trial_pool import (
    POOL, RATES, Generative, expected_curve, latent, pool_length, replicates, simulate_acf, simulate_pool)

KINDS = ("continuous", "counts")
INTERVALS = ("bootstrap", "trials", "none")
COUNT_MODELS = ("auto", "poisson", "gamma")
MEANS = ("auto", "trial", "global")
FITS = ("gls", "gls-bartlett", "ols")
DEFAULT_MODELS = ("1exp", "2exp", "osc")
MIN_TRIALS = 1
UNIT_CHUNK = 250  # units simulated and fitted together (memory: chunk x n_boot x lags floats)


def _check(data: np.ndarray, dt: float, kind: str, max_lag: int | None, models: Sequence[str],
           interval: str, n_boot: int, level: float, count_model: str, rate: str, mean: str,
           fit: str = "gls") -> tuple[np.ndarray, int]:
    x = np.asarray(data)
    if x.ndim == 1:
        x = x[:, None, None]
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"data must have shape (time, trials, units), got {np.shape(data)}")
    if np.iscomplexobj(x):
        raise ValueError(f"data must be real numbers, got complex values (dtype {x.dtype}); take .real or np.abs first")
    if not (np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.bool_)):
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
    if rate not in RATES:
        raise ValueError(f"rate must be one of {', '.join(RATES)}, got {rate!r}")
    if mean not in MEANS:
        raise ValueError(f"mean must be one of {', '.join(MEANS)}, got {mean!r}")
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    ladder(models)  # raises on bad names
    if n_trials < MIN_TRIALS:
        raise ValueError(f"need at least {MIN_TRIALS} trial, got {n_trials}")
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
    flat = (x.max(axis=0) == x.min(axis=0)).all(axis=0)
    if flat.any():
        raise ValueError(f"unit {int(np.flatnonzero(flat)[0])} is constant in every trial: no autocorrelation to fit")
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


def _autocorrelations(x: np.ndarray, max_lag: int, per_trial: bool,
                      global_mean: bool = False) -> tuple[np.ndarray | None, np.ndarray]:
    """Trial-averaged autocorrelation (U, L) by FFT, units in chunks (and per trial if asked);
    about each trial's mean, or each unit's mean over all trials (``global_mean``)."""
    from rnn_timescales.analysis.autocorrelation import _fft_autocorrelation

    n_steps, n_trials, n_units = x.shape
    chunk = max(1, int(2e7 // (n_steps * n_trials)))
    mean = np.empty((n_units, max_lag + 1))
    trials = np.empty((n_trials, n_units, max_lag + 1)) if per_trial else None
    for u0 in range(0, n_units, chunk):
        ac = _fft_autocorrelation(x[:, :, u0 : u0 + chunk], max_lag, True, np.float64, global_mean)
        mean[u0 : u0 + chunk] = ac.mean(0)
        if per_trial:
            trials[:, u0 : u0 + chunk] = ac
    return trials, mean


def _generative(fit: Fit, model: str, mean: np.ndarray, c0: np.ndarray, kind: str, rate: str,
                count_model: str, integer: bool) -> Generative:
    """Every unit's fitted model as a simulatable one; counts' Fano factor from the lag-0 excess
    (W / mean for a rectified rate; (C_0 - mean^2 (e^var - 1)) / mean for an exponentiated one)."""
    if kind == "counts" and rate == "exp":
        var = fit.amps.sum(1) + (fit.osc[:, 0] if fit.osc is not None else 0.0)
        fano = (c0 - mean**2 * np.expm1(np.nan_to_num(var))) / mean
    else:
        fano = np.maximum(np.nan_to_num(fit.white), 0.0) / np.where(mean > 0, mean, 1.0)
    fano = np.clip(np.nan_to_num(fano, nan=1.0), 0.05, None)
    poisson = np.full(len(mean), count_model == "poisson")
    if count_model == "auto":
        poisson = integer & (np.abs(fano - 1) < 0.2)
    fano = np.where(poisson, 1.0, fano)
    return Generative(fit, mean, fano, poisson, kind, rate)


def _simulate_and_fit(gen: Generative, model: str, n_steps: int, n_trials: int, max_lag: int, n_rep: int,
                      rng: np.random.Generator, n_mean: int = 1, whiten: np.ndarray | None = None) -> tuple[np.ndarray, Fit]:
    """``n_rep`` replicates per unit simulated from ``gen`` (U, B, L) and the model's fits of them
    (flattened U * B; ``whiten`` (U, L, L): each unit's generalised least-squares weighting, the
    same as its data's)."""
    fit = gen.fit
    slowest = np.nanmax(np.concatenate([fit.taus, fit.osc[:, 1:2] if fit.osc is not None else np.zeros((len(fit.white), 0)),
                                        np.ones((len(fit.white), 1))], 1))
    n_sim = pool_length(n_steps, max_lag, slowest)
    n_draw = max(1, int(round(n_trials * n_steps / n_sim)))
    pool = simulate_pool(gen, n_sim, max_lag, POOL, rng, global_mean=n_mean > 1)
    sims = replicates(expected_curve(gen, n_steps, max_lag, n_mean), pool, n_draw, n_rep, rng)
    y = latent(sims, gen.mean) if gen.kind == "counts" and gen.rate == "exp" else sims
    return y, fit_candidate(model, y.reshape(-1, max_lag + 1), n_steps, n_mean, whiten)


def estimate_timescales(
    data: np.ndarray,
    dt: float = 1.0,
    kind: str = "continuous",
    max_lag: int | None = None,
    models: Sequence[str] = DEFAULT_MODELS,
    oscillation: bool = False,
    interval: str = "bootstrap",
    n_boot: int = 100,
    level: float = 0.95,
    alpha: float = 0.01,
    count_model: str = "auto",
    rate: str = "rectified",
    mean: str = "auto",
    fit: str = "gls",
    seed: int | None = 0,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = 1,
) -> TimescaleEstimate:
    """Timescales of every unit, with intervals: autocorrelation, model fits, simulation-calibrated
    model choice, parametric-bootstrap bias correction and intervals (docs/timescales.md).

    Parameters
    ----------
    data : array, shape (time, trials, units), (time, trials) or (time,)
        Activity (``kind="continuous"``) or spike counts per bin (``kind="counts"``), time-major.
    dt : float
        Sampling interval or bin size; timescales are returned in its unit.
    kind : {"continuous", "counts"}
        Continuous data are OU processes plus Gaussian white noise; counts are Poisson or gamma
        counts of a rate that follows the OU process (``rate``).
    max_lag : int, optional
        Fit lags 0 ... max_lag (steps); default :func:`default_max_lag`. Trials must have at
        least 2 * max_lag steps.
    models : sequence of {"1exp", "2exp", "3exp", "osc", "1exp+osc"}
        Candidate models besides "none" (white noise only), tried in order of complexity (none,
        1exp, osc, 2exp, 1exp+osc, 3exp): a unit moves from its model to the simplest larger
        candidate that fits better and is plausible (weights >= 5 %, timescales >= 1.5x apart and
        inside the grid; an oscillation that swings) when its model fails a parametric-bootstrap
        goodness-of-fit test at level ``alpha``.
    oscillation : bool
        Add "osc" and "1exp+osc" to the candidates.
    interval : {"bootstrap", "trials", "none"}
        ``"bootstrap"``: the test's simulations from the chosen model give the bias correction and
        intervals. ``"trials"``: resample trials (no bias correction; needs >= 20 trials).
        ``"none"``: point estimates only (the model choice still simulates, 40 data sets per test).
    n_boot : int
        Simulated data sets per unit and test.
    level : float
        Confidence level of the intervals.
    alpha : float
        Level of the goodness-of-fit tests.
    count_model : {"auto", "poisson", "gamma"}
        Counts given the rate: "auto" is Poisson for integer data whose lag-0 excess matches a Fano
        factor of 1 (within 20 %), else gamma counts with the measured Fano factor.
    rate : {"rectified", "exp"}
        How the counts' rate follows the latent OU process x: ``max(mean + x, 0)`` or
        ``mean exp(x - var/2)``. Either way the timescales are the latent process's; for "exp"
        the fit is of log(1 + C_k / mean^2), the latent autocovariance.
    mean : {"auto", "trial", "global"}
        The mean subtracted by the autocorrelation estimate: each trial's own (the definition of
        docs/science.md; robust to trial-to-trial changes of the mean), each unit's mean over
        all trials (assumes the same mean in every trial; keeps the slow fluctuations that a
        short trial's own mean absorbs, so timescales near the trial length are estimated more
        precisely), or per unit the mean of all trials unless its trial means differ more than
        its fitted timescales explain (a chi-square test at ``alpha``,
        :mod:`rnn_timescales.analysis.mean_choice`; the table's ``mean`` and ``mean_p_value``).
        The expected estimate is modelled either way.
    fit : {"gls", "gls-bartlett", "ols"}
        How every model is fitted to the autocorrelation (the data, the bootstrap's replicates and
        the model choice's comparisons alike): ``"gls"``, generalised least squares weighted by
        the covariance of the estimate across lags under the unit's ordinary least-squares fit,
        exact for Gaussian trials of the data's length (:mod:`rnn_timescales.analysis.acf_gls`;
        the replicates of a unit with its data's weighting); ``"gls-bartlett"``, the same with
        Bartlett's asymptotic covariance (the first weighting; the same for trials much longer
        than the timescales); ``"ols"``, every lag weighted equally (the estimator before
        generalised least squares).
    seed : int, optional
    progress : callable(done, total), optional
        Called as units' models are settled.
    threads : int or None
        Threads of the linear-algebra library (BLAS) during the estimate; None leaves its
        setting. The work is many small matrices (one unit's lags at a time), which more threads
        do not speed up on an idle machine (a 1 000-unit recording: 29.5 s with two threads at
        1.3x the CPU, 29.5-32.0 s with one) and slow down many-fold on a busy one, where the
        threads wait on each other (docs/timescales.md, "Cost of a whole recording").

    Returns
    -------
    TimescaleEstimate
        ``table`` has one row per unit: ``unit, model`` ("none" where no timescale is measurable:
        white noise passes the test, the correlated part is below 1 % of the variance, the
        timescale is outside 0.2 steps ... 4 trials, or the data are anti-correlated),
        ``n_components, tau_1 ... tau_J`` (fastest first, units of dt, bias-corrected),
        ``tau_j_low, tau_j_high``, ``weight_j, weight_j_low, weight_j_high``, ``tau_j_raw``,
        ``osc_tau, osc_tau_low, osc_tau_high, osc_frequency, osc_frequency_low, osc_frequency_high,
        osc_weight`` (when oscillations are candidates; frequency in cycles per unit of dt),
        ``white_noise``, ``fano`` (counts), ``p_value`` (the chosen model's goodness of fit),
        ``poor_fit`` (it fails the test and no candidate does better), ``r2``, ``rmse``, ``at_bound``.
    """
    if threads is not None:
        from threadpoolctl import threadpool_limits

        if not isinstance(threads, (int, np.integer)) or isinstance(threads, bool) or threads < 1:
            raise ValueError(f"threads must be a positive integer or None, got {threads!r}")
        with threadpool_limits(limits=int(threads), user_api="blas"):
            return estimate_timescales(data, dt, kind, max_lag, models, oscillation, interval, n_boot, level, alpha,
                                       count_model, rate, mean, fit, seed, progress, None)
    t_start = time.perf_counter()
    if oscillation:
        models = tuple(models) + tuple(m for m in ("osc", "1exp+osc") if m not in models)
    x, max_lag = _check(data, dt, kind, max_lag, models, interval, n_boot, level, count_model, rate, mean, fit)
    rng = np.random.default_rng(seed)
    args = (dt, kind, max_lag, models, interval, n_boot, level, alpha, count_model, rate, fit, seed, progress)
    if mean != "auto":
        est = _estimate(x, mean, rng, *args)
    else:
        from rnn_timescales.analysis.mean_choice import common_mean

        from rnn_timescales.analysis.autocorrelation import both_mean_autocorrelations

        both = both_mean_autocorrelations(x, max_lag)  # about each trial's mean and about the unit's
        ac = both["trial"]
        means = x.mean(axis=(0, 1)).astype(float)
        exp_rate = kind == "counts" and rate == "exp"
        common, p_mean = common_mean(x, latent(ac, means) if exp_rate else ac, x.shape[0], max_lag, alpha,
                                     means if exp_rate else None)
        parts, done = [], 0
        for m, idx in (("global", np.flatnonzero(common)), ("trial", np.flatnonzero(~common))):
            if len(idx):
                shifted = None if progress is None else (lambda d, t, o=done: progress(o + d, x.shape[2]))
                parts.append((idx, _estimate(x[:, :, idx], m, rng, *args[:-1], shifted, both[m][idx])))
                done += len(idx)
        est = merge(parts, x.shape[2], alpha, "osc" not in ladder(models))
        est.settings["mean"] = "auto"
        est.settings["n_mean"] = None
        est.table["mean_p_value"] = p_mean
    est.settings["seconds"] = round(time.perf_counter() - t_start, 3)
    return est


def _estimate(x: np.ndarray, mean: str, rng: np.random.Generator, dt: float, kind: str, max_lag: int,
              models: Sequence[str], interval: str, n_boot: int, level: float, alpha: float, count_model: str,
              rate: str, fit_method: str, seed: int | None,
              progress: Callable[[int, int], None] | None, ac: np.ndarray | None = None) -> TimescaleEstimate:
    """The estimate of every unit of checked data ``x`` with one kind of mean ("trial", "global");
    ``ac``: their trial-averaged autocorrelation with that mean, if already computed."""
    n_steps, n_trials, n_units = x.shape
    n_mean = n_trials if mean == "global" else 1
    ac_trials = None
    if ac is None or interval == "trials":
        ac_trials, ac = _autocorrelations(x, max_lag, interval == "trials", mean == "global")
    means = x.mean(axis=(0, 1)).astype(float)
    integer = guess_kind(x) == "counts"
    exp_rate = kind == "counts" and rate == "exp"
    y = latent(ac, means) if exp_rate else ac
    steps = ladder(models)
    n_rep = n_boot if interval != "none" else 40
    current = np.zeros(n_units, int)  # index into steps
    fits: dict[str, Fit] = {}
    pilots: dict[str, Fit] = {}  # generalised least squares: the ordinary fits whose covariance weights it
    boots: dict[str, dict] = {}
    p = np.full(n_units, np.nan)
    poor = np.zeros(n_units, bool)
    pending = np.ones(n_units, bool)

    def fitted(model: str, idx: np.ndarray) -> Fit:
        """The model's fit of units idx (fitted once per unit)."""
        if model not in fits:
            fits[model] = Fit.empty(model, n_units, n_exp(model), has_osc(model))
            fits[model].done = np.zeros(n_units, bool)
        store = fits[model]
        todo = idx[~store.done[idx]]
        if len(todo):
            ols = fit_candidate(model, y[todo], n_steps, n_mean)
            if fit_method != "ols":
                if model not in pilots:
                    pilots[model] = Fit.empty(model, n_units, n_exp(model), has_osc(model))
                pilots[model].put(todo, ols)
                ols = fit_candidate(model, y[todo], n_steps, n_mean, weighting(model, todo))
            store.put(todo, ols)
            store.done[todo] = True
        return store

    whitenings: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # model -> (row of each unit or -1, matrices)

    def weighting(model: str, idx: np.ndarray) -> np.ndarray | None:
        """The generalised least-squares whitening of units idx under their fit of ``model``
        (None: ordinary least squares); the last computed units of each model are kept, since
        the bootstrap and the model choice ask again for those that were just fitted."""
        if fit_method == "ols":
            return None
        if model in whitenings:
            row, w = whitenings[model]
            if (row[idx] >= 0).all():
                return w[row[idx]]
        covariance = "bartlett" if fit_method == "gls-bartlett" else "exact"
        w = gls_whitener(pilots[model].take(idx), n_steps, max_lag, covariance=covariance)
        row = np.full(n_units, -1)
        row[idx] = np.arange(len(idx))
        whitenings[model] = (row, w)
        return w

    while pending.any():
        for level_ in np.unique(current[pending]):
            model = steps[level_]
            idx = np.flatnonzero(pending & (current == level_))
            store = fitted(model, idx)
            for c0 in range(0, len(idx), UNIT_CHUNK):
                part = idx[c0 : c0 + UNIT_CHUNK]
                gen = _generative(store.take(part), model, means[part], ac[part, 0], kind, rate, count_model, integer)
                sims, bfit = _simulate_and_fit(gen, model, n_steps, n_trials, max_lag, n_rep, rng, n_mean,
                                               weighting(model, part))
                p[part] = p_values(store.rss[part], bfit.rss.reshape(len(part), n_rep))
                _keep_boot(boots, model, part, n_units, n_rep, sims, bfit, n_steps, max_lag, level, n_mean)
            fail = p[idx] < alpha
            moved = np.zeros(len(idx), bool)
            for nxt in range(level_ + 1, len(steps)):
                trying = idx[fail & ~moved]
                if not len(trying):
                    break
                cand = fitted(steps[nxt], trying).take(trying)
                rss = store.rss[trying]
                if fit_method != "ols":  # the current model refitted with the candidate's weighting
                    rss = fit_candidate(model, y[trying], n_steps, n_mean, weighting(steps[nxt], trying)).rss
                ok = plausible(cand, max_lag) & (cand.rss < rss)
                current[trying[ok]] = nxt
                moved[np.isin(idx, trying[ok])] = True
            poor[idx[fail & ~moved]] = True  # kept with a failed test (the table flags strong failures)
            pending[idx[~moved]] = False
            if progress is not None:
                progress(int((~pending).sum()), n_units)
    chosen = [steps[i] for i in current]
    trial_boot = (_trial_resamples(ac_trials, means, exp_rate, chosen, n_boot, n_steps, rng, n_mean, weighting)
                  if interval == "trials" else None)
    settings = {"dt": dt, "kind": kind, "max_lag": max_lag, "models": list(steps[1:]), "interval": interval,
                "n_boot": n_boot, "level": level, "alpha": alpha, "seed": seed, "n_steps": n_steps,
                "n_trials": n_trials, "count_model": count_model, "rate": rate if kind == "counts" else None,
                "pool": POOL, "mean": mean, "n_mean": n_mean, "fit": fit_method}
    est = build(y, ac, means, chosen, fits, boots, trial_boot, p, poor, kind, interval, level, dt, n_steps,
                max_lag, settings, "osc" not in steps)
    est.table.insert(2, "mean", mean)
    for u in est.units:
        u["mean"] = mean
    return est


def _keep_boot(boots: dict, model: str, part: np.ndarray, n_units: int, n_rep: int, sims: np.ndarray, bfit: Fit,
               n_steps: int, max_lag: int, level: float, n_mean: int = 1) -> None:
    """Store the replicates' fitted parameters (units part of the model's (U, B, ...) arrays) and
    the pointwise band of the fitted curves (normalised by each replicate's lag 0)."""
    if model not in boots:
        j = n_exp(model)
        boots[model] = {"taus": np.full((n_units, n_rep, j), np.nan), "weights": np.full((n_units, n_rep, j), np.nan),
                        "osc": np.full((n_units, n_rep, 3), np.nan), "band": np.full((n_units, 2, max_lag + 1), np.nan)}
    b = boots[model]
    k = len(part)
    b["taus"][part] = bfit.taus.reshape(k, n_rep, -1)
    b["weights"][part] = bfit.weights.reshape(k, n_rep, -1)
    if bfit.osc is not None:
        b["osc"][part] = bfit.osc.reshape(k, n_rep, 3)
        total = bfit.amps.sum(1) + bfit.osc[:, 0]
        with np.errstate(divide="ignore", invalid="ignore"):
            b["osc"][part, :, 0] = (bfit.osc[:, 0] / total).reshape(k, n_rep)  # the oscillation's weight
    with np.errstate(divide="ignore", invalid="ignore"):
        curves = (bfit.curve(n_steps, max_lag, n_mean=n_mean) / np.maximum(sims.reshape(-1, max_lag + 1)[:, :1], 1e-300))
    b["band"][part] = np.moveaxis(nan_quantiles(curves.reshape(k, n_rep, -1), [(1 - level) / 2, (1 + level) / 2], axis=1), 0, 1)


def _trial_resamples(ac_trials: np.ndarray, means: np.ndarray, exp_rate: bool, chosen: list[str], n_boot: int,
                     n_steps: int, rng: np.random.Generator, n_mean: int = 1,
                     weighting: Callable[[str, np.ndarray], np.ndarray | None] | None = None) -> dict:
    """Fits of the chosen model to trial-resampled autocorrelations: unit -> fitted replicates
    (``weighting(model, units)``: each unit's generalised least-squares whitening, or None)."""
    n_trials, n_units, n_lags = ac_trials.shape
    idx = rng.integers(0, n_trials, (n_boot, n_trials))
    res = np.stack([ac_trials[i].mean(0) for i in idx], 1)  # (U, B, L)
    if exp_rate:
        res = latent(res, means)
    out = {}
    for model in set(chosen):
        units = np.array([u for u in range(n_units) if chosen[u] == model])
        if model == "none":
            continue
        f = fit_candidate(model, res[units].reshape(-1, n_lags), n_steps, n_mean,
                          None if weighting is None else weighting(model, units))
        out[model] = (units, f, res[units])
    return out


__all__ = ["CANDIDATES", "DEFAULT_MODELS", "FITS", "INTERVALS", "KINDS", "MEANS", "MIN_RATIO", "MIN_SIGNAL", "MIN_WEIGHT", "RATES",
           "TimescaleEstimate", "default_max_lag", "estimate_timescales", "guess_kind", "plausible", "simulate_acf"]
