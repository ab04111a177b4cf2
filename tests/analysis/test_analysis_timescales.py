"""Exponential fits, model selection, synthetic processes and the finite-sample bias."""

import numpy as np
import pytest
from scipy.optimize import curve_fit

from rnn_timescales.analysis.autocorrelation import autocorrelation
from rnn_timescales.analysis.fitting import (
    DOUBLE_BOUNDS,
    SINGLE_BOUNDS,
    double_exp,
    fit_batched,
    fit_scipy,
    single_exp,
    start_double,
    start_single,
)
from rnn_timescales.analysis.synthetic import ar1, ar1_mixture
from rnn_timescales.analysis.simulation import simulate_statistics
from rnn_timescales.analysis.timescales import (
    tau_net_table,
    expected_autocorrelation,
    fit_timescales,
    sampling_noise,
    select_models,
)
from rnn_timescales.runs import load_any

LAGS = np.arange(31.0)


def test_batched_fit_recovers_exact_curves():
    y = np.stack([single_exp(LAGS, 1.0, 4.0), double_exp(LAGS, 1.0, 2.0, 25.0, 0.6)])
    f2 = fit_batched(y, LAGS, 2, start_double(y, LAGS))
    np.testing.assert_allclose(f2.params[1], [1.0, 2.0, 25.0, 0.6], rtol=1e-5)
    f1 = fit_batched(y, LAGS, 1, start_single(y, LAGS))
    np.testing.assert_allclose(f1.params[0], [1.0, 4.0], rtol=1e-6)
    assert f1.converged.all() and f2.converged.all()


def test_aic_selection_on_constructed_curves():
    wiggle = 1e-3 * np.sin(1.7 * LAGS)  # the same small misfit for every curve
    curves = np.stack([
        single_exp(LAGS, 1.0, 6.0) + wiggle,
        double_exp(LAGS, 1.0, 1.5, 30.0, 0.5) + wiggle,
        double_exp(LAGS, 1.0, 3.0, 40.0, 0.3) + wiggle,
    ])
    table = fit_timescales(curves, fit_lag=30, method="paper")
    n = 31
    np.testing.assert_allclose(table["aic_single"], 4 + n * np.log(table["rss_single"] / n))
    np.testing.assert_allclose(table["aic_double"], 8 + n * np.log(table["rss_double"] / n))
    assert list(table["model"][1:]) == [2, 2]
    assert ((table["model"] == 2) == (table["aic_double"] < table["aic_single"])).all()
    np.testing.assert_allclose(table["tau_net"][1:], [30.0, 40.0], rtol=0.01)
    # the default keeps the single exponential when the double one only absorbs the wiggle
    default = fit_timescales(curves, fit_lag=30)
    assert list(default["model"]) == [1, 2, 2]


def test_paper_aic_ties_give_nan():
    table = fit_timescales(np.full((1, 40), np.nan), fit_lag=30, method="paper")
    assert table["model"][0] == 0 and np.isnan(table["tau_net"][0])


def test_default_rule_on_ar1_and_mixtures():
    # smaller than the acceptance (10 x 10^5, see benchmarks/analysis.py): 10 x 2*10^4
    pure = np.concatenate([ar1(t, 20_000, 10, 8, seed=i) for i, t in enumerate((2.0, 5.0, 20.0))], axis=2)
    table = tau_net_table(pure, max_lag=60, fit_lag=30)
    truth = np.repeat([2.0, 5.0, 20.0], 8)
    assert (table["model"] == 1).mean() >= 0.95
    assert np.median(np.abs(table["tau_net"] / truth - 1)) < 0.05
    for taus in ((3.0, 40.0), (1.0, 8.0)):
        mix = ar1_mixture(taus, None, 20_000, 10, 8, seed=7)
        t = tau_net_table(mix, max_lag=60, fit_lag=30)
        assert (t["model"] == 2).mean() >= 0.9
        assert np.median(np.abs(t["tau_net"] / taus[1] - 1)) < 0.1


def test_batched_fits_agree_with_curve_fit():
    rng = np.random.default_rng(3)
    taus = rng.uniform(0.5, 40, size=40)
    x = np.concatenate([ar1(taus[:20], 5000, 4, seed=1), ar1_mixture((1.0, 15.0), None, 5000, 4, 20, seed=2)], axis=2)
    y = autocorrelation(x, 30)
    y = y / y[:, :1]
    for model, fn, starts, bounds in ((1, single_exp, start_single(y, LAGS), SINGLE_BOUNDS),
                                      (2, double_exp, start_double(y, LAGS), DOUBLE_BOUNDS)):
        ours = fit_batched(y, LAGS, model, starts)
        ref = np.array([curve_fit(fn, LAGS, yi, p0=p0, bounds=bounds, maxfev=2000)[0] for yi, p0 in zip(y, starts)])
        rss_ref = np.array([((fn(LAGS, *p) - yi) ** 2).sum() for p, yi in zip(ref, y)])
        assert np.mean(ours.rss <= rss_ref * 1.01 + 1e-12) >= 0.95
        slow = ours.params[:, 1] if model == 1 else ours.params[:, 1:3].max(1)
        slow_ref = ref[:, 1] if model == 1 else ref[:, 1:3].max(1)
        assert np.mean(np.abs(slow / slow_ref - 1) < 0.01) >= 0.95


def _same_fit(fn, ours, ref, tol=0.01):
    """Per unit: the slowest timescale within ``tol``, or the same fitted curve (to 1e-3) where the
    parameters are not identifiable (a weight at 0 or 1, or tau << 1 step)."""
    slow, slow_ref = ours.params[:, 1:3].max(1), ref.params[:, 1:3].max(1)
    if ours.params.shape[1] == 2:
        slow, slow_ref = ours.params[:, 1], ref.params[:, 1]
    curves = [fn(LAGS, *f.params.T[:, :, None]) for f in (ours, ref)]
    return (np.abs(slow / slow_ref - 1) < tol) | (np.abs(curves[0] - curves[1]).max(1) < 1e-3)


def test_batched_fits_agree_with_curve_fit_on_a_trained_network(reference_dir):
    """Same data, bounds and starting points as one curve_fit per neuron: the same fits and the
    same model selected on >= 95 % of the 500 neurons of a trained network."""
    model = load_any(reference_dir / "cumulative_parity_network_1" / "rnn_N2_N11").model
    ac = simulate_statistics(model, n_trials=10, n_steps=5000, burn_in=500, max_lag=30, n_points=0).ac
    mean = ac.mean(0)
    y = mean[:, :31] / mean[:, :1]
    fits = {}
    for k, fn, start in ((1, single_exp, start_single(y, LAGS)), (2, double_exp, start_double(y, LAGS))):
        fits[k] = fit_batched(y, LAGS, k, start), fit_scipy(y, LAGS, k, start)
        assert _same_fit(fn, *fits[k]).mean() >= 0.95, k
        ours, ref = fits[k]
        assert np.mean(ours.rss <= ref.rss * 1.01 + 1e-12) >= 0.95, k
    noise = sampling_noise(ac, 30)
    ours = select_models(y, fits[1][0], fits[2][0], noise)
    ref = select_models(y, fits[1][1], fits[2][1], noise)
    assert np.mean(ours["model"] == ref["model"]) >= 0.95
    both = (ours["model"] == ref["model"]).to_numpy()
    tau_close = np.abs(ours["tau_net"] / ref["tau_net"] - 1) < 0.01
    tiny = np.maximum(ours["tau_net"], ref["tau_net"]) < 0.2  # exp(-1/tau) < 0.007 at lag 1: no timescale
    assert np.mean(both & (tau_close | tiny)) >= 0.95


def test_expected_autocorrelation_matches_simulation():
    n, tau = 200, 10.0
    x = ar1(tau, n, 4000, seed=0)
    measured = autocorrelation(x, 20)[0]
    expected = expected_autocorrelation(np.array([[tau]]), np.array([[1.0]]), n, 20)[0]
    np.testing.assert_allclose(measured, expected, atol=0.02)
    assert expected[10] < np.exp(-1)  # biased low by the trial mean


def test_bias_correction_reduces_short_series_bias():
    x = ar1(20.0, 300, 200, 6, seed=4)
    raw = tau_net_table(x, max_lag=30, fit_lag=30)
    corrected = tau_net_table(x, max_lag=30, fit_lag=30, bias_correction="analytic")
    assert np.median(raw["tau_net"]) < 18.5  # biased low
    assert abs(np.median(corrected["tau_net"]) / 20.0 - 1) < 0.05


def test_tau_net_table_validates():
    with pytest.raises(ValueError, match="time, trials, units"):
        tau_net_table(np.zeros((100, 3)))
    with pytest.raises(ValueError, match="method"):
        tau_net_table(np.random.rand(100, 1, 1), max_lag=40, method="aic")

