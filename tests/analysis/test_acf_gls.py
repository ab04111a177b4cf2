"""The generalised least-squares fit of the autocorrelation (docs/timescales.md, "Weighting the lags:
generalised least squares"): the whitening on hand-computed covariances, the Bartlett covariance of
white noise, the GLS fit against weighted least squares computed by hand and by brute force, its
reduction to ordinary least squares with the identity, and the estimator's ``fit`` option."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_timescales.analysis.acf_bases import exp_basis, white_basis
from rnn_timescales.analysis.acf_gls import (
    RIDGE, bartlett_covariance, exact_covariance, gls_search, gls_whitener, whiten, whitener)
from rnn_timescales.analysis.acf_models import Fit, fit_model, fit_white
from rnn_timescales.analysis.inference import estimate_timescales
from rnn_timescales.analysis.synthetic import ou_process


def test_whitener_of_a_two_by_two_covariance_by_hand():
    # C = [[4, 2], [2, 5]] = L L^T with L = [[2, 0], [1, 2]], so W = L^-1 = [[1/2, 0], [-1/4, 1/2]]
    w = whitener(np.array([[[4.0, 2.0], [2.0, 5.0]]]))
    np.testing.assert_allclose(w[0], [[0.5, 0.0], [-0.25, 0.5]], atol=1e-12)
    r = np.array([[1.0, 3.0]])  # r^T C^-1 r = (5 - 12 + 36) / 16 = 29 / 16
    np.testing.assert_allclose((whiten(r, w) ** 2).sum(), 29 / 16, rtol=1e-12)


def test_whiten_applies_one_matrix_per_group_of_consecutive_curves():
    w = np.stack([np.eye(2), 2 * np.eye(2)])
    y = np.arange(8.0).reshape(4, 2)  # curves 0, 1 in group 0; 2, 3 in group 1
    np.testing.assert_allclose(whiten(y, w), [[0, 1], [2, 3], [8, 10], [12, 14]])
    with pytest.raises(ValueError, match="groups"):
        whiten(np.ones((3, 2)), w)


def test_bartlett_covariance_of_white_noise_by_hand():
    # gamma = delta: A(d) = delta_d, so Cov(C_k, C_l) = [delta_(k-l) + delta_(k+l)] / (n - min(k, l)):
    # 2 / n at lag 0, 1 / (n - k) at lag k > 0, no covariance; normalised by C_00, ridge on the diagonal
    n, max_lag = 10, 3
    fit = Fit("none", np.zeros((1, 0)), np.zeros((1, 0)), np.array([1.0]), np.array([0.0]), np.zeros(1, bool))
    c = bartlett_covariance(fit, n, max_lag)[0]
    k = np.arange(max_lag + 1)
    want = np.where(k == 0, 1.0, (n / 2) / (n - k)) * (1 + RIDGE)
    np.testing.assert_allclose(c, np.diag(want), atol=1e-12)


def _isserlis_by_brute_force(g: np.ndarray, n: int, max_lag: int) -> np.ndarray:
    """Cov(C_k, C_l) of C_k = sum_{t < n-k} x_t x_(t+k) / (n - k), summed over every pair of time
    points of one trial (Isserlis: E[x_t x_(t+k) x_s x_(s+l)] - g_k g_l = g_(s-t) g_(s+l-t-k) +
    g_(s+l-t) g_(s-t-k)); g = the autocovariance at lags 0 ... n - 1."""
    def gam(d):
        return g[abs(d)] if abs(d) < len(g) else 0.0

    c = np.zeros((max_lag + 1, max_lag + 1))
    for k in range(max_lag + 1):
        for l in range(max_lag + 1):
            c[k, l] = sum(gam(s - t) * gam(s + l - t - k) + gam(s + l - t) * gam(s - t - k)
                          for t in range(n - k) for s in range(n - l)) / ((n - k) * (n - l))
    return c


@pytest.mark.parametrize("n, max_lag, tau, amp, white", [(12, 4, 2.0, 1.5, 0.3), (15, 6, 50.0, 1.0, 0.0),
                                                          (9, 8, 1.0, 1.0, 1.0), (40, 5, 0.5, 1.0, 0.2)])
def test_exact_covariance_matches_the_sum_over_every_pair_of_time_points(n, max_lag, tau, amp, white):
    # includes a timescale far longer than the trial (50 on 15 steps), max_lag = n - 1, and one so short
    # that g has vanished before the trial's last max_lag lags (the far tails are skipped)
    fit = Fit("1exp", np.array([[tau]]), np.array([[amp]]), np.array([white]), np.array([0.0]), np.zeros(1, bool))
    g = amp * np.exp(-np.arange(n) / tau)
    g[0] += white
    raw = _isserlis_by_brute_force(g, n, max_lag)
    want = raw / raw[0, 0] + np.diag(RIDGE * np.diag(raw / raw[0, 0]))
    np.testing.assert_allclose(exact_covariance(fit, n, max_lag)[0], want, rtol=1e-10, atol=1e-13)


def test_exact_covariance_of_white_noise_by_hand():
    # g = delta: only d = 0 with k = l contributes, c_kk(0) = n - k pairs, twice at lag 0:
    # Var(C_0) = 2 / n, Var(C_k) = 1 / (n - k), the same as Bartlett's formula for white noise
    n, max_lag = 10, 3
    fit = Fit("none", np.zeros((1, 0)), np.zeros((1, 0)), np.array([1.0]), np.array([0.0]), np.zeros(1, bool))
    np.testing.assert_allclose(exact_covariance(fit, n, max_lag), bartlett_covariance(fit, n, max_lag), atol=1e-12)


PAIRS = [(i, j) for i in range(6) for j in range(i + 1, 6)]  # scattered rows: gathered, the tuples' products only
TRIPLES = [(i, j, k) for i in range(6) for j in range(i + 1, 6) for k in range(j + 1, 6)]  # the whole Gram matrix
SHIFTED = [(i, i + 3) for i in range(3)]  # consecutive rows per position (as an oscillation's cosine and sine): views
SHUFFLED = [PAIRS[i] for i in np.random.default_rng(0).permutation(len(PAIRS))]  # rows not advancing in step: gathered


@pytest.mark.parametrize("chosen", [PAIRS, TRIPLES, SHIFTED, SHUFFLED],
                         ids=["pairs", "triples", "consecutive", "shuffled"])
def test_gls_search_picks_the_brute_force_best_tuple(chosen):
    # every candidate's weighted least squares solved directly (numpy lstsq), the first two
    # coefficients constrained >= 0: the search (the white-noise row projected out first, the
    # equations solved in chunks; each way of forming the candidates' products and of reading
    # their projections) picks the same tuple for every curve
    rng = np.random.default_rng(3)
    n_lags, n_rows, per = 12, 7, 8
    rows = np.exp(-np.arange(n_lags) / np.array([0.5, 1, 2, 4, 8, 16, 1e-9])[:, None])  # six exponentials, then white
    tuples = np.array([t + (n_rows - 1,) for t in chosen])
    band = np.eye(n_lags) + 0.3 * np.diag(np.ones(n_lags - 1), 1) + 0.3 * np.diag(np.ones(n_lags - 1), -1)
    w = np.stack([np.eye(n_lags), np.linalg.inv(np.linalg.cholesky(band))])
    sign = np.where(np.arange(per) % 2, 1.0, -1.0)[:, None]  # half the curves need a negative amplitude
    y = np.tile(rng.normal(size=(per, n_lags)) * 0.05 + 0.7 * rows[1] + sign * 0.4 * rows[4] + 0.2 * rows[-1], (2, 1))
    yw = np.concatenate([y[:per] @ w[0].T, y[per:] @ w[1].T])
    best = gls_search(yw, rows, tuples, 2, w)
    for u in range(2 * per):
        rw = rows @ w[u // per].T
        rss = []
        for t in tuples:
            coef, res, *_ = np.linalg.lstsq(rw[t].T, yw[u], rcond=None)
            rss.append(np.inf if (coef[:2] < 0).any() else np.sum((yw[u] - rw[t].T @ coef) ** 2))
        assert best[u] == int(np.argmin(rss))


def test_windowed_and_low_rank_whitening_of_the_table_equal_whitening_each_curve():
    # a group's candidates close together (the window of the table whitened once, then
    # interpolated) and far apart (the table's low-rank factors whitened once, each curve's rows
    # from its coefficients): both as whitening every interpolated row, to rounding
    from rnn_timescales.analysis.acf_bases import _table_basis, tau_grid
    from rnn_timescales.analysis.acf_solve import _whitened_table

    rng = np.random.default_rng(5)
    n, lags, per = 500, 30, 50
    taus = tau_grid(n, 200)
    band = np.eye(lags + 1) + 0.4 * np.diag(np.ones(lags), 1) + 0.4 * np.diag(np.ones(lags), -1)
    w = np.stack([np.linalg.inv(np.linalg.cholesky(band)), np.eye(lags + 1)])
    for spread in (0.005, 3.0):  # 120 window rows against 600 candidates; 16 384 against 600 (factors)
        centre = np.array([6.0, 70.0])[None, :, None]
        values = centre * np.exp(rng.normal(size=(2 * per, 2, 1)) * spread + np.linspace(-0.02, 0.02, 3))
        values = np.clip(values, taus[0], taus[-1])
        want = whiten(_table_basis(values, n, lags, taus[0], taus[-1]), w)
        np.testing.assert_allclose(_whitened_table(values, n, lags, taus[0], taus[-1], 1, w), want, rtol=1e-10, atol=1e-12)


def test_white_noise_shortcuts_equal_the_general_computation():
    # the white-noise model's diagonal covariance (no convolutions) equals the general sums for the
    # same autocovariance (an exponential of amplitude 0), and its whitening the Cholesky inverse
    n, max_lag = 500, 40
    white = np.array([1.0, 0.3, 2.5])
    none = Fit("none", np.zeros((3, 0)), np.zeros((3, 0)), white, np.zeros(3), np.zeros(3, bool))
    zero_exp = Fit("1exp", np.full((3, 1), 7.0), np.zeros((3, 1)), white, np.zeros(3), np.zeros(3, bool))
    cov = exact_covariance(none, n, max_lag)
    np.testing.assert_allclose(cov, exact_covariance(zero_exp, n, max_lag), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(whitener(cov), np.linalg.inv(np.linalg.cholesky(cov)), rtol=1e-12)


def test_exact_covariance_tends_to_bartletts_for_long_trials_and_departs_on_short_ones():
    fit = Fit("1exp", np.array([[5.0], [100.0]]), np.ones((2, 1)), np.zeros(2), np.zeros(2), np.zeros(2, bool))

    def gap(n):
        e, b = exact_covariance(fit, n, 100), bartlett_covariance(fit, n, 100)
        return np.abs(e - b).max(axis=(1, 2)) / np.abs(b).max(axis=(1, 2))

    short, long_ = gap(500), gap(20_000)
    assert long_[0] < 1e-4 and long_[1] < 2e-3  # trials 4000 and 200 timescales long
    assert short[1] > 0.02 and short[1] > 20 * long_[1]  # tau = 100 on 500 steps: the finite trial matters


def test_exact_covariance_of_a_two_exponential_fit_in_chunks_equals_one_at_a_time():
    rng = np.random.default_rng(3)
    u = 7
    taus = np.sort(rng.uniform(1, 40, (u, 2)), 1)
    fit = Fit("2exp", taus, rng.uniform(0.2, 1, (u, 2)), rng.uniform(0, 0.5, u), np.zeros(u), np.zeros(u, bool))
    together = exact_covariance(fit, 80, 12)
    for i in range(u):
        np.testing.assert_allclose(together[i], exact_covariance(fit.take(slice(i, i + 1)), 80, 12)[0], rtol=1e-9)


def test_bartlett_covariance_of_an_exponential_matches_its_sum():
    # A(d) = sum_m a^2 r^|m| r^|m + d| over |m| < n, checked by direct summation
    n, max_lag, tau, amp = 60, 6, 4.0, 2.0
    fit = Fit("1exp", np.array([[tau]]), np.array([[amp]]), np.array([0.0]), np.array([0.0]), np.zeros(1, bool))
    m = np.arange(-(n - 1), n)
    g = amp * np.exp(-np.abs(m) / tau)

    def a(d):
        return sum(g[i] * g[i + d] for i in range(len(g) - d))

    k = np.arange(max_lag + 1)
    raw = np.array([[(a(abs(i - j)) + a(i + j)) / (n - min(i, j)) for j in k] for i in k])
    want = raw / raw[0, 0] + np.diag(RIDGE * np.diag(raw / raw[0, 0]))
    np.testing.assert_allclose(bartlett_covariance(fit, n, max_lag)[0], want, rtol=1e-9, atol=1e-12)


def test_gls_white_fit_equals_weighted_least_squares_by_hand():
    # one basis b (white noise), C = [[2, 1], [1, 2]]: W = b'C^-1 y / b'C^-1 b, C^-1 = [[2, -1], [-1, 2]] / 3
    n = 10
    b = white_basis(n, 1)  # (1 - 1/n, -1/n) for a trial's own mean
    y = np.array([3.0, 1.0])
    ci = np.array([[2.0, -1.0], [-1.0, 2.0]]) / 3
    want = (b @ ci @ y) / (b @ ci @ b)
    r = y - want * b
    fit = fit_white(y[None], n, whiten=whitener(np.array([[[2.0, 1.0], [1.0, 2.0]]])))
    np.testing.assert_allclose(fit.white, [want], rtol=1e-12)
    np.testing.assert_allclose(fit.rss, [r @ ci @ r], rtol=1e-10)


def test_gls_with_a_diagonal_covariance_is_weighted_least_squares():
    # a 1exp + white curve with noise; weights 1 / c_k: the fit's timescale equals the weighted
    # least-squares optimum found by brute force over a fine grid of timescales
    n, max_lag = 400, 40
    rng = np.random.default_rng(3)
    k = np.arange(max_lag + 1)
    c = 1.0 + 0.2 * k  # variances growing with the lag
    y = 0.8 * exp_basis(12.0, n, max_lag) + 0.2 * white_basis(n, max_lag) + 0.01 * np.sqrt(c) * rng.standard_normal(k.size)
    fit = fit_model(y[None], n, "1exp", whiten=whitener(np.diag(c)[None]))
    taus = np.geomspace(8, 18, 20001)
    b, w = exp_basis(taus, n, max_lag), white_basis(n, max_lag)
    rss = []
    for bi in b:
        x = np.stack([bi, w], 1) / np.sqrt(c)[:, None]
        coef, res, *_ = np.linalg.lstsq(x, y / np.sqrt(c), rcond=None)
        rss.append(res[0])
    best = taus[int(np.argmin(rss))]
    np.testing.assert_allclose(fit.taus[0, 0], best, rtol=2e-3)
    np.testing.assert_allclose(fit.rss[0], min(rss), rtol=1e-3)


@pytest.mark.parametrize("model", ["2exp", "osc"])
def test_gls_with_the_identity_is_ordinary_least_squares(model):
    # the same grid search, refinements and solve: the identity weighting changes nothing
    x = ou_process([4.0, 30.0], [0.5, 0.5], 300, 20, 3, seed=1)
    from rnn_timescales.analysis.inference import _autocorrelations

    _, ac = _autocorrelations(x, 60, False)
    ols = fit_model(ac, 300, model)
    gls = fit_model(ac, 300, model, whiten=np.broadcast_to(np.eye(61), (3, 61, 61)))
    for name in ("taus", "amps", "white", "rss"):
        np.testing.assert_allclose(getattr(gls, name), getattr(ols, name), rtol=1e-8, atol=1e-12)
    if model == "osc":
        np.testing.assert_allclose(gls.osc, ols.osc, rtol=1e-8)


def test_gls_with_the_identity_is_ordinary_least_squares_for_one_exponential():
    # one exponential: the same optimum, found by the generic refinement instead of the tabulated one
    x = ou_process([15.0], None, 300, 20, 4, seed=2)
    from rnn_timescales.analysis.inference import _autocorrelations

    _, ac = _autocorrelations(x, 60, False)
    ols = fit_model(ac, 300, "1exp")
    gls = fit_model(ac, 300, "1exp", whiten=np.broadcast_to(np.eye(61), (4, 61, 61)))
    np.testing.assert_allclose(gls.taus, ols.taus, rtol=2e-3)
    np.testing.assert_allclose(gls.rss, ols.rss, rtol=1e-4)


def test_gls_fit_of_groups_of_replicates_in_chunks_equals_one_by_one(monkeypatch):
    # curves in groups (a unit's replicates share its weighting); split into several calls when many
    import rnn_timescales.analysis.acf_models as am

    x = ou_process([10.0], None, 300, 10, 6, seed=4)
    from rnn_timescales.analysis.inference import _autocorrelations

    _, ac = _autocorrelations(x, 60, False)
    pilot = fit_model(ac, 300, "1exp")
    w = gls_whitener(pilot, 300, 60)  # (6, 61, 61)
    grouped = np.repeat(w[:3], 2, axis=0)  # 3 groups of 2 curves: curves 2g, 2g + 1 use w[g]
    whole = fit_model(ac, 300, "1exp", whiten=w[:3])
    one = [fit_model(ac[i : i + 1], 300, "1exp", whiten=grouped[i : i + 1]) for i in range(6)]
    np.testing.assert_allclose(whole.taus[:, 0], [f.taus[0, 0] for f in one], rtol=1e-9)
    monkeypatch.setattr(am, "GLS_CURVES", 2)  # one group per call (a call's groups decide whether the
    # table is whitened per window or per curve: the same numbers to rounding)
    np.testing.assert_allclose(fit_model(ac, 300, "1exp", whiten=w[:3]).taus, whole.taus, rtol=1e-10)


def test_estimator_fit_option():
    x = ou_process([20.0], None, 500, 40, 3, seed=5)
    gls = estimate_timescales(x, n_boot=20, seed=0)
    ols = estimate_timescales(x, n_boot=20, seed=0, fit="ols")
    bartlett = estimate_timescales(x, n_boot=20, seed=0, fit="gls-bartlett")
    assert gls.settings["fit"] == "gls" and ols.settings["fit"] == "ols" and bartlett.settings["fit"] == "gls-bartlett"
    for est in (gls, ols, bartlett):
        assert (est.table["model"] == "1exp").all()
        np.testing.assert_allclose(est.table["tau_1"], 20, rtol=0.3)
    assert not np.allclose(gls.table["tau_1_raw"], ols.table["tau_1_raw"])  # a different fit
    assert not np.allclose(gls.table["tau_1_raw"], bartlett.table["tau_1_raw"])  # a different weighting
    with pytest.raises(ValueError, match="fit must be one of gls, gls-bartlett, ols"):
        estimate_timescales(x, fit="wls")


def test_estimator_threads_change_nothing_but_the_threads():
    from threadpoolctl import threadpool_info

    x = ou_process([10.0], None, 300, 20, 2, seed=1)
    one = estimate_timescales(x, n_boot=20)
    two = estimate_timescales(x, n_boot=20, threads=2)
    left = estimate_timescales(x, n_boot=20, threads=None)
    for other in (two, left):
        np.testing.assert_array_equal(one.table["tau_1"], other.table["tau_1"])
    before = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    estimate_timescales(x, n_boot=20, threads=1)
    assert [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"] == before  # restored
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="threads must be a positive integer"):
            estimate_timescales(x, threads=bad)


def test_the_tables_low_rank_factors_reproduce_every_row():
    # exponentials over the fitted lags span few dimensions: the truncated factors give every row
    # of the table to rounding with far fewer dimensions than lags, the basis orthonormal
    from rnn_timescales.analysis.acf_bases import _exp_table, _table_factors

    for n, lags, n_mean in ((500, 100, 1), (500, 100, 100), (5000, 500, 1), (2_000_000, 1000, 1)):
        table = _exp_table(n, lags, 0.2, 4.0 * n, n_mean)
        coef, basis = _table_factors(n, lags, 0.2, 4.0 * n, n_mean)
        assert len(basis) < (lags + 1) / 2
        np.testing.assert_allclose(basis @ basis.T, np.eye(len(basis)), atol=1e-12)
        err = np.abs(coef @ basis - table).max(1) / np.abs(table).max(1)
        assert err.max() < 1e-12


def test_bounded_search_picks_what_every_candidate_picks(monkeypatch):
    # groups of replicates scattered about a two-timescale curve (the bootstrap's case), whitened
    # per group, some curves needing a negative amplitude: the search on the candidates the bound
    # keeps picks the same tuple for every curve as evaluating every candidate, and the bound
    # prunes (it keeps under half of them)
    from rnn_timescales.analysis import acf_gls
    from rnn_timescales.analysis.acf_models import _basis_rows

    rng = np.random.default_rng(7)
    n, lags, per = 400, 40, 30
    taus, _, rows, tuples, _ = _basis_rows(n, lags, 2, False, 40, 0.2)
    truth = 0.6 * exp_basis(4.0, n, lags) + 0.4 * exp_basis(60.0, n, lags) + 0.1 * white_basis(n, lags)
    band = np.eye(lags + 1) + 0.3 * np.diag(np.ones(lags), 1) + 0.3 * np.diag(np.ones(lags), -1)
    w = np.stack([np.linalg.inv(np.linalg.cholesky(band)), np.eye(lags + 1), 2.0 * np.eye(lags + 1)])
    y = truth + rng.normal(size=(3, per, lags + 1)) * np.array([0.002, 0.01, 0.002])[:, None, None]
    # the third group split between two curves: its centre fits neither, the bests of each half
    # lie far from the centre's (a bound without the curves' spread about the centre misses them)
    y[2, ::2] += 0.5 * exp_basis(150.0, n, lags) - 0.4 * exp_basis(60.0, n, lags)
    y[2, :4] -= 0.2 * exp_basis(15.0, n, lags)  # a dip: the best fits of these need care
    yw = (y @ np.swapaxes(w, 1, 2)).reshape(-1, lags + 1)
    pruned = acf_gls.gls_search(yw, rows, tuples, 2, w)
    every = acf_gls.gls_search(yw, rows, tuples, 2, w, prune=False)
    np.testing.assert_array_equal(pruned, every)
    kept_share = []
    orig = acf_gls._bound

    def spy(*args):
        keep = orig(*args)
        kept_share.append(None if keep is None else keep.mean())
        return keep

    monkeypatch.setattr(acf_gls, "_bound", spy)
    acf_gls.gls_search(yw, rows, tuples, 2, w)
    assert kept_share[0] is not None and kept_share[0] < 0.5


def test_refinement_in_the_tables_low_rank_coordinates_equals_the_whitened_rows():
    # a refinement round of two timescales by generalised least squares: the candidates' products
    # from the table's low-rank factors with the white row projected out (_TableProducts) give the
    # same next timescales as whitening every candidate row with the white row beside them
    from rnn_timescales.analysis.acf_bases import tau_grid
    from rnn_timescales.analysis.acf_solve import _refine_taus, _TableProducts

    rng = np.random.default_rng(11)
    n, lags, per = 400, 40, 20
    taus = tau_grid(n, 80)
    band = np.eye(lags + 1) + 0.35 * np.diag(np.ones(lags), 1) + 0.35 * np.diag(np.ones(lags), -1)
    w = np.stack([np.linalg.inv(np.linalg.cholesky(band)), 1.5 * np.eye(lags + 1)])
    truth = 0.5 * exp_basis(3.0, n, lags) + 0.5 * exp_basis(40.0, n, lags) + 0.2 * white_basis(n, lags)
    y = truth + 0.01 * rng.normal(size=(2, per, lags + 1))
    ys = (y @ np.swapaxes(w, 1, 2)).reshape(-1, lags + 1)
    white = np.repeat(w @ white_basis(n, lags), per, axis=0)  # (U, L)
    start = np.column_stack([rng.uniform(2.0, 4.5, 2 * per), rng.uniform(25.0, 60.0, 2 * per)])
    key = (n, lags, float(taus[0]), float(taus[-1]), 1)
    products = _TableProducts(key, w, ys, white)
    for width in (0.1, 0.01):
        plain = _refine_taus(start, width, 3, taus, n, lags, None, ys, 2, white, 1, w)
        low = _refine_taus(start, width, 3, taus, n, lags, None, ys, 2, white, 1, w, products=products)
        np.testing.assert_allclose(low, plain, rtol=1e-12)
    # one timescale, with the parabola's step off the lattice (its residuals agree to rounding)
    plain = _refine_taus(start[:, 1:], 0.05, 9, taus, n, lags, None, ys, 1, white, 1, w, parabola=True)
    low = _refine_taus(start[:, 1:], 0.05, 9, taus, n, lags, None, ys, 1, white, 1, w, parabola=True,
                       products=products)
    np.testing.assert_allclose(low, plain, rtol=1e-6)
