"""Models of the measured autocorrelation and their vectorised least-squares fit (docs/timescales.md).

The autocorrelation of a trial is estimated as in :mod:`rnn_timescales.analysis.autocorrelation`
(trial mean removed, lag k divided by n - k, averaged over trials). Its expectation is *not* the
process's autocovariance gamma_k: the trial mean absorbs part of the slow fluctuations, so

    E[C_k] = gamma_k - (P(n - k) + G - P(k)) / (n (n - k)) + G / n^2,

with g(t) = sum_{s<n} gamma_{|t-s|}, P(m) = sum_{t<m} g(t), G = P(n) (n samples per trial).
The map gamma -> E[C] is linear, so a model gamma_k = sum_j A_j rho_j(k) + W delta_k (exponential
components rho_j(k) = exp(-k / tau_j), optionally a damped oscillation, and white noise W at lag 0
-- the Poisson or measurement noise of counts) has the expected estimate

    E[C_k] = sum_j A_j b(tau_j)_k + W b_0(k),   b = the map applied to rho_j,

linear in the amplitudes. The fit therefore searches the timescales on a grid (all tuples of a
log-spaced grid, shared by every curve) with the amplitudes solved in closed form, then refines
each curve's best tuple on shrinking local grids, and an oscillation's decay and frequency by
damped Gauss-Newton (Levenberg-Marquardt) steps, the amplitudes again in closed form. Fitting the
*expected estimate* rather than gamma removes the finite-sample (mean-subtraction) bias of the
estimator at its source.

Everything is in time steps; callers scale by the bin size.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

from rnn_timescales.analysis.acf_bases import exp_basis, expected_estimate, osc_basis, osc_pair, tau_grid, white_basis
from rnn_timescales.analysis.acf_gls import gls_search
from rnn_timescales.analysis.acf_solve import (
    _finish, _inverse, _refine_one, _refine_osc, _refine_taus, _solve, _TableProducts)
from rnn_timescales.analysis.acf_solve import whiten as whitened

# model name -> number of exponential components; "+osc" adds a damped oscillation; "osc" is a
# damped oscillation alone (0 exponentials, the oscillation always on)
MODELS = {"osc": 0, "1exp": 1, "2exp": 2, "3exp": 3}
OSC_ROUNDS = 16  # most steps of the oscillation's decay and frequency (Levenberg-Marquardt, acf_solve._refine_osc)
GRID_SIZE = {0: 1, 1: 200, 2: 80, 3: 48}  # log-spaced timescales of the global search, by model
# (two timescales: 80, a factor 1.12 apart, and a seventh refinement round: 3160 pairs instead of
# 7140, residuals within 1.3 % of 120 points' (benchmarks/timescales_fit_compare.py, docs/timescales.md)
GLS_CURVES = 2000  # curves per generalised least-squares call (memory: curves x candidates x lags)
# local refinement: points per timescale and the half-widths of the successive grids, in grid steps
# (two timescales: a 3 x 3 pattern search in halving rounds, half the cost of 7 x 7 in five
# with the same estimates and intervals on the field benchmark's two-timescale data; docs/timescales.md)
REFINE = {0: (1, ()), 1: (9, (1.0, 0.25, 0.06)), 2: (3, (1.0, 0.5, 0.25, 0.12, 0.06, 0.03, 0.015)),
          3: (5, (1.5, 0.75, 0.4, 0.2, 0.1, 0.05, 0.025))}


@dataclass
class Fit:
    """Least-squares fit of one model to U curves.

    taus: (U, J) timescales in steps, ascending; amps: (U, J) amplitudes A_j (>= 0, in the units
    of the curves); white: (U,) white-noise variance W; rss: (U,) residual sum of squares;
    osc: (U, 3) (amplitude, tau, frequency) of the oscillation, or None; at_bound: (U,) a
    timescale at the end of the grid; sine: (U,) the oscillation's phase term B_o (its
    autocovariance is exp(-k / tau) (A_o cos 2 pi f k + B_o sin 2 pi f k), A_o the amplitude:
    an AR(2) process has B_o / A_o = (1 - r^2) / (1 + r^2) cot(2 pi f)), or None.
    """

    model: str
    taus: np.ndarray
    amps: np.ndarray
    white: np.ndarray
    rss: np.ndarray
    at_bound: np.ndarray
    osc: np.ndarray | None = None
    sine: np.ndarray | None = None

    @property
    def weights(self) -> np.ndarray:
        """Share of each component in the variance of the slow (non-white) part, (U, J)."""
        total = self.amps.sum(1, keepdims=True)
        if self.osc is not None:
            total = total + self.osc[:, :1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.amps / total

    def take(self, idx: np.ndarray) -> "Fit":
        """The fits of curves ``idx`` (an index array or boolean mask)."""
        return Fit(self.model, self.taus[idx], self.amps[idx], self.white[idx], self.rss[idx], self.at_bound[idx],
                   None if self.osc is None else self.osc[idx], None if self.sine is None else self.sine[idx])

    @classmethod
    def empty(cls, model: str, n: int, n_exp: int, oscillation: bool) -> "Fit":
        """NaN fits of ``n`` curves, to be filled with :meth:`put`."""
        nan = np.full((n, n_exp), np.nan)
        return cls(model, nan, nan.copy(), np.full(n, np.nan), np.full(n, np.nan), np.zeros(n, bool),
                   np.full((n, 3), np.nan) if oscillation else None, np.full(n, np.nan) if oscillation else None)

    @classmethod
    def concat(cls, parts: list["Fit"]) -> "Fit":
        """The fits of ``parts``' curves, one after another."""
        def cat(name):
            return None if getattr(parts[0], name) is None else np.concatenate([getattr(p, name) for p in parts])
        return cls(parts[0].model, *(cat(n) for n in ("taus", "amps", "white", "rss", "at_bound", "osc", "sine")))

    def put(self, idx: np.ndarray, other: "Fit") -> None:
        """Write ``other``'s fits into curves ``idx``."""
        for name in ("taus", "amps", "white", "rss", "at_bound", "osc", "sine"):
            if getattr(self, name) is not None:
                getattr(self, name)[idx] = getattr(other, name)

    def curve(self, n_steps: int, max_lag: int, expected: bool = True, n_mean: int = 1) -> np.ndarray:
        """The fitted autocovariance at lags 0 ... max_lag, (U, max_lag + 1): the expected
        estimate (``expected=True``, comparable to the data) or the process's own."""
        if expected:
            out = (self.amps[..., None] * exp_basis(self.taus, n_steps, max_lag, n_mean)).sum(1)
            out += self.white[:, None] * white_basis(n_steps, max_lag, n_mean)
            if self.osc is not None:
                pair = osc_pair(self.osc[:, 1], self.osc[:, 2], n_steps, max_lag, n_mean)
                out += self.osc[:, :1] * pair[:, 0] + self._sine()[:, None] * pair[:, 1]
            return out
        k = np.arange(max_lag + 1, dtype=np.float64)
        out = (self.amps[..., None] * np.exp(-k / self.taus[..., None])).sum(1)
        out[:, 0] += self.white
        if self.osc is not None:
            out += self.osc_gamma(k)
        return out

    def _sine(self) -> np.ndarray:
        return np.zeros(len(self.white)) if self.sine is None else np.nan_to_num(self.sine)

    def osc_gamma(self, k: np.ndarray) -> np.ndarray:
        """The oscillation's autocovariance at lags ``k`` (>= 0), (U, len(k)):
        exp(-k / tau) (A_o cos 2 pi f k + B_o sin 2 pi f k)."""
        o = self.osc
        ph = 2 * np.pi * o[:, 2:3] * k
        return np.exp(-k / o[:, 1:2]) * (o[:, :1] * np.cos(ph) + self._sine()[:, None] * np.sin(ph))


def _basis_rows(n_steps: int, max_lag: int, n_exp: int, oscillation: bool, size: int, tau_min: float,
                n_mean: int = 1):
    """Shared candidate rows (exponentials on the grid, oscillations, white noise), their Gram
    matrix and the candidate index tuples; cached per (n_steps, max_lag, model)."""
    key = (n_steps, max_lag, n_exp, oscillation, size, tau_min, n_mean)
    if key in _ROWS:
        return _ROWS[key]
    taus = tau_grid(n_steps, size, tau_min)
    rows = [exp_basis(taus, n_steps, max_lag, n_mean)]
    tuples = np.array(list(combinations(range(size), n_exp)), dtype=int).reshape(-1 if n_exp else 1, n_exp)
    osc_par = np.zeros((0, 2))
    if oscillation:
        f_grid = np.linspace(0.5 / max_lag, 0.45, 40 if n_exp <= 1 else 16)
        to_grid = np.geomspace(2.0, 4.0 * n_steps, 12 if n_exp <= 1 else 6)
        osc_par = np.stack(np.meshgrid(to_grid, f_grid, indexing="ij"), -1).reshape(-1, 2)
        pair = osc_pair(osc_par[:, 0], osc_par[:, 1], n_steps, max_lag, n_mean)  # (P, 2, L)
        rows += [pair[:, 0], pair[:, 1]]  # the cosine rows, then the sine (phase) rows
        o = size + np.arange(len(osc_par))
        tuples = np.concatenate([np.repeat(tuples, len(o), 0), np.tile(o, len(tuples))[:, None],
                                 np.tile(o + len(osc_par), len(tuples))[:, None]], 1)
    rows.append(white_basis(n_steps, max_lag, n_mean)[None])
    rows = np.concatenate(rows)
    white = rows.shape[0] - 1
    tuples = np.concatenate([tuples, np.full((len(tuples), 1), white)], 1)
    gram = rows @ rows.T
    cand_gram = gram[tuples[:, :, None], tuples[:, None, :]]
    out = (taus, osc_par, rows, tuples, _inverse(cand_gram))
    if len(_ROWS) > 16:
        _ROWS.clear()
    _ROWS[key] = out
    return out


_ROWS: dict = {}


def fit_model(
    y: np.ndarray,
    n_steps: int,
    model: str = "1exp",
    oscillation: bool = False,
    grid: int | None = None,
    tau_min: float = 0.2,
    n_mean: int = 1,
    whiten: np.ndarray | None = None,
) -> Fit:
    """Fit ``sum_j A_j b(tau_j) + W b_0`` (+ a damped oscillation) to every curve, by ordinary or
    (``whiten``) generalised least squares.

    Parameters
    ----------
    y : array, shape (U, L)
        Autocovariances at lags 0 ... L - 1 (e.g. trial-averaged :func:`autocorrelation`); scale
        free (the fit is invariant to multiplying a curve by a constant).
    n_steps : int
        Samples per trial of the data the curves come from.
    model : {"osc", "1exp", "2exp", "3exp"}
        Number of exponential components ("osc": none, a damped oscillation alone).
    oscillation : bool
        Add a damped oscillation A_o exp(-k / tau_o) cos(2 pi f k), f in cycles per step
        (always on for "osc").
    grid : int, optional
        Size of the log-spaced timescale grid (default by model).
    tau_min : float
        Smallest timescale searched, in steps.
    n_mean : int
        Trials in the mean subtracted by the estimate (1: each trial's own mean; the number of
        trials for ``mean="global"``), see :func:`expected_estimate`.
    whiten : array, shape (G, L, L), optional
        Generalised least squares: minimise |W_g r|^2 (r the residual; W_g = L^-1 for the
        covariance C = L L^T of the curve's estimate, :func:`rnn_timescales.analysis.acf_gls.gls_whitener`),
        the U = G x B curves in G groups of B consecutive ones, each with its matrix (a unit's data,
        B = 1, or its bootstrap replicates). The returned ``rss`` is then |W r|^2.

    Returns
    -------
    Fit
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {model!r}")
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    n_units, n_lags = y.shape
    max_lag = n_lags - 1
    if max_lag < 3 or max_lag >= n_steps:
        raise ValueError(f"need 3 <= max lag < n_steps, got max lag {max_lag} with n_steps {n_steps}")
    if whiten is not None:
        whiten = np.asarray(whiten, dtype=np.float64)
        if whiten.ndim != 3 or whiten.shape[1:] != (n_lags, n_lags) or not len(whiten) or n_units % len(whiten):
            raise ValueError(f"whiten must have shape (G, {n_lags}, {n_lags}) with G dividing {n_units}, "
                             f"got {whiten.shape}")
        per = n_units // len(whiten)
        chunk = max(1, GLS_CURVES // per)
        if len(whiten) > chunk:
            return Fit.concat([fit_model(y[g0 * per : (g0 + chunk) * per], n_steps, model, oscillation, grid, tau_min,
                                         n_mean, whiten[g0 : g0 + chunk]) for g0 in range(0, len(whiten), chunk)])
    finite = np.isfinite(y).all(1)
    scale = np.where(finite & (np.abs(y[:, 0]) > 0), np.abs(np.nan_to_num(y[:, 0])), 1.0)[:, None]
    ys = whitened(np.where(finite[:, None], y, 0.0) / scale, whiten)
    n_exp = MODELS[model]
    oscillation = oscillation or n_exp == 0
    n_amp = n_exp + int(oscillation)  # amplitudes >= 0: the exponentials' and the oscillation's cosine
    # (the oscillation's sine term, its phase, follows them with either sign, then the white noise)
    size = grid or GRID_SIZE[n_exp]
    taus, osc_par, rows, tuples, cand_inv = _basis_rows(n_steps, max_lag, n_exp, oscillation, size, tau_min, n_mean)
    log_step = np.log(taus[1] / taus[0]) if len(taus) > 1 else 0.0

    # global search: every candidate tuple for every curve, amplitudes in closed form
    if whiten is None:
        best = _search(ys, rows, tuples, cand_inv, n_amp)
    else:
        best = gls_search(ys, rows, tuples, n_amp, whiten)
    best_idx = tuples[best, :n_exp]
    best_tau = taus[best_idx]
    at_bound = (best_idx == 0).any(1) | (best_idx == size - 1).any(1)
    osc = osc_par[tuples[best, n_exp] - size] if oscillation else None  # (U, 2) tau_o, f
    w = rows[-1] if whiten is None else np.repeat(whiten @ rows[-1], per, axis=0)  # (L,) or per curve (U, L)

    # local refinements around the best: the timescales jointly on shrinking grids, then (with
    # them fixed) a step of the oscillation's decay and frequency
    offsets, widths = REFINE[n_exp]
    rounds = max(len(widths), OSC_ROUNDS if oscillation else 0)
    lam = np.full(n_units, 1e-2)  # the oscillation's Levenberg-Marquardt damping
    osc_rows = None  # its whitened rows at the current decay and frequency
    # once the timescales' rounds are done, a block of curves (a whitening group, or one curve by
    # ordinary least squares) stops when every curve in it has converged
    block = 1 if whiten is None else per
    live = np.ones(n_units // block, bool)
    converged = np.zeros(n_units, bool)
    # generalised least squares of exponentials alone: the refinement's products in the table's
    # low-rank coordinates (acf_solve._TableProducts)
    products = None
    if whiten is not None and n_exp and not oscillation:
        products = _TableProducts((int(n_steps), int(max_lag), float(taus[0]), float(taus[-1]), int(n_mean)),
                                  whiten, ys, w)
    for r in range(rounds):
        if n_exp == 1 and not oscillation and whiten is None:
            best_tau = _refine_one(best_tau, 1.5 * log_step, taus, n_steps, max_lag, ys, w, n_mean)
            break
        if live.all():
            cur, wh = slice(None), whiten
        else:
            blocks = np.flatnonzero(live)
            cur = (blocks[:, None] * block + np.arange(block)).ravel()
            wh = None if whiten is None else whiten[blocks]
        w_cur = w if w.ndim == 1 else w[cur]
        if n_exp:
            best_tau[cur] = _refine_taus(best_tau[cur], widths[min(r, len(widths) - 1)] * log_step, offsets, taus,
                                         n_steps, max_lag, None if osc is None else osc[cur], ys[cur], n_amp, w_cur,
                                         n_mean, wh, parabola=whiten is not None and not oscillation
                                         and r == len(widths) - 1, products=products)
        if oscillation:  # with them fixed, one damped Gauss-Newton step of the oscillation's decay and frequency
            n_cur = n_units if isinstance(cur, slice) else len(cur)
            fixed = np.concatenate([whitened(exp_basis(best_tau[cur], n_steps, max_lag, n_mean), wh),
                                    _white_rows(w_cur, n_cur, 1)[:, 0]], axis=1)
            osc[cur], lam[cur], rows_cur, converged[cur] = _refine_osc(
                osc[cur], lam[cur], fixed, ys[cur], n_amp, n_steps, max_lag, n_mean, wh,
                None if osc_rows is None else osc_rows[cur])
            if osc_rows is None:
                osc_rows = rows_cur
            else:
                osc_rows[cur] = rows_cur
            if r >= len(widths) - 1:  # the timescales' rounds done: blocks whose every curve converged stop
                live &= ~converged.reshape(-1, block).all(1)
                if not live.any():
                    break
    best_tau = np.sort(best_tau, axis=1)
    parts = [whitened(exp_basis(best_tau, n_steps, max_lag, n_mean), whiten)[:, None]]
    if oscillation:
        parts.append(whitened(osc_pair(osc[:, 0], osc[:, 1], n_steps, max_lag, n_mean), whiten)[:, None])
    parts.append(_white_rows(w, n_units, 1))
    coef, rss = _solve(np.concatenate(parts, axis=2), ys, n_amp)
    coef, rss = coef[:, 0], rss[:, 0]
    failed = ~np.isfinite(rss) | ~finite
    osc_out = np.column_stack([coef[:, n_exp] * scale[:, 0], osc]) if oscillation else None
    name = "osc" if n_exp == 0 else model + ("+osc" if oscillation else "")
    fit = Fit(model=name, taus=best_tau, amps=coef[:, :n_exp] * scale,
              white=coef[:, -1] * scale[:, 0], rss=rss * scale[:, 0] ** 2, at_bound=at_bound, osc=osc_out,
              sine=coef[:, n_exp + 1] * scale[:, 0] if oscillation else None)
    for arr in (fit.taus, fit.amps, fit.white, fit.rss) + ((fit.sine,) if oscillation else ()):
        arr[failed] = np.nan
    return fit


def _search(ys: np.ndarray, rows: np.ndarray, tuples: np.ndarray, cand_inv: np.ndarray, n_amp: int) -> np.ndarray:
    """The global grid search by ordinary least squares: every candidate tuple of the shared basis
    ``rows`` for every curve ``ys`` (U, L), with the tuples' precomputed inverse Gram matrices.
    Returns the best tuple's index (U,)."""
    n_units = len(ys)
    proj = ys @ rows.T  # (U, R)
    yy = (ys * ys).sum(1)
    best = np.zeros(n_units, int)
    best_rss = np.full(n_units, np.inf)
    step = max(1, 2_000_000 // max(n_units, 1))
    for p0 in range(0, len(tuples), step):
        rhs = proj[:, tuples[p0 : p0 + step]]  # (U, P, C)
        _, rss = _finish(None, rhs, yy[:, None], n_amp, inverse=cand_inv[p0 : p0 + step][None])
        i = rss.argmin(1)
        r = rss[np.arange(n_units), i]
        better = r < best_rss
        best_rss[better], best[better] = r[better], p0 + i[better]
    return best


def _white_rows(w: np.ndarray, n_units: int, n_cand: int) -> np.ndarray:
    """The white-noise row (L,), or per curve (U, L), as (U, n_cand, 1, L)."""
    return np.broadcast_to(w.reshape(-1, 1, 1, w.shape[-1]) if w.ndim == 2 else w, (n_units, n_cand, 1, w.shape[-1]))


def fit_white(y: np.ndarray, n_steps: int, n_mean: int = 1, whiten: np.ndarray | None = None) -> Fit:
    """The white-noise-only model ("none": no timescale), W b_0, fitted to every curve (U, L):
    W = y.b_0 / b_0.b_0 in closed form (``whiten``: by generalised least squares, as in
    :func:`fit_model`, with the whitened curve and b_0)."""
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    b0 = white_basis(n_steps, y.shape[1] - 1, n_mean)
    if whiten is None:
        white = y @ b0 / (b0 @ b0)
        rss = np.maximum((y * y).sum(1) - white * (y @ b0), 0.0)
    else:
        yw = whitened(y, whiten)
        bw = np.repeat(np.asarray(whiten) @ b0, len(y) // len(whiten), axis=0)
        proj = (yw * bw).sum(1)
        white = proj / (bw * bw).sum(1)
        rss = np.maximum((yw * yw).sum(1) - white * proj, 0.0)
    n = len(y)
    return Fit("none", np.zeros((n, 0)), np.zeros((n, 0)), white, rss, np.zeros(n, bool))


def decay_after_jump(ac: np.ndarray, n_steps: int, fit_lag: int = 30,
                     min_weight: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """The timescale of the decay that follows a jump at lag 0: one exponential plus white noise
    (``fit_model(..., "1exp")``) fitted to each curve's lags 0 ... fit_lag as its expected estimate.

    A trained network's neuron typically decorrelates partly within one step (the input's white
    noise passed through a step: a jump at lag 0) and partly by a decay over steps; a single
    exponential fitted from lag 0 averages the two, while this measures the decay alone, with the
    jump as the white-noise share (docs/reproduction.md, the estimator question).

    Parameters
    ----------
    ac : array, shape (units, lags) or (trials, units, lags)
        Autocovariances from lag 0 (per-trial curves are averaged); any scale.
    n_steps : int
        Steps per trial of the data.
    fit_lag : int
        Largest lag fitted.
    min_weight : float
        Below this share of the lag-0 variance the decay is not measurable (NaN).

    Returns
    -------
    tau : array, shape (units,)
        Decay timescale in steps; NaN where its weight is below ``min_weight``, the fit failed or the
        timescale sits at the grid's bound.
    weight : array, shape (units,)
        Share of the lag-0 variance carried by the decay (1 - the jump's share), clipped to [0, 1]
        (it is 1 where the curve starts smoother than an exponential: no jump).
    """
    y = np.asarray(ac, dtype=np.float64)
    if y.ndim == 3:
        y = y.mean(axis=0)
    y = y[:, : fit_lag + 1]
    fit = fit_model(y, n_steps, "1exp")
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = fit.amps[:, 0] / (fit.amps[:, 0] + fit.white)
    tau = fit.taus[:, 0].copy()
    tau[~(weight >= min_weight) | fit.at_bound] = np.nan
    # a negative white term (a curve that starts smoother than an exponential) puts the raw share above 1
    return tau, np.clip(weight, 0.0, 1.0)


__all__ = ["Fit", "MODELS", "decay_after_jump", "expected_estimate", "exp_basis", "fit_model", "fit_white", "osc_basis",
           "tau_grid", "white_basis"]
