"""The generalised least-squares fit of the autocorrelation (docs/timescales.md, "Weighting the lags:
generalised least squares"): the whitening on hand-computed covariances, the Bartlett covariance of
white noise, the GLS fit against weighted least squares computed by hand and by brute force, its
reduction to ordinary least squares with the identity, and the estimator's ``fit`` option."""

from __future__ import annotations

import numpy as np
import pytest

from rnn_timescales.analysis.acf_bases import exp_basis, white_basis
from rnn_timescales.analysis.acf_gls import RIDGE, bartlett_covariance, gls_whitener, whiten, whitener
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
    monkeypatch.setattr(am, "GLS_CURVES", 2)  # one group per call
    np.testing.assert_allclose(fit_model(ac, 300, "1exp", whiten=w[:3]).taus, whole.taus, rtol=1e-12)


def test_estimator_fit_option():
    x = ou_process([20.0], None, 500, 40, 3, seed=5)
    gls = estimate_timescales(x, n_boot=20, seed=0)
    ols = estimate_timescales(x, n_boot=20, seed=0, fit="ols")
    assert gls.settings["fit"] == "gls" and ols.settings["fit"] == "ols"
    assert (gls.table["model"] == "1exp").all() and (ols.table["model"] == "1exp").all()
    assert not np.allclose(gls.table["tau_1_raw"], ols.table["tau_1_raw"])  # a different fit
    np.testing.assert_allclose(gls.table["tau_1"], 20, rtol=0.3)
    with pytest.raises(ValueError, match="fit must be one of gls, ols"):
        estimate_timescales(x, fit="wls")
