"""A whole recording at once (issue 35, docs/timescales.md): the new equations on hand-computed
cases (small inverses, the latent transform of exponentiated-rate counts, quantiles, the
goodness-of-fit p-value, the trial-pool replicates), the damped-oscillation model and its choice,
the poor-fit warning, white Poisson noise, exponentiated-rate counts, and the command on folders
and .npz files of units, transposed data and negative integers."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.signal import lfilter

from rnn_timescales.analysis.acf_bases import expected_estimate, exp_basis, osc_basis, osc_pair, osc_sin_basis, white_basis
from rnn_timescales.analysis.acf_models import OSC_ROUNDS, Fit, fit_model
from rnn_timescales.analysis.acf_solve import _inverse, _refine_osc
from rnn_timescales.analysis.autocorrelation import both_mean_autocorrelations
from rnn_timescales.analysis.inference import _autocorrelations, estimate_timescales
from rnn_timescales.analysis.model_choice import nan_quantiles, p_values
from rnn_timescales.analysis.synthetic import ou_process, ou_spike_counts
from rnn_timescales.analysis.trial_pool import _oscillation_trials, latent, replicates
from rnn_timescales.cli import main


# --- equations on hand-computed cases --------------------------------------------------------------
def test_explicit_inverses_of_small_gram_matrices():
    two = _inverse(np.array([[2.0, 1.0], [1.0, 2.0]]))
    np.testing.assert_allclose(two, [[2 / 3, -1 / 3], [-1 / 3, 2 / 3]], rtol=1e-9)
    g = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 1.0], [0.0, 1.0, 2.0]])  # det 18
    np.testing.assert_allclose(_inverse(g) * 18, [[5, -2, 1], [-2, 8, -4], [1, -4, 11]], rtol=1e-9)


def test_both_means_from_one_transform():
    # the autocorrelation about the unit's mean over all trials follows from the one about each
    # trial's own mean (one FFT); by hand for two trials of 3 steps, and against the direct FFT
    x = np.array([[1.0, 4.0], [2.0, 6.0], [4.0, 5.0]])[:, :, None]  # (time, trials, units)
    both = both_mean_autocorrelations(x, 1)
    dev = x[:, :, 0] - x.mean()  # global mean 11/3
    by_hand = [np.mean([(dev[: 3 - k, r] * dev[k:, r]).sum() / (3 - k) for r in range(2)]) for k in (0, 1)]
    np.testing.assert_allclose(both["global"][0], by_hand, rtol=1e-12)
    x = np.random.default_rng(0).normal(size=(200, 7, 3)) + np.arange(7)[:, None]
    for mean, global_mean in (("trial", False), ("global", True)):
        np.testing.assert_allclose(both := both_mean_autocorrelations(x, 30)[mean],
                                   _autocorrelations(x, 30, False, global_mean)[1], rtol=1e-12, atol=1e-12)
    assert both.shape == (3, 31)


def test_latent_transform_of_exponentiated_rate_counts():
    # mean 2, latent variance 0.5 at lag k: Cov = 4 (e^0.5 - 1); the transform returns 0.5
    c = np.array([[4 * np.expm1(0.5), 4 * np.expm1(0.25), 0.0]])
    np.testing.assert_allclose(latent(c, np.array([2.0])), [[0.5, 0.25, 0.0]], rtol=1e-12)


def test_nan_quantiles_by_hand():
    a = np.array([[1.0, 2.0, 3.0, np.nan], [4.0, np.nan, np.nan, np.nan]])
    q = nan_quantiles(a, [0.25, 0.5], axis=1)
    np.testing.assert_allclose(q, [[1.5, 4.0], [2.0, 4.0]])


def test_goodness_of_fit_p_value_by_hand():
    null = np.exp(np.arange(1.0, 21.0))[None]  # log-null 1 ... 20; 75th percentile 15.25
    # below the 75th percentile: the empirical (1 + #{log null >= 5.5}) / 21 = 16 / 21
    assert p_values(np.array([np.exp(5.5)]), null)[0] == pytest.approx(16 / 21)
    # above it: 0.25 exp(-(25 - 15.25) / m), m the mean excess of 16 ... 20 over 15.25 = 2.75
    assert p_values(np.array([np.exp(25.0)]), null)[0] == pytest.approx(0.25 * np.exp(-9.75 / 2.75))


def test_replicates_have_the_expected_mean_and_the_trial_average_variance():
    # a pool of two trials per unit, per-trial values 0 and 2 at the one lag: deviations +-1,
    # scaled by sqrt(M / (M - 1)) = sqrt(2); the mean of n = 8 draws has variance 2 / 8
    pool = np.array([[[0.0], [2.0]]])
    reps = replicates(np.array([[10.0]]), pool, n_trials=8, n_rep=20_000, rng=0)
    assert reps.shape == (1, 20_000, 1)
    assert reps.mean() == pytest.approx(10.0, abs=0.02)
    assert reps.var() == pytest.approx(2 / 8, rel=0.05)


def test_damped_cosine_closed_form_equals_the_expected_estimate():
    for n, lags, tau, f in [(60, 12, 4.0, 0.1), (5000, 100, 30.0, 0.03), (200_000, 50, 1e4, 0.2)]:
        k = np.arange(n)
        direct = expected_estimate((np.exp(-k / tau) * np.cos(2 * np.pi * f * k))[None], n, lags)[0]
        np.testing.assert_allclose(osc_basis(tau, f, n, lags), direct, rtol=0, atol=1e-12)


def test_oscillation_alone_is_fitted_exactly():
    y = 0.7 * osc_basis(25.0, 0.05, 800, 120) + 0.3 * white_basis(800, 120)
    fit = fit_model(y[None], 800, "osc")
    assert fit.taus.shape == (1, 0) and fit.model == "osc"
    np.testing.assert_allclose(fit.osc[0], [0.7, 25.0, 0.05], rtol=0.01)
    assert fit.white[0] == pytest.approx(0.3, rel=0.01)


def test_oscillation_steps_reach_the_least_squares_optimum():
    # one Levenberg-Marquardt step per call: from a grid step away (decay x 1.8, frequency + 0.01)
    # to the exact parameters of a noise-free curve, in the ordinary and a whitened metric
    n, lags = 500, 100
    y = 2.0 * osc_basis(20.0, 0.04, n, lags) + 0.7 * osc_sin_basis(20.0, 0.04, n, lags) + 0.3 * white_basis(n, lags)
    chol = np.linalg.cholesky(np.exp(-np.abs(np.subtract.outer(np.arange(lags + 1), np.arange(lags + 1))) / 3.0))
    for w in (None, np.linalg.inv(chol)[None]):
        ys = y[None] if w is None else y[None] @ w[0].T
        fixed = white_basis(n, lags)[None, None] if w is None else (white_basis(n, lags) @ w[0].T)[None, None]
        osc, lam, rows = np.array([[36.0, 0.05]]), np.array([1e-2]), None
        for _ in range(OSC_ROUNDS):
            osc, lam, rows, done = _refine_osc(osc, lam, fixed, ys, 1, n, lags, whitening=w, rows=rows)
        np.testing.assert_allclose(osc[0], [20.0, 0.04], rtol=1e-6)
        assert done.all()


def test_oscillation_fit_of_a_misspecified_curve_is_the_optimum():
    # two exponentials fitted by a damped oscillation (the frequency goes to its bound, where the
    # residual is flat in the decay and Gauss-Newton steps converge slowly): the fit's residual is
    # within 0.1 % of the smallest on a fine grid of decays at that frequency
    n, lags = 500, 100
    y = 0.4 * exp_basis(5.0, n, lags) + 0.6 * exp_basis(80.0, n, lags) + 0.2 * white_basis(n, lags)
    fit = fit_model(y[None], n, "osc")
    decays = fit.osc[0, 1] * np.exp(np.linspace(-0.2, 0.2, 401))
    rows = np.stack([*osc_pair(decays, np.full_like(decays, fit.osc[0, 2]), n, lags).transpose(1, 0, 2),
                     np.broadcast_to(white_basis(n, lags), (len(decays), lags + 1))], 1)  # (D, 3, L)
    rss = [np.sum((y - r.T @ np.linalg.lstsq(r.T, y, rcond=None)[0]) ** 2) for r in rows]
    assert fit.osc[0, 2] == pytest.approx(1e-4) and min(rss) <= fit.rss[0] <= min(rss) * (1 + 1e-3)


def test_damped_sine_closed_form_equals_the_expected_estimate():
    for n, lags, tau, f in [(60, 12, 4.0, 0.1), (5000, 100, 30.0, 0.03)]:
        k = np.arange(n)
        direct = expected_estimate((np.exp(-k / tau) * np.sin(2 * np.pi * f * k))[None], n, lags)[0]
        np.testing.assert_allclose(osc_sin_basis(tau, f, n, lags), direct, rtol=0, atol=1e-12)


def test_ar2_autocorrelation_with_its_phase_term_is_fitted_exactly():
    # AR(2) with roots r e^{+-iw}: rho_k = r^k (cos wk + c sin wk), c = (1 - r^2) / (1 + r^2) cot w
    r, w = np.exp(-1 / 20), 2 * np.pi / 25
    c = (1 - r * r) / (1 + r * r) / np.tan(w)
    y = 2.0 * osc_basis(20.0, 0.04, 500, 100) + 2.0 * c * osc_sin_basis(20.0, 0.04, 500, 100)
    fit = fit_model(y[None], 500, "osc")
    np.testing.assert_allclose(fit.osc[0], [2.0, 20.0, 0.04], rtol=1e-3)
    assert fit.sine[0] == pytest.approx(2.0 * c, rel=5e-3) and abs(fit.white[0]) < 1e-3


def test_pool_oscillation_has_the_fitted_autocovariance():
    # A = 1, decay 10, frequency 0.1 and the phase term of an AR(2) process with them,
    # B = (1 - r^2) / (1 + r^2) cot(2 pi f), r = exp(-1 / 10): a valid autocovariance (its
    # spectrum is positive, so the circulant embedding clips nothing; a larger B, e.g. 0.3, has
    # negative spectral values, which the embedding sets to 0, adding about 3 % at lag 0)
    r = np.exp(-0.1)
    b = (1 - r * r) / (1 + r * r) / np.tan(0.2 * np.pi)
    nan = np.zeros((1, 0))
    fit = Fit("osc", nan, nan, np.zeros(1), np.zeros(1), np.zeros(1, bool), np.array([[1.0, 10.0, 0.1]]), np.array([b]))
    x = _oscillation_trials(fit, 400, 512, np.random.default_rng(0))[:, :, 0].astype(float)
    k = np.arange(6)
    emp = np.array([(x[: 400 - j] * x[j:]).mean() for j in k])
    want = np.exp(-k / 10) * (np.cos(0.2 * np.pi * k) + b * np.sin(0.2 * np.pi * k))
    np.testing.assert_allclose(emp, want, atol=0.02)


# --- model choice ------------------------------------------------------------------------------------
def _ar2(n_units, seed):
    r, om = np.exp(-1 / 20), 2 * np.pi / 25
    e = np.random.default_rng(seed).standard_normal((700, 60, n_units))
    return lfilter([1.0], [1.0, -2 * r * np.cos(om), r * r], e, axis=0)[300:]


def test_oscillation_is_chosen_with_decay_and_frequency():
    est = estimate_timescales(_ar2(3, 0), n_boot=40, seed=0)
    assert list(est.table["model"]) == ["osc"] * 3
    for u in est.units:
        osc = u["oscillation"]
        assert abs(osc["decay"] / 20 - 1) < 0.15 and abs(osc["frequency"] / 0.04 - 1) < 0.15, osc
        lo, hi = osc["frequency_interval"]
        assert lo <= osc["frequency"] <= hi
        assert u["timescales"] == []
    assert not est.warnings


def test_pure_exponential_on_oscillation_warns():
    est = estimate_timescales(_ar2(2, 1), models=("1exp", "2exp"), n_boot=40, seed=0)
    assert est.table["poor_fit"].all()
    assert len(est.warnings) == 1 and "damped-oscillation" in est.warnings[0] and "r2 = 0." in est.warnings[0]


def test_white_poisson_noise_has_no_timescale():
    x = np.random.default_rng(3).poisson(1.0, (400, 60, 40))
    est = estimate_timescales(x, kind="counts", n_boot=40, seed=0)
    assert (est.table["model"] == "none").mean() >= 0.95


def test_exponentiated_rate_counts_give_the_latent_timescale():
    x = ou_spike_counts([20.0], None, 500, 100, 12, mean=1.0, std=0.5, seed=5, rate="exp")
    est = estimate_timescales(x, kind="counts", rate="exp", n_boot=60, seed=0)
    t = est.table
    assert (t["model"] == "1exp").all()
    assert abs(np.median(t["tau_1"]) / 20 - 1) < 0.1
    assert ((t["tau_1_low"] <= 20) & (20 <= t["tau_1_high"])).mean() >= 0.75
    assert est.settings["rate"] == "exp"


def test_one_long_trial_is_accepted():
    x = ou_process([30.0], None, 60_000, 1, 1, seed=2)[:, 0, 0]  # (time,)
    u = estimate_timescales(x, n_boot=40, seed=0).units[0]
    assert u["model"] == "1exp" and abs(u["timescales"][0] / 30 - 1) < 0.15


# --- the command -----------------------------------------------------------------------------------
def test_folder_and_npz_of_units(tmp_path, capsys):
    x = ou_process([8.0], None, 300, 30, 3, seed=6)  # (time, trials, units)
    folder = tmp_path / "units"
    folder.mkdir()
    for u, name in enumerate(["n1", "n2", "n3"]):
        np.save(folder / f"{name}.npy", x[:, :, u].T)  # (trials, time)
    np.savez(tmp_path / "units.npz", **{f"n{u + 1}": x[:, :, u].T for u in range(3)})
    for src, out in [(folder, tmp_path / "o1"), (tmp_path / "units.npz", tmp_path / "o2")]:
        code = main(["timescales", str(src), "--axes", "trials,time", "--interval", "none", "--out", str(out),
                     "--no-progress", "--json"])
        assert code == 0
        result = json.loads(capsys.readouterr().out)
        assert [u["name"] for u in result["units"]] == ["n1", "n2", "n3"]
    import pandas as pd

    a, b = pd.read_csv(tmp_path / "o1" / "timescales.csv"), pd.read_csv(tmp_path / "o2" / "timescales.csv")
    assert list(a["name"]) == ["n1", "n2", "n3"]
    np.testing.assert_allclose(a["tau_1"], b["tau_1"])


def test_transposed_data_warns_with_the_fix(tmp_path, capsys):
    x = ou_process([20.0], None, 400, 40, 1, seed=7)[:, :, 0]  # (time, trials)
    np.save(tmp_path / "d.npy", x.T)  # (trials, time), declared the other way round below
    code = main(["timescales", str(tmp_path / "d.npy"), "--axes", "time,trials", "--max-lag", "8",
                 "--interval", "none", "--out", str(tmp_path / "o"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 0
    assert "are the axes swapped? try --axes trials,time" in err


def test_negative_integers_are_called_so(tmp_path, capsys):
    x = np.rint(ou_process([5.0], None, 300, 20, 1, seed=8)[:, :, 0] * 3).astype(int)
    np.save(tmp_path / "d.npy", x)
    assert main(["timescales", str(tmp_path / "d.npy"), "--axes", "time,trials", "--interval", "none",
                 "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert "kind: continuous (guessed from integers, some negative, so not counts" in capsys.readouterr().err


def test_expected_estimate_with_the_mean_of_all_trials_by_hand():
    # white noise, n = 10 steps, mean over R = 4 trials: g(t) = 1, P(m) = m, G = n, so
    # E[C_0] = 1 - 1 / (R n) and E[C_k] = -1 / (R n) for k >= 1 (R = 1: the trial's own mean)
    for r in (1, 4):
        np.testing.assert_allclose(white_basis(10, 3, n_mean=r), [1 - 1 / (10 * r)] + [-1 / (10 * r)] * 3, atol=1e-15)
    # the closed form of an exponential agrees with the numerical map for R > 1 too
    from rnn_timescales.analysis.acf_bases import exp_basis

    direct = expected_estimate(np.exp(-np.arange(300) / 40.0)[None], 300, 30, n_mean=7)[0]
    np.testing.assert_allclose(exp_basis(40.0, 300, 30, n_mean=7), direct, atol=1e-13)


def test_global_mean_recovers_a_timescale_near_the_trial_length():
    x = ou_process([100.0], None, 500, 100, 8, seed=12)
    est = estimate_timescales(x, mean="global", n_boot=60, seed=0)
    t = est.table
    assert (t["model"] == "1exp").all() and est.settings["n_mean"] == 100
    assert abs(np.median(t["tau_1"]) / 100 - 1) < 0.1
    assert ((t["tau_1_low"] <= 100) & (100 <= t["tau_1_high"])).mean() >= 0.75
    with pytest.raises(ValueError, match="mean must be one of"):
        estimate_timescales(x, mean="grand", interval="none")


# --- which mean to subtract (mean="auto") --------------------------------------------------------------
def test_trial_mean_variance_by_hand():
    from rnn_timescales.analysis.mean_choice import trial_mean_variance

    # white noise of variance 2 alone: Var(mean of n = 4) = 2 / 4
    none = np.zeros((1, 1))
    assert trial_mean_variance(np.ones((1, 1)), none, np.array([2.0]), 4)[0] == pytest.approx(0.5)
    # one exponential, n = 3: (3 gamma_0 + 2 (2 gamma_1 + gamma_2)) / 9 with gamma_k = r^k
    r = np.exp(-1 / 2.0)
    got = trial_mean_variance(np.array([[2.0]]), np.array([[1.0]]), np.zeros(1), 3)[0]
    assert got == pytest.approx((3 + 2 * (2 * r + r * r)) / 9, rel=1e-12)


def test_auto_mean_keeps_the_trial_mean_where_trial_means_drift_or_jump():
    from rnn_timescales.analysis.mean_choice import common_mean

    x = ou_process([50.0], None, 400, 80, 6, seed=3)
    x[:, :, 2:4] += np.linspace(-1.5, 1.5, 80)[None, :, None]  # a drift over the session (serial test)
    x[:, :, 4:] += np.random.default_rng(0).normal(0, 2.0, (1, 80, 2))  # independent jumps (spread test)
    ac = np.stack([np.mean([np.correlate(t - t.mean(), t - t.mean(), "full")[399:399 + 81] / (400 - np.arange(81))
                            for t in x[:, :, u].T], 0) for u in range(6)])
    common, p = common_mean(x, ac, 400, 80, 0.01)
    assert common[:2].all() and not common[2:].any(), p
    one, p1 = common_mean(x[:, :1], ac, 400, 80, 0.01)
    assert not one.any() and np.isnan(p1).all()  # one trial: its own mean is the mean of all trials


def test_auto_mean_is_reported_per_unit():
    x = ou_process([30.0], None, 400, 60, 3, seed=4)
    x[:, :, 2] += np.linspace(-2, 2, 60)[None, :]
    est = estimate_timescales(x, n_boot=40, seed=0)
    assert list(est.table["mean"]) == ["global", "global", "trial"] and est.settings["mean"] == "auto"
    assert [u["mean"] for u in est.units] == ["global", "global", "trial"] and est.table["mean_p_value"].iloc[2] < 0.01
    for u in est.units:
        assert abs(u["timescales"][-1] / 30 - 1) < 0.35
