"""The weighting of the generalised least-squares fit of the autocorrelation (docs/timescales.md,
"Weighting the lags: generalised least squares").

The trial-averaged autocorrelation estimates at different lags are noisy and strongly correlated
with each other (a trial's slow fluctuation shifts all long lags together), so an ordinary
least-squares fit, weighting every lag equally, lets the noisiest, mutually redundant long lags
dominate. The generalised least-squares fit minimises r^T C^-1 r instead, C the covariance of the
estimate across lags, as it is under the model fitted by ordinary least squares:

- for a stationary Gaussian process with autocovariance gamma, Bartlett's formula gives the
  covariance of the sample autocovariances of one trial of n steps,

      Cov(C_k, C_l) ~ [A(|k - l|) + A(k + l)] / (n - min(k, l)),   A(d) = sum_m gamma_m gamma_(m+d)

  (m over all lags of the trial, gamma symmetric); averaging R trials divides it by R, which the
  fit ignores (it is invariant to scaling C);
- the covariance is taken at the ordinary least-squares fit's autocovariance (exponentials,
  oscillation and white noise; for counts the fitted model in the space it is fitted in), is
  normalised to C_00 = 1 and has ``ridge`` x its diagonal added (a well-conditioned C: the
  Bartlett covariance of a slow process is nearly singular);
- the fit then uses the whitened curves and bases W y, W b with W = L^-1, C = L L^T (Cholesky),
  so that r^T C^-1 r = |W r|^2 and the ordinary least-squares machinery applies unchanged.

Any fixed positive-definite weighting gives a consistent fit: the covariance only needs to be
roughly right for the weighting to pay (the Bartlett form ignores the trial mean's subtraction and
the counts' non-Gaussian fourth moments). The bootstrap fits every replicate of a unit with the same
weighting as the unit's data, so the intervals and tests account for it.

Everything is in time steps.
"""

from __future__ import annotations

import numpy as np

from rnn_timescales.analysis.acf_solve import _finish, _inverse, whiten

RIDGE = 1e-3  # share of its diagonal added to the covariance


def bartlett_covariance(fit, n_steps: int, max_lag: int, ridge: float = RIDGE) -> np.ndarray:
    """Covariance of the autocorrelation estimate at lags 0 ... max_lag under each curve's fitted
    model (a :class:`rnn_timescales.analysis.acf_models.Fit`), Bartlett's formula (module
    docstring), normalised to C_00 = 1, plus ``ridge`` x its diagonal.

    Returns (U, max_lag + 1, max_lag + 1); the identity (ordinary least squares) for a curve whose
    fit failed or whose covariance is not positive."""
    from scipy.fft import irfft, next_fast_len, rfft

    n = int(n_steps)
    n_units = len(fit.white)
    lags = max_lag + 1
    slowest = np.nan_to_num(np.nanmax(np.concatenate(
        [fit.taus, fit.osc[:, 1:2] if fit.osc is not None else np.zeros((n_units, 0)), np.ones((n_units, 1))], 1), 1),
        nan=1.0)
    n_gamma = int(min(n, 2 * lags + int(40 * min(float(np.max(slowest, initial=1.0)), 1e9))))  # gamma's tail beyond: < e^-40
    k = np.arange(lags)
    near, far = np.abs(k[:, None] - k[None]), k[:, None] + k[None]
    norm = 1.0 / (n - np.minimum(k[:, None], k[None]))
    out = np.empty((n_units, lags, lags))
    m = next_fast_len(2 * n_gamma - 1 + 2 * lags)
    step = max(1, int(4e6 // m))
    j = np.arange(n_gamma, dtype=np.float64)
    for u0 in range(0, n_units, step):
        f = fit.take(slice(u0, u0 + step))
        taus = np.where(np.isfinite(f.taus) & (f.taus > 0), f.taus, 1.0)
        gamma = (np.nan_to_num(f.amps)[:, :, None] * np.exp(-j / taus[:, :, None])).sum(1)
        gamma[:, 0] += np.nan_to_num(f.white)
        if f.osc is not None:
            gamma += np.nan_to_num(f.osc_gamma(j))
        g = np.concatenate([gamma[:, :0:-1], gamma], 1)  # lags -(n_gamma - 1) ... n_gamma - 1
        spec = rfft(g, m, axis=1)
        a = irfft(spec * spec.conj(), m, axis=1)[:, : 2 * lags]  # A(d), d = 0 ... 2 max_lag + 1
        c = (a[:, near] + a[:, far]) * norm
        out[u0 : u0 + step] = c
    diag = np.einsum("uii->ui", out)
    ok = (diag > 0).all(1) & np.isfinite(out).all((1, 2)) & np.isfinite(fit.rss)
    d0 = np.where(ok, diag[:, 0], 1.0)
    out /= d0[:, None, None]
    out[np.arange(n_units)[:, None], k, k] *= 1.0 + ridge
    out[~ok] = np.eye(lags)
    return out


def whitener(cov: np.ndarray) -> np.ndarray:
    """W = L^-1 for each covariance C = L L^T (Cholesky), (U, L, L) lower triangular: |W r|^2 =
    r^T C^-1 r. A covariance that is not positive definite gets more ridge until it is."""
    cov = np.asarray(cov, dtype=np.float64)
    eye = np.eye(cov.shape[-1])
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
                out[todo[good]] = np.linalg.inv(np.linalg.cholesky(c[good]))
            todo = todo[~good]
            extra = max(10 * extra, 1e-6)
            continue
        out[todo] = np.linalg.inv(low)
        break
    return out


def _is_pd(c: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(c)
    except np.linalg.LinAlgError:
        return False
    return True


def gls_whitener(fit, n_steps: int, max_lag: int, ridge: float = RIDGE) -> np.ndarray:
    """The whitening matrices (U, L, L) of the generalised least-squares fit under each curve's
    ordinary least-squares ``fit`` (:func:`bartlett_covariance`, :func:`whitener`)."""
    return whitener(bartlett_covariance(fit, n_steps, max_lag, ridge))


def gls_search(yw: np.ndarray, rows: np.ndarray, tuples: np.ndarray, n_amp: int, w: np.ndarray) -> np.ndarray:
    """The global grid search of :func:`rnn_timescales.analysis.acf_models.fit_model` in the
    generalised least-squares metric: every candidate tuple of the shared basis ``rows`` (R, L)
    for every whitened curve ``yw`` (U, L), the rows whitened per group of ``w`` (G, L, L) and
    the candidates' normal equations solved per group. Returns the best tuple's index (U,)."""
    n_groups, lags = w.shape[0], w.shape[-1]
    per = len(yw) // n_groups
    n_rows = len(rows)
    n_tup, c = tuples.shape
    y3 = yw.reshape(n_groups, per, lags)
    full = n_rows * n_rows <= n_tup * c * (c + 1) // 2  # the whole Gram matrix, or only the tuples' entries
    size = n_tup * c * c + n_rows * lags + (n_rows * n_rows if full else n_tup * lags)
    best = np.zeros(len(yw), int)
    chunk = max(1, int(2e7 // size))  # groups at a time
    for g0 in range(0, n_groups, chunk):
        rw = rows @ np.swapaxes(w[g0 : g0 + chunk], 1, 2)  # (g, R, L)
        g_n = len(rw)
        yg = y3[g0 : g0 + g_n]
        proj = yg @ np.swapaxes(rw, 1, 2)  # (g, per, R)
        yy = (yg * yg).sum(-1)[..., None]
        if full:
            gram = rw @ np.swapaxes(rw, 1, 2)
            cand = gram[:, tuples[:, :, None], tuples[:, None, :]]
        else:
            cand = np.empty((g_n, n_tup, c, c))
            for i in range(c):
                for j in range(i, c):
                    cand[..., i, j] = cand[..., j, i] = np.einsum("gpl,gpl->gp", rw[:, tuples[:, i]], rw[:, tuples[:, j]])
        inv = _inverse(cand)[:, None]  # (g, 1, P, c, c)
        best_rss = np.full((g_n, per), np.inf)
        best_idx = np.zeros((g_n, per), int)
        step = max(1, 2_000_000 // (g_n * per))
        for p0 in range(0, n_tup, step):
            _, rss = _finish(None, proj[:, :, tuples[p0 : p0 + step]], yy, n_amp, inverse=inv[:, :, p0 : p0 + step])
            i = rss.argmin(-1)
            r = np.take_along_axis(rss, i[..., None], -1)[..., 0]
            better = r < best_rss
            best_rss[better], best_idx[better] = r[better], p0 + i[better]
        best[g0 * per : (g0 + g_n) * per] = best_idx.reshape(-1)
    return best


__all__ = ["RIDGE", "bartlett_covariance", "gls_search", "gls_whitener", "whiten", "whitener"]
