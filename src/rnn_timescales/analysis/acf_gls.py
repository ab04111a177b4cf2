"""The weighting of the generalised least-squares fit of the autocorrelation (docs/timescales.md,
"Weighting the lags: generalised least squares").

The trial-averaged autocorrelation estimates at different lags are noisy and strongly correlated
with each other (a trial's slow fluctuation shifts all long lags together), so an ordinary
least-squares fit, weighting every lag equally, lets the noisiest, mutually redundant long lags
dominate. The generalised least-squares fit minimises r^T C^-1 r instead, C the covariance of the
estimate across lags, as it is under the model fitted by ordinary least squares:

- by default (``exact_covariance``) exactly for trials of n steps of a stationary Gaussian process
  with autocovariance gamma (Isserlis' theorem summed over the pairs of time points inside a
  trial, by prefix sums: O(max_lag x (max_lag + n)) per curve);
- or (``bartlett_covariance``, the first weighting) by Bartlett's asymptotic formula, its limit
  for trials much longer than the timescales,

      Cov(C_k, C_l) ~ [A(|k - l|) + A(k + l)] / (n - min(k, l)),   A(d) = sum_m gamma_m gamma_(m+d)

  (m over all lags of the trial, gamma symmetric), rough when a timescale is a sizeable fraction
  of the trial (tau = 100 on 500 steps: entries off by up to 5 %, and the fit is less precise);
- averaging R trials divides either by R, which the fit ignores (it is invariant to scaling C);
- the covariance is taken at the ordinary least-squares fit's autocovariance (exponentials,
  oscillation and white noise; for counts the fitted model in the space it is fitted in), is
  normalised to C_00 = 1 and has ``ridge`` x its diagonal added (a well-conditioned C: the
  covariance of a slow process is nearly singular);
- the fit then uses the whitened curves and bases W y, W b with W = L^-1, C = L L^T (Cholesky),
  so that r^T C^-1 r = |W r|^2 and the ordinary least-squares machinery applies unchanged.

Any fixed positive-definite weighting gives a consistent fit: the covariance only needs to be
roughly right for the weighting to pay (both forms ignore the subtraction of the mean and the
counts' non-Gaussian fourth moments). The bootstrap fits every replicate of a unit with the same
weighting as the unit's data, so the intervals and tests account for it.

Everything is in time steps.
"""

from __future__ import annotations

import numpy as np

from rnn_timescales.analysis.acf_solve import _inverse, whiten

RIDGE = 1e-3  # share of its diagonal added to the covariance


def _slowest(fit) -> float:
    """The longest timescale of any curve's fit (exponentials, oscillation's decay; at least 1)."""
    n_units = len(fit.white)
    taus = np.concatenate([fit.taus, fit.osc[:, 1:2] if fit.osc is not None else np.zeros((n_units, 0)),
                           np.ones((n_units, 1))], 1)
    return float(np.max(np.nan_to_num(np.nanmax(taus, 1), nan=1.0), initial=1.0))


def _gamma(f, j: np.ndarray) -> np.ndarray:
    """The fitted autocovariance of each curve of ``f`` at lags ``j`` >= 0, (U, len(j)):
    exponentials, white noise at lag 0, oscillation; a failed fit's NaNs count as 0 (tau as 1)."""
    taus = np.where(np.isfinite(f.taus) & (f.taus > 0), f.taus, 1.0)
    gamma = (np.nan_to_num(f.amps)[:, :, None] * np.exp(-j / taus[:, :, None])).sum(1)
    gamma[:, 0] += np.nan_to_num(f.white)
    if f.osc is not None:
        gamma += np.nan_to_num(f.osc_gamma(j))
    return gamma


def _normalise(out: np.ndarray, fit, ridge: float) -> np.ndarray:
    """Covariances (U, L, L) scaled to C_00 = 1 with ``ridge`` x the diagonal added; the identity
    for a curve whose fit failed or whose covariance is not positive."""
    n_units, lags = out.shape[:2]
    k = np.arange(lags)
    diag = np.einsum("uii->ui", out)
    ok = (diag > 0).all(1) & np.isfinite(out).all((1, 2)) & np.isfinite(fit.rss)
    d0 = np.where(ok, diag[:, 0], 1.0)
    out /= d0[:, None, None]
    out[np.arange(n_units)[:, None], k, k] *= 1.0 + ridge
    out[~ok] = np.eye(lags)
    return out


def bartlett_covariance(fit, n_steps: int, max_lag: int, ridge: float = RIDGE) -> np.ndarray:
    """Covariance of the autocorrelation estimate at lags 0 ... max_lag under each curve's fitted
    model (a :class:`rnn_timescales.analysis.acf_models.Fit`), Bartlett's asymptotic formula
    (module docstring), normalised to C_00 = 1, plus ``ridge`` x its diagonal.

    Returns (U, max_lag + 1, max_lag + 1); the identity (ordinary least squares) for a curve whose
    fit failed or whose covariance is not positive."""
    from scipy.fft import irfft, next_fast_len, rfft

    n = int(n_steps)
    n_units = len(fit.white)
    lags = max_lag + 1
    n_gamma = int(min(n, 2 * lags + int(40 * min(_slowest(fit), 1e9))))  # gamma's tail beyond: < e^-40
    k = np.arange(lags)
    near, far = np.abs(k[:, None] - k[None]), k[:, None] + k[None]
    norm = 1.0 / (n - np.minimum(k[:, None], k[None]))
    out = np.empty((n_units, lags, lags))
    m = next_fast_len(2 * n_gamma - 1 + 2 * lags)
    step = max(1, int(4e6 // m))
    j = np.arange(n_gamma, dtype=np.float64)
    for u0 in range(0, n_units, step):
        gamma = _gamma(fit.take(slice(u0, u0 + step)), j)
        g = np.concatenate([gamma[:, :0:-1], gamma], 1)  # lags -(n_gamma - 1) ... n_gamma - 1
        spec = rfft(g, m, axis=1)
        a = irfft(spec * spec.conj(), m, axis=1)[:, : 2 * lags]  # A(d), d = 0 ... 2 max_lag + 1
        out[u0 : u0 + step] = (a[:, near] + a[:, far]) * norm
    return _normalise(out, fit, ridge)


def exact_covariance(fit, n_steps: int, max_lag: int, ridge: float = RIDGE) -> np.ndarray:
    """Covariance of the autocorrelation estimate at lags 0 ... max_lag of trials of ``n_steps``
    under each curve's fitted model, exactly for a Gaussian process with known mean (Bartlett's
    formula is its limit for trials much longer than the timescales), normalised to C_00 = 1,
    plus ``ridge`` x its diagonal. Returns (U, max_lag + 1, max_lag + 1), the identity where the
    fit failed.

    With C_k = sum_{t < n-k} x_t x_(t+k) / (n - k) and Isserlis' theorem, d = s - t, k <= l,

        Cov(C_k, C_l) = sum_d c_kl(d) [Q_(l-k)(d) + Q_(k+l)(d - k)] / ((n - k)(n - l)),

    Q_D(m) = g(m) g(m + D) (g the autocovariance, symmetric, 0 beyond the trial) and
    c_kl(d) = #{t : 0 <= t < n - k, 0 <= t + d < n - l} the number of pairs of time points at
    distance d inside a trial: a trapezoid (rising by 1 per step from 1 at d = -(n - k - 1), flat
    at n - l from d = k - l to 0, falling to 1 at d = n - l - 1). On each straight piece the sum
    is a difference of the prefix sums S0_D(x) = sum_(m <= x) Q_D(m) and S1_D(x) = sum m Q_D(m),
    needed only at x in -max_lag ... 0 and near the trial's ends. Q_D is symmetric about -D / 2,
    so every one of them follows from

    - the totals sum_m Q_D(m) = sum_m g(m) g(m + D) and S0_D(0), S1_D(0) (convolutions of g with
      itself over all m and over m <= 0, by FFT),
    - Q_D(m) on m = -max_lag + 1 ... 0 (cumulated down from 0), and
    - the far tails sum_(j=1..k) g(n - D - j) g(n - j) for D, k <= max_lag (0 unless a timescale is
      comparable to the trial),

    so a curve costs O(max_lag^2 + n_g log n_g) (n_g <= n the lags where g is not negligible)."""
    from scipy.fft import irfft, next_fast_len, rfft

    n = int(n_steps)
    n_units = len(fit.white)
    K = int(max_lag)
    lags = K + 1
    if fit.taus.shape[1] == 0 and fit.osc is None:  # white noise W alone: Var C_0 = 2 W^2 / n, Var C_k = W^2 / (n - k)
        out = np.zeros((n_units, lags, lags))
        var = np.nan_to_num(fit.white, nan=0.0)[:, None] ** 2 / (n - np.arange(lags))
        var[:, 0] *= 2
        out[:, np.arange(lags), np.arange(lags)] = var
        return _normalise(out, fit, ridge)
    n_g = int(min(n, max(2, int(40 * min(_slowest(fit), 1e9)))))  # g(|m| >= n_g) taken as 0 (< e^-40)
    n_j = max(n_g, 2 * K + 1)
    far_needed = n - K < n_g  # g reaches the trial's last max_lag lags: the far tails are not 0
    k, l = np.triu_indices(lags)  # k <= l
    a, b = (n - k).astype(float), (n - l).astype(float)  # steps with a lag-k (lag-l) partner
    d1, d2 = l - k, k + l
    i_win = np.arange(K)  # window m = -i
    d_all = np.arange(2 * K + 1)
    near = np.abs(d_all[:, None] - i_win[None])  # |D - i|: g(m + D) at m = -i
    dk, jj = np.arange(lags)[:, None], np.arange(1, K + 1)[None]  # far tails: D, j
    far_m = n - dk - jj  # m = n - D - j (may be < 0 on short trials)
    far_a, far_b = np.abs(far_m), np.broadcast_to(n - jj, far_m.shape)
    m_fft = next_fast_len(3 * n_g + 2 * K)
    step = max(1, int(1e6 // (m_fft + (2 * K + 1) * K + lags * K + len(k))))
    out = np.empty((n_units, lags, lags))
    jg = np.arange(n_j, dtype=np.float64)
    for u0 in range(0, n_units, step):
        gam = _gamma(fit.take(slice(u0, u0 + step)), jg)
        gam[:, n_g:] = 0.0
        nu = len(gam)
        g2 = np.concatenate([gam[:, n_g - 1 : 0 : -1], gam[:, :n_g]], 1)  # m = -(n_g - 1) ... n_g - 1
        f2 = rfft(g2, m_fft, axis=1)
        total0 = irfft(f2 * f2.conj(), m_fft, axis=1)[:, : 2 * K + 1]  # sum_m g(m) g(m + D)
        total1 = -0.5 * d_all * total0  # sum_m m Q_D(m), by the symmetry about -D / 2
        # S_D(0) = sum_(j >= 0) g(-j) g(D - j): index D + n_g - 1 of the convolution with g2
        head = irfft(rfft(gam[:, :n_g], m_fft, axis=1) * f2, m_fft, axis=1)[:, n_g - 1 : n_g + 2 * K]
        head1 = -irfft(rfft(gam[:, :n_g] * jg[:n_g], m_fft, axis=1) * f2, m_fft, axis=1)[:, n_g - 1 : n_g + 2 * K]
        q = gam[:, None, :K] * gam[:, near]  # Q_D(-i), (u, D, i)
        cum0 = np.zeros((nu, 2 * K + 1, lags))
        cum1 = np.zeros((nu, 2 * K + 1, lags))
        np.cumsum(q, 2, out=cum0[:, :, 1:])
        np.cumsum(q * -i_win, 2, out=cum1[:, :, 1:])
        # S0_D(-t) = head_D - cum0[D, t] and S1_D(-t) = head1_D - cum1[D, t], t = 0 ... K (cum = 0 at t = 0)
        tail0 = np.zeros((nu, lags, lags))  # (u, D, k): sum over j = 1 ... k
        tail1 = np.zeros((nu, lags, lags))
        if far_needed:
            ga = np.where(far_a < n_g, gam[:, np.minimum(far_a, n_j - 1)], 0.0)
            gb = np.where(far_b < n_g, gam[:, np.minimum(far_b, n_j - 1)], 0.0)
            pf = ga * gb  # (u, D, j)
            np.cumsum(pf, 2, out=tail0[:, :, 1:])
            np.cumsum(pf * far_m, 2, out=tail1[:, :, 1:])
        # term 1: D = l - k, no shift; the low end by the symmetry, the high end as total - tail
        t0, t1 = tail0[:, d1, k], tail1[:, d1, k]
        z0, z1 = head[:, d1], head1[:, d1]  # S(0)
        at_d0, at_d1 = z0 - cum0[:, d1, d1], z1 - cum1[:, d1, d1]  # S(-D)
        acc = a * (at_d0 - t0) + (at_d1 + t1 + d1 * t0)  # rising piece, m in (-(n - k), -D]
        acc += b * (z0 - at_d0)  # flat piece, (-D, 0]
        acc += b * (total0[:, d1] - t0 - z0) - (total1[:, d1] - t1 - z1)  # falling piece, (0, n - l - 1]
        # term 2: D = k + l, shifted by k
        h0, h1 = head[:, d2], head1[:, d2]
        l0, l1 = h0 - cum0[:, d2, l], h1 - cum1[:, d2, l]  # S(-l)
        k0, k1 = h0 - cum0[:, d2, k], h1 - cum1[:, d2, k]  # S(-k)
        acc += a * l0 + (l1 + k * l0)  # (-n, -l]
        acc += b * (k0 - l0)  # (-l, -k]
        acc += b * (total0[:, d2] - k0) - (total1[:, d2] - k1 + k * (total0[:, d2] - k0))  # (-k, n - D - 1]
        acc /= a * b
        out[u0 : u0 + nu, k, l] = acc
        out[u0 : u0 + nu, l, k] = acc
    return _normalise(out, fit, ridge)


COVARIANCES = {"exact": exact_covariance, "bartlett": bartlett_covariance}


def whitener(cov: np.ndarray) -> np.ndarray:
    """W = L^-1 for each covariance C = L L^T (Cholesky), (U, L, L) lower triangular: |W r|^2 =
    r^T C^-1 r. A covariance that is not positive definite gets more ridge until it is."""
    cov = np.asarray(cov, dtype=np.float64)
    eye = np.eye(cov.shape[-1])
    diag = np.einsum("uii->ui", cov)
    if (diag > 0).all() and np.count_nonzero(cov) == diag.size:  # diagonal (white noise): no factorisation
        return eye * (1.0 / np.sqrt(diag))[:, None, :]
    out = np.empty_like(cov)
    todo = np.arange(len(cov))
    extra = 0.0
    while len(todo):
        c = cov[todo] + extra * np.einsum("uii->ui", cov[todo])[:, :, None] * eye
        try:
            low = np.linalg.cholesky(c)
        except np.linalg.LinAlgError:  # find the failing ones, one by one
            good = np.array([_is_pd(ci) for ci in c], bool)
            if good.any():
                out[todo[good]] = _triangular_inverse(np.linalg.cholesky(c[good]))
            todo = todo[~good]
            extra = max(10 * extra, 1e-6)
            continue
        out[todo] = _triangular_inverse(low)
        break
    return out


def _triangular_inverse(low: np.ndarray) -> np.ndarray:
    """Inverses of lower-triangular matrices (U, L, L) (LAPACK's triangular inverse, a third of
    a general inverse's work)."""
    from scipy.linalg import lapack

    out = np.empty_like(low)
    for i, m in enumerate(low):
        out[i], info = lapack.dtrtri(m, lower=1)
        if info:
            raise np.linalg.LinAlgError(f"singular triangular factor (LAPACK info {info})")
    return out


def _is_pd(c: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        return False
    return True


def gls_whitener(fit, n_steps: int, max_lag: int, ridge: float = RIDGE, covariance: str = "exact") -> np.ndarray:
    """The whitening matrices (U, L, L) of the generalised least-squares fit under each curve's
    ordinary least-squares ``fit``, with the ``covariance`` ("exact": :func:`exact_covariance`,
    "bartlett": :func:`bartlett_covariance`) and :func:`whitener`."""
    return whitener(COVARIANCES[covariance](fit, n_steps, max_lag, ridge))


def gls_search(yw: np.ndarray, rows: np.ndarray, tuples: np.ndarray, n_amp: int, w: np.ndarray,
               prune: bool = True) -> np.ndarray:
    """The global grid search of :func:`rnn_timescales.analysis.acf_models.fit_model` in the
    generalised least-squares metric: every candidate tuple of the shared basis ``rows`` (R, L)
    for every whitened curve ``yw`` (U, L), the rows whitened per group of ``w`` (G, L, L) and
    the candidates' normal equations solved per group. Returns the best tuple's index (U,).

    A row shared by every tuple with a free-signed coefficient (the white noise, last) is projected
    out of the curves and the other rows first (Frisch-Waugh-Lovell: the remaining coefficients and
    the residual are unchanged), so each candidate's equations are one size smaller; the projection
    is applied to the products (Gram matrix, projections, |y|^2) rather than to the rows.

    A group of at least PRUNE_MIN curves (a unit's bootstrap replicates, close together) is
    searched only on the candidates that a bound does not rule out (:func:`_bound`; ``prune=False``:
    every candidate), which picks the same tuples."""
    n_groups, lags = w.shape[0], w.shape[-1]
    per = len(yw) // n_groups
    shared = tuples.shape[1] > n_amp and (tuples[:, -1] == tuples[0, -1]).all()
    fixed_row = tuples[0, -1] if shared else None
    if shared:
        tuples = tuples[:, :-1]
    n_rows = len(rows)
    n_tup, c = tuples.shape
    y3 = yw.reshape(n_groups, per, lags)
    full = n_rows * n_rows <= n_tup * c * (c + 1) // 2  # the whole Gram matrix, or only the tuples' entries
    size = n_tup * c * c + n_rows * lags + (n_rows * n_rows if full else n_tup * lags)
    best = np.zeros(len(yw), int)
    chunk = max(1, int(2e7 // size))  # groups at a time
    for g0 in range(0, n_groups, chunk):
        w_g = w[g0 : g0 + chunk]
        g_n = len(w_g)
        # every group's whitened rows, transposed (g, L, R), as one matrix product
        rwt = (w_g.reshape(g_n * lags, lags) @ rows.T).reshape(g_n, lags, n_rows)
        yg = y3[g0 : g0 + g_n]
        proj = yg @ rwt  # (g, per, R)
        yy = (yg * yg).sum(-1)[..., None]
        if shared:  # the shared row f projected out, in the products: r.s - (f.r)(f.s) / f.f
            f = rwt[:, :, fixed_row]  # (g, L)
            ff = np.maximum((f * f).sum(-1), 1e-300)[:, None]  # (g, 1)
            fr = np.einsum("gl,glr->gr", f, rwt) / np.sqrt(ff)  # (g, R)
            fy = proj[:, :, fixed_row : fixed_row + 1] / np.sqrt(ff)[:, None]  # (g, per, 1)
            proj = proj - fy * fr[:, None]
            yy = yy - fy * fy
        if full:
            gram = np.swapaxes(rwt, 1, 2) @ rwt
            if shared:
                gram -= fr[:, :, None] * fr[:, None, :]
            cand = gram[:, tuples[:, :, None], tuples[:, None, :]]
        else:
            cand = np.empty((g_n, n_tup, c, c))
            cols = [_columns(rwt, tuples[:, i]) for i in range(c)]  # c x (g, L, P)
            for i in range(c):
                for j in range(i, c):
                    cand[..., i, j] = np.einsum("glp,glp->gp", cols[i], cols[j])
                    if shared:
                        cand[..., i, j] -= fr[:, tuples[:, i]] * fr[:, tuples[:, j]]
                    cand[..., j, i] = cand[..., i, j]
        inv = _inverse(cand)  # (g, P, c, c)
        keep = _bound(yg, proj, yy, inv, tuples, n_amp, fy if shared else None) if prune and per >= PRUNE_MIN else None
        if keep is None:
            best_idx = _exhaustive(proj, yy, inv, tuples, n_amp)
        else:  # each group on the candidates its bound keeps
            best_idx = np.empty((g_n, per), int)
            for g in range(g_n):
                kept = np.flatnonzero(keep[g])
                if not len(kept):  # (only through rounding beyond the slack)
                    kept = np.arange(n_tup)
                rhs = [proj[g : g + 1, :, tuples[kept, j]] for j in range(c)]  # c x (1, per, K)
                best_idx[g] = kept[_tuple_rss(rhs, inv[g : g + 1, kept], yy[g : g + 1], n_amp)[0].argmin(-1)]
        best[g0 * per : (g0 + g_n) * per] = best_idx.reshape(-1)
    return best


def _columns(rwt: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of the transposed rows ``rwt`` (g, L, R), (g, L, P): a view where they are
    consecutive (the oscillation's cosine and sine rows), else a copy."""
    if len(idx) > 1 and (np.diff(idx) == 1).all():
        return rwt[:, :, idx[0] : idx[-1] + 1]
    return rwt[:, :, idx]


PRUNE_MIN = 8  # curves per group from which the search is bounded (gls_search)
PRUNE_TOP = 8  # candidates, the centre's best, whose residuals bound each curve's best


def _exhaustive(proj: np.ndarray, yy: np.ndarray, inv: np.ndarray, tuples: np.ndarray, n_amp: int) -> np.ndarray:
    """The best candidate (g, per) of every curve by evaluating every candidate (the projections
    ``proj`` (g, per, R), |y|^2 ``yy`` (g, per, 1), the candidates' inverse Gram matrices ``inv``
    (g, P, c, c) and rows ``tuples`` (P, c), as in :func:`gls_search`); the first of equal ones."""
    g_n, per = proj.shape[:2]
    c = tuples.shape[1]
    best_rss = np.full((g_n, per), np.inf)
    best_idx = np.zeros((g_n, per), int)
    for p0, p1, first, steps in _tuple_pieces(tuples, max(1, 1_000_000 // (g_n * per))):
        if first is None:  # rows that do not advance in step: gathered
            rhs = [proj[:, :, tuples[p0:p1, j]] for j in range(c)]
        else:  # each row fixed or advancing by one: views of the projections
            rhs = [proj[:, :, first[j] : first[j] + (1 if steps[j] == 0 else p1 - p0)] for j in range(c)]
        rss = _tuple_rss(rhs, inv[:, p0:p1], yy, n_amp)
        i = rss.argmin(-1)
        r = np.take_along_axis(rss, i[..., None], -1)[..., 0]
        better = r < best_rss
        best_rss[better], best_idx[better] = r[better], p0 + i[better]
    return best_idx


def _bound(yg: np.ndarray, proj: np.ndarray, yy: np.ndarray, inv: np.ndarray, tuples: np.ndarray, n_amp: int,
           fy: np.ndarray | None) -> np.ndarray | None:
    """Which candidates (g, P) can be the best of some curve of their group; None where the bound
    prunes too little to pay.

    For a candidate t with projection P_t (its rows and the shared row) and the group's centre
    m (the mean of its whitened curves ``yg`` (g, per, L); ``fy`` (g, per, 1): the curves' products
    with the shared row, normalised, as in :func:`gls_search`, or None), every curve y has
    |(1 - P_t) y| >= |(1 - P_t) m| - |y - m| (the triangle inequality; the constrained residual is
    no smaller than the unconstrained one), while its best residual is at most U_y, its residual
    on the PRUNE_TOP candidates that fit the centre best. So t is the best of no curve of the group
    where |(1 - P_t) m| > max_y (sqrt(U_y) + |y - m|): a unit's replicates scatter about one curve,
    and most candidates fit that curve far worse than the scatter (with a relative slack of 1e-6 for
    rounding)."""
    c = tuples.shape[1]
    centre = proj.mean(1, keepdims=True)  # the centre's projections: linear in the curve
    m = yg.mean(1, keepdims=True)  # (g, 1, L)
    mm = (m * m).sum(-1, keepdims=True)  # (g, 1, 1): |m|^2, less its shared row's part
    if fy is not None:
        mm = mm - fy.mean(1, keepdims=True) ** 2
    rhs = [centre[:, :, tuples[:, j]] for j in range(c)]
    free = _tuple_rss(rhs, inv, mm, 0)[:, 0]  # (g, P): the centre's unconstrained residuals
    fits = _tuple_rss(rhs, inv, mm, n_amp)[:, 0]
    top = np.argsort(fits, axis=1)[:, :PRUNE_TOP]  # (g, K)
    cols = [np.take_along_axis(proj, tuples[top, j][:, None, :], 2) for j in range(c)]  # c x (g, per, K)
    upper = _tuple_rss(cols, np.take_along_axis(inv, top[:, :, None, None], 1), yy, n_amp).min(-1)  # (g, per)
    spread = np.sqrt(((yg - m) ** 2).sum(-1))  # (g, per): |y - m| before the projection, no smaller
    reach = (np.sqrt(upper) + spread).max(1)  # (g,): inf where a curve has no admissible candidate among them
    keep = free <= (reach[:, None] * (1 + 1e-6)) ** 2 + 1e-9 * mm[:, 0]
    return None if keep.mean() > 0.5 else keep


def _tuple_pieces(tuples: np.ndarray, longest: int) -> list[tuple[int, int, np.ndarray | None, np.ndarray | None]]:
    """The candidate tuples (P, c) cut into runs of consecutive ones in which every column keeps
    its row or advances by one row per candidate (the grid's pairs (i, i + 1 ...), an
    oscillation's cosine and sine rows), at most ``longest`` long: (start, stop, the first
    tuple's rows, the columns' steps), or (start, stop, None, None) where the rows do not advance
    in step."""
    n_tup, c = tuples.shape
    d = np.diff(tuples, axis=0)
    cut = np.flatnonzero(~((d == 0) | (d == 1)).all(1)) + 1
    bounds = np.concatenate([[0], cut, [n_tup]])
    out = []
    for s, e in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        steps = d[s] if e - s > 1 else np.zeros(c, int)
        regular = (d[s : e - 1] == steps).all()
        for p in range(s, e, longest):
            out.append((p, min(p + longest, e), tuples[p] if regular else None, steps if regular else None))
    return out


def _tuple_rss(rhs: list[np.ndarray], inv: np.ndarray, yy: np.ndarray, n_amp: int) -> np.ndarray:
    """The residual sum of squares of every curve on every candidate tuple, (g, per, P), from the
    curves' projections on each tuple's rows ``rhs`` (c arrays (g, per, P), or (g, per, 1) for a
    row shared by the P candidates), their inverse Gram matrices ``inv`` (g, P, c, c) shared by a
    group's curves, and |y|^2 ``yy`` (g, per, 1); inf where one of the first ``n_amp``
    coefficients is negative. The normal equations component by component, in place (the same
    numbers as :func:`rnn_timescales.analysis.acf_solve._finish`, a few times faster: the
    search's inner loop)."""
    c = len(rhs)
    n_cand = inv.shape[1]
    rss = np.repeat(yy, n_cand, axis=-1)
    bad = np.zeros(rss.shape, bool)
    coef, tmp = np.empty_like(rss), np.empty_like(rss)
    for i in range(c):
        np.multiply(np.ascontiguousarray(inv[:, :, i, 0])[:, None], rhs[0], out=coef)
        for j in range(1, c):
            np.multiply(np.ascontiguousarray(inv[:, :, i, j])[:, None], rhs[j], out=tmp)
            coef += tmp
        if i < n_amp:
            bad |= coef < 0
        coef *= rhs[i]
        rss -= coef
    np.maximum(rss, 0.0, out=rss)
    rss[bad] = np.inf
    return rss


__all__ = ["COVARIANCES", "RIDGE", "bartlett_covariance", "exact_covariance", "gls_search", "gls_whitener", "whiten", "whitener"]
