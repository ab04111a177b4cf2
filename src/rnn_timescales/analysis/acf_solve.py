"""Vectorised linear least squares behind :func:`rnn_timescales.analysis.acf_models.fit_model`:
the normal equations of many small problems at once (explicit inverses for up to three
coefficients), the local refinements of the timescales around a grid optimum, and the whitening of the
generalised least-squares fit (:mod:`rnn_timescales.analysis.acf_gls`)."""

from __future__ import annotations

import numpy as np

from rnn_timescales.analysis.acf_bases import (
    TABLE_POINTS, _exp_table, _geometric_basis, _interpolate, _table_basis, _table_dots, _table_factors, _table_position,
    osc_pair)


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


def _whitened_table(values: np.ndarray, n_steps: int, max_lag: int, tau_min: float, tau_max: float, n_mean: int,
                    whitening: np.ndarray | None) -> np.ndarray:
    """``whiten(_table_basis(values, ...), whitening)``, (U, J, O, L) for the candidate timescales
    ``values`` (U, J, O), the cheaper of two ways that give the same numbers to rounding (both
    interpolations are linear): where a group's curves (a unit's bootstrap replicates, close
    together) ask for few distinct rows of the table, each timescale's window of the table is
    whitened once per group and interpolated; else the table's low-rank factors
    (:func:`_table_factors`, r dimensions) are whitened once per group and each curve's rows
    formed from its r coefficients."""
    if whitening is None:
        return _table_basis(values, n_steps, max_lag, tau_min, tau_max, n_mean)
    key = (int(n_steps), int(max_lag), float(tau_min), float(tau_max), int(n_mean))
    i, f = _table_position(values, tau_min, tau_max)
    n_units, n_exp, n_off = i.shape
    n_groups, lags = len(whitening), whitening.shape[-1]
    per = n_units // n_groups
    per_group = i.reshape(n_groups, per, n_exp, -1)
    first = per_group.min(axis=(1, 3))  # (G, J)
    width = int((per_group.max(axis=(1, 3)) - first).max()) + 2
    coef, basis = _table_factors(*key)
    rank = len(basis)
    if n_groups * n_exp * width * lags > i.size * rank + n_groups * rank * lags:  # the factors are cheaper
        low = _interpolate(coef, i, f).reshape(n_groups, per * n_exp * n_off, rank)
        return (low @ (basis @ np.swapaxes(whitening, 1, 2))).reshape(n_units, n_exp, n_off, lags)
    table = _exp_table(*key)
    rows = np.minimum(first[..., None] + np.arange(width), TABLE_POINTS - 1)  # (G, J, W)
    window = whiten(table[rows], whitening)  # (G, J, W, L)
    group = np.repeat(np.arange(n_groups), per)[:, None, None]
    j = np.arange(n_exp)[None, :, None]
    local = i - first[group, j]
    return window[group, j, local] * (1 - f) + window[group, j, local + 1] * f


class _TableProducts:
    """The products that the generalised least-squares refinement of exponentials needs, in the
    r dimensions of the table's low-rank factors (:func:`_table_factors`: every row of the table
    is ``coef[i] @ basis``), with the white-noise row projected out (Frisch-Waugh-Lovell, as in
    :func:`rnn_timescales.analysis.acf_gls.gls_search`). Per group of ``whitening`` (G, L, L):
    the whitened basis A = basis W^T (r, L), its products with the group's whitened white row
    v = A w, and Q = A A^T - v v^T / |w|^2 (r, r); per curve, with the whitened curve y (U, L),
    z = A y - v (w.y) / |w|^2 (r,) and |y|^2 - (w.y)^2 / |w|^2. A candidate row with coefficients
    c then has projected products c Q c' and c . z: about r^2 operations per row instead of
    whitening its max_lag + 1 lags (r = 25 ... 46), the same numbers to rounding."""

    def __init__(self, key: tuple, whitening: np.ndarray, ys: np.ndarray, w: np.ndarray):
        self.coef, basis = _table_factors(*key)
        n_groups = len(whitening)
        self.per = len(ys) // n_groups
        a = basis @ np.swapaxes(whitening, 1, 2)  # (G, r, L)
        w_group = w.reshape(n_groups, self.per, -1)[:, 0]  # (G, L): one white row per group
        v = np.einsum("grl,gl->gr", a, w_group)  # (G, r)
        ww = np.maximum((w_group * w_group).sum(-1), 1e-300)[:, None]  # (G, 1)
        self.gram = a @ np.swapaxes(a, 1, 2) - v[:, :, None] * (v / ww)[:, None, :]  # (G, r, r)
        y3 = ys.reshape(n_groups, self.per, -1)
        wy = (y3 * w_group[:, None]).sum(-1)  # (G, per)
        self.proj = ((y3 @ np.swapaxes(a, 1, 2)) - (wy / ww)[..., None] * v[:, None]).reshape(len(ys), -1)  # (U, r)
        self.yy = ((y3 * y3).sum(-1) - wy * wy / ww).reshape(-1)  # (U,)

    def normal_equations(self, i: np.ndarray, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gram matrices (U, R, R) and projections (U, R) of each curve's candidate rows (table rows
        ``i`` (U, R) interpolated with weights ``f`` (U, R, 1), as in :func:`_table_basis`), the
        white row projected out."""
        n_groups = len(self.gram)
        c = _interpolate(self.coef, i, f)  # (U, R, r)
        cq = (c.reshape(n_groups, -1, c.shape[-1]) @ self.gram).reshape(c.shape)
        return np.einsum("uar,ubr->uab", cq, c), np.einsum("uar,ur->ua", c, self.proj)


def _refine_taus(best_tau, width, offsets, taus, n_steps, max_lag, osc, ys, n_amp, w, n_mean=1, whitening=None,
                 parabola=False, products=None):
    """One local refinement of every curve's timescales: ``offsets`` points per timescale over
    +-``width`` in log tau, jointly, the oscillation (if any) held fixed (``whitening``: generalised
    least squares, ``ys`` and ``w`` (U, L) already whitened, see ``fit_model``; ``products``: a
    :class:`_TableProducts` of the same curves, without an oscillation, which then gives the
    normal equations). ``parabola`` (one timescale): the minimum of the parabola through the best
    point and its neighbours in log tau, so that the result is not confined to the refinement's
    lattice."""

    n_units, n_exp = best_tau.shape
    rel = np.exp(np.linspace(-width, width, offsets))
    mesh = np.stack(np.meshgrid(*[np.arange(offsets)] * n_exp, indexing="ij"), -1).reshape(-1, n_exp)
    # the candidates are a mesh: each timescale's ``offsets`` values give offsets x n_exp distinct
    # rows per curve; with the fixed rows (oscillation, white noise) their Gram matrix and
    # projections once, every mesh point's normal equations gathered from them
    values = np.clip(best_tau[:, :, None] * rel, taus[0], taus[-1])  # (U, J, O)
    # (whitened, the table's interpolation moves a fitted timescale by < 1e-4 relative to the closed form)
    n_lags = ys.shape[1]
    yy = (ys * ys).sum(-1) if products is None else products.yy
    if products is not None:  # the white row already projected out: no fixed rows
        i, f = _table_position(values.reshape(n_units, -1), taus[0], taus[-1])
        gram, proj = products.normal_equations(i, f)
    else:
        table = _whitened_table(values, n_steps, max_lag, taus[0], taus[-1], n_mean, whitening)  # (U, J, O, L)
        parts = [table.reshape(n_units, -1, n_lags)]
        if osc is not None:
            # (U, 2, L): cosine, sine
            parts.append(whiten(osc_pair(osc[:, 0], osc[:, 1], n_steps, max_lag, n_mean), whitening))
        parts.append(np.broadcast_to(w.reshape(-1, 1, n_lags), (n_units, 1, n_lags)))
        rows = np.concatenate(parts, axis=1)  # (U, J O + m, L)
        gram = rows @ np.swapaxes(rows, 1, 2)
        proj = np.einsum("url,ul->ur", rows, ys)
    n_fixed = gram.shape[1] - n_exp * offsets
    tuples = np.concatenate([mesh + offsets * np.arange(n_exp), np.broadcast_to(n_exp * offsets + np.arange(n_fixed),
                                                                               (len(mesh), n_fixed))], 1)  # (P, C)
    _, rss = _finish(gram[:, tuples[:, :, None], tuples[:, None, :]], proj[:, tuples], yy[:, None], n_amp)
    cands = np.take_along_axis(values, mesh.T[None], 2).transpose(0, 2, 1)  # (U, P, J)
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


F_BOUNDS = (1e-4, 0.5)  # frequencies searched, cycles per step
OSC_STEP = (0.7, 0.012)  # largest step of one oscillation update: log decay, cycles per step (about a grid step)


def _osc_rows(osc: np.ndarray, n_steps: int, max_lag: int, n_mean: int, whitening: np.ndarray | None,
              shift: np.ndarray | None = None) -> np.ndarray:
    """The whitened cosine and sine rows (U, 2, L) of the oscillations ``osc`` (U, 2: decay tau,
    frequency f): the real and imaginary parts of the complex basis b(s) at the rate
    s = 1/tau - 2 pi i f (``shift`` (U,): at s + shift)."""
    s = 1.0 / osc[:, 0] - 2j * np.pi * osc[:, 1]
    z = _geometric_basis(s if shift is None else s + shift, n_steps, max_lag, n_mean)
    return whiten(np.stack([z.real, z.imag], 1), whitening)


def _refine_osc(osc: np.ndarray, lam: np.ndarray, fixed: np.ndarray, ys: np.ndarray, n_amp: int, n_steps: int,
                max_lag: int, n_mean: int = 1, whitening: np.ndarray | None = None,
                rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One Levenberg-Marquardt step of every curve's oscillation, the other rows held fixed.

    The model is ``ys ~ c . rows``, rows = the exponentials (``fixed[:, :n_exp]``), the
    oscillation's cosine and sine rows at (tau, f) and the white-noise row (``fixed[:, -1]``),
    all whitened (``fixed`` (U, n_exp + 1, L)); the coefficients are solved in closed form for
    every (tau, f) (variable projection), so only (log tau, f) is iterated. The Jacobian of the
    fitted curve with respect to them, projected off the rows' span (Kaufman's approximation),
    gives the Gauss-Newton step, damped by ``lam`` (U,) (Marquardt's scaling) and capped at
    :data:`OSC_STEP`; a step is taken where it lowers the residual (the first ``n_amp``
    coefficients staying >= 0), and ``lam`` falls threefold, else ``lam`` grows fourfold.
    ``rows``: the oscillation's whitened rows at ``osc`` if known (the previous step's result).
    Returns the new (tau, f) (U, 2), ``lam``, the rows at the new (tau, f) and whether each curve
    has converged (U,: the step's predicted decrease of the residual below 1e-8 of it). The
    derivative of b(s) with respect to s is a forward difference (b is analytic in s, so one real
    step gives the complex derivative).
    """
    n_exp = fixed.shape[1] - 1
    ob = _osc_rows(osc, n_steps, max_lag, n_mean, whitening) if rows is None else rows
    h = 1e-6 * np.abs(1.0 / osc[:, 0] - 2j * np.pi * osc[:, 1])
    d = (_osc_rows(osc, n_steps, max_lag, n_mean, whitening, shift=h) - ob) / h[:, None, None]  # (Re, Im) of db/ds
    base = np.concatenate([fixed[:, :n_exp], ob, fixed[:, n_exp:]], 1)  # (U, C, L)
    gram = base @ np.swapaxes(base, 1, 2)  # (U, C, C)
    coef, rss = _finish(gram, np.einsum("ucl,ul->uc", base, ys), (ys * ys).sum(-1), n_amp)
    a, b = coef[:, n_exp : n_exp + 1], coef[:, n_exp + 1 : n_exp + 2]
    tau = osc[:, :1]
    # d(cos, sin rows)/d log tau = (Re, Im) of -D / tau; d/df = (Re, Im) of -2 pi i D
    jac = np.stack([-(a * d[:, 0] + b * d[:, 1]) / tau, 2 * np.pi * (a * d[:, 1] - b * d[:, 0])], 1)  # (U, 2, L)
    gram += 1e-12 * np.trace(gram, axis1=1, axis2=2)[:, None, None] * np.eye(gram.shape[1])
    proj = np.einsum("ucl,ujl->ujc", base, jac)  # (U, 2, C)
    jac = jac - np.einsum("ujc,ucl->ujl", np.linalg.solve(gram[:, None], proj[..., None])[..., 0], base)
    resid = ys - np.einsum("uc,ucl->ul", coef, base)
    grad = np.einsum("ujl,ul->uj", jac, resid)
    hess = np.einsum("ujl,ukl->ujk", jac, jac)
    damped = hess + lam[:, None, None] * hess * np.eye(2) + 1e-300 * np.eye(2)
    with np.errstate(invalid="ignore", divide="ignore"):
        step = np.linalg.solve(damped, grad[..., None])[..., 0]
        # a frequency at its bound that the step would push past it: the decay's step alone
        held = ((osc[:, 1] <= F_BOUNDS[0]) & (step[:, 1] < 0)) | ((osc[:, 1] >= F_BOUNDS[1]) & (step[:, 1] > 0))
        step[held] = np.column_stack([grad[held, 0] / damped[held, 0, 0], np.zeros(held.sum())])
    step = np.clip(np.nan_to_num(step), -np.array(OSC_STEP), np.array(OSC_STEP))
    trial = np.column_stack([np.clip(osc[:, 0] * np.exp(step[:, 0]), 0.5, 16.0 * n_steps),
                             np.clip(osc[:, 1] + step[:, 1], *F_BOUNDS)])
    ob_t = _osc_rows(trial, n_steps, max_lag, n_mean, whitening)
    _, rss_t = _solve(np.concatenate([fixed[:, :n_exp], ob_t, fixed[:, n_exp:]], 1)[:, None], ys, n_amp)
    better = rss_t[:, 0] < rss
    # converged: the Gauss-Newton model promises less than 1e-8 of the residual for this step
    promised = 2 * (step * grad).sum(1) - np.einsum("uj,ujk,uk->u", step, hess, step)
    with np.errstate(invalid="ignore"):
        done = ~(promised > 1e-8 * rss) | ~np.isfinite(rss)
    return (np.where(better[:, None], trial, osc), np.where(better, lam / 3, lam * 4),
            np.where(better[:, None, None], ob_t, ob), done)
