"""Vectorised linear least squares behind :func:`rnn_timescales.analysis.acf_models.fit_model`:
the normal equations of many small problems at once (explicit inverses for up to three
coefficients), the local refinements of the timescales around a grid optimum, and the whitening of the
generalised least-squares fit (:mod:`rnn_timescales.analysis.acf_gls`)."""

from __future__ import annotations

import numpy as np

from rnn_timescales.analysis.acf_bases import (
    TABLE_POINTS, _exp_table, _table_basis, _table_dots, osc_pair)


def whiten(arr: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """``arr`` (U, ..., L) whitened with ``w`` (G, L, L): the U = G x B curves are in groups of B
    consecutive ones (a unit's bootstrap replicates), each group with its matrix; None: ``arr``."""
    if w is None:
        return arr
    n_groups, lags = w.shape[0], w.shape[-1]
    shape = arr.shape
    if shape[0] % n_groups:
        raise ValueError(f"{shape[0]} curves do not split into {n_groups} groups")
    a = np.ascontiguousarray(arr, dtype=np.float64).reshape(n_groups, -1, lags)
    return (a @ np.swapaxes(w, 1, 2)).reshape(shape)


def _solve(bases: np.ndarray, y: np.ndarray, n_amp: int) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of y (U, L) on bases (U, P, C, L); the first ``n_amp`` coefficients must be
    >= 0 (candidates violating that get RSS = inf). Returns coef (U, P, C), rss (U, P)."""
    c = bases.shape[2]
    gram = np.empty(bases.shape[:2] + (c, c))
    for i in range(c):
        for j in range(i, c):
            gram[..., i, j] = gram[..., j, i] = np.einsum("upl,upl->up", bases[:, :, i], bases[:, :, j])
    rhs = np.einsum("upcl,ul->upc", bases, y)
    return _finish(gram, rhs, (y * y).sum(-1)[:, None], n_amp)


def _inverse(gram: np.ndarray) -> np.ndarray:
    """Inverses of symmetric positive (semi-)definite ``gram`` (..., C, C), slightly regularised;
    explicit cofactors for C <= 3 (batched tiny solves are slow in LAPACK), else LAPACK."""
    c = gram.shape[-1]
    gram = gram + 1e-12 * np.trace(gram, axis1=-2, axis2=-1)[..., None, None] * np.eye(c)
    if c == 1:
        return 1.0 / gram
    if c == 2:
        a, b, d = gram[..., 0, 0], gram[..., 0, 1], gram[..., 1, 1]
        det = a * d - b * b
        return np.stack([np.stack([d, -b], -1), np.stack([-b, a], -1)], -2) / det[..., None, None]
    if c == 3:
        g = gram
        cof = np.empty_like(g)
        for i in range(3):
            for j in range(3):
                r0, r1 = [x for x in range(3) if x != j]
                c0, c1 = [x for x in range(3) if x != i]
                cof[..., i, j] = (-1) ** (i + j) * (g[..., r0, c0] * g[..., r1, c1] - g[..., r0, c1] * g[..., r1, c0])
        det = (g[..., 0, :] * cof[..., :, 0]).sum(-1)
        return cof / det[..., None, None]
    return np.linalg.inv(gram)


def _finish(gram: np.ndarray, rhs: np.ndarray, yy: np.ndarray, n_amp: int,
            inverse: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and RSS from the normal equations (``inverse``: precomputed inverse of a
    shared ``gram``)."""
    inv = _inverse(gram) if inverse is None else inverse
    c = rhs.shape[-1]
    coef = np.stack([sum(inv[..., i, j] * rhs[..., j] for j in range(c)) for i in range(c)], -1)
    rss = yy - (coef * rhs).sum(-1)
    bad = (coef[..., :n_amp] < 0).any(-1)
    return coef, np.where(bad, np.inf, np.maximum(rss, 0.0))


def _refine_one(best_tau: np.ndarray, half_width: float, taus: np.ndarray, n_steps: int, max_lag: int,
                ys: np.ndarray, w: np.ndarray, n_mean: int = 1) -> np.ndarray:
    """Refinement of one timescale plus white noise (no oscillation): the RSS at rows of
    :func:`_exp_table` within +-``half_width`` (log tau) of each curve's grid optimum (every fourth
    row, then every row around the best), in closed form from dot products, then a parabola
    through the best row and its neighbours. Returns (U, 1)."""
    lo, hi = float(taus[0]), float(taus[-1])
    table = _exp_table(int(n_steps), int(max_lag), lo, hi, int(n_mean))
    tt, tw = _table_dots(int(n_steps), int(max_lag), lo, hi, int(n_mean))
    step = np.log(hi / lo) / (TABLE_POINTS - 1)
    ww, wy, yy = float(w @ w), ys @ w, (ys * ys).sum(1)

    def rss_at(idx: np.ndarray) -> np.ndarray:  # idx (U, P) table rows -> RSS (U, P)
        out = np.empty(idx.shape)
        for u0 in range(0, len(ys), 4096):
            sl = slice(u0, u0 + 4096)
            ty = np.einsum("upl,ul->up", table[idx[sl]], ys[sl])
            a, b = tt[idx[sl]], tw[idx[sl]]
            det = a * ww - b * b
            amp = (ww * ty - b * wy[sl, None]) / det
            white = (a * wy[sl, None] - b * ty) / det
            out[sl] = np.where(amp >= 0, yy[sl, None] - amp * ty - white * wy[sl, None], np.inf)
        return out

    r = np.arange(len(ys))
    m = int(np.ceil(half_width / step / 4))
    centre = np.rint(np.log(best_tau[:, 0] / lo) / step).astype(int)
    idx = np.clip(centre[:, None] + 4 * np.arange(-m, m + 1), 0, TABLE_POINTS - 1)
    centre = idx[r, rss_at(idx).argmin(1)]
    idx = np.clip(centre[:, None] + np.arange(-4, 5), 0, TABLE_POINTS - 1)
    rss = rss_at(idx)
    i = np.clip(rss.argmin(1), 1, 7)
    left, mid, right = rss[r, i - 1], rss[r, i], rss[r, i + 1]
    with np.errstate(invalid="ignore"):  # inf - inf where a neighbour has a negative amplitude
        curv = left - 2 * mid + right
        ok = np.isfinite(curv) & (curv > 0)
    with np.errstate(invalid="ignore"):
        shift = np.where(ok, 0.5 * (left - right) / np.where(ok, curv, 1.0), 0.0)
    pos = idx[r, i] + np.clip(shift, -1, 1)
    return np.clip(lo * np.exp(pos * step), lo, hi)[:, None]


def _refine_taus(best_tau, width, offsets, taus, n_steps, max_lag, osc, ys, n_amp, w, n_mean=1, whitening=None,
                 parabola=False):
    """One local refinement of every curve's timescales: ``offsets`` points per timescale over
    +-``width`` in log tau, jointly, the oscillation (if any) held fixed (``whitening``: generalised
    least squares, ``ys`` and ``w`` (U, L) already whitened, see ``fit_model``). ``parabola`` (one
    timescale): the minimum of the parabola through the best point and its neighbours in log tau,
    so that the result is not confined to the refinement's lattice."""

    n_units, n_exp = best_tau.shape
    n_lags = ys.shape[1]
    rel = np.exp(np.linspace(-width, width, offsets))
    mesh = np.stack(np.meshgrid(*[np.arange(offsets)] * n_exp, indexing="ij"), -1).reshape(-1, n_exp)
    cands = np.stack([(best_tau[:, j : j + 1] * rel)[:, mesh[:, j]] for j in range(n_exp)], -1)  # (U, P, J)
    cands = np.clip(cands, taus[0], taus[-1])
    # (whitened, the table's interpolation moves a fitted timescale by < 1e-4 relative to the closed form)
    parts = [whiten(_table_basis(cands, n_steps, max_lag, taus[0], taus[-1], n_mean), whitening)]
    if osc is not None:
        ob = whiten(osc_pair(osc[:, 0], osc[:, 1], n_steps, max_lag, n_mean), whitening)  # (U, 2, L): cosine, sine
        parts.append(np.broadcast_to(ob[:, None], (n_units, cands.shape[1], 2, n_lags)))
    parts.append(np.broadcast_to(w.reshape(-1, 1, 1, n_lags) if w.ndim == 2 else w, (n_units, cands.shape[1], 1, n_lags)))
    _, rss = _solve(np.concatenate(parts, axis=2), ys, n_amp)
    r = np.arange(n_units)
    if not (parabola and n_exp == 1 and offsets >= 3):
        return cands[r, rss.argmin(1)]
    i = np.clip(rss.argmin(1), 1, offsets - 2)
    left, mid, right = rss[r, i - 1], rss[r, i], rss[r, i + 1]
    with np.errstate(invalid="ignore", divide="ignore"):  # inf - inf where a neighbour has a negative amplitude
        curv = left - 2 * mid + right
        ok = np.isfinite(curv) & (curv > 0)
        shift = np.where(ok, 0.5 * (left - right) / np.where(ok, curv, 1.0), 0.0)
    best = np.where(ok, i, rss.argmin(1))
    spacing = 2 * width / (offsets - 1)
    return np.clip(cands[r, best, 0] * np.exp(np.clip(shift, -1, 1) * spacing), taus[0], taus[-1])[:, None]
