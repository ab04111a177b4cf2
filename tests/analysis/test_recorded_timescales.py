"""Timescales of any activity with intervals (issue 23, docs/timescales.md): the generative
models, the models of the measured autocorrelation, recovery of known timescales from OU processes
and Poisson and gamma spike counts (500 trials x 1000 steps), interval coverage, and the
``rnn-timescales timescales`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnn_timescales.analysis.acf_models import exp_basis, expected_estimate, fit_model, osc_basis, white_basis
from rnn_timescales.analysis.autocorrelation import autocorrelation
from rnn_timescales.analysis.inference import estimate_timescales, guess_kind, simulate_acf
from rnn_timescales.analysis.synthetic import VALIDATION_CASES, ou_process, ou_spike_counts, spike_counts
from rnn_timescales.analysis.timescales import expected_autocorrelation
from rnn_timescales.cli import main

N_STEPS, N_TRIALS = 1000, 500


# --- generative models ---------------------------------------------------------------------------
def test_ou_process_has_exponential_autocorrelation_and_unit_variance():
    x = ou_process([4.0, 40.0], [0.3, 0.7], 4000, 200, 2, dt=2.0, seed=0)
    assert x.shape == (4000, 200, 2)
    assert abs(x.var() - 1) < 0.05
    ac = autocorrelation(x, 10).mean(0)
    lags = np.arange(11) * 2.0
    truth = expected_estimate((0.3 * np.exp(-np.arange(4000) * 2 / 4) + 0.7 * np.exp(-np.arange(4000) * 2 / 40))[None],
                              4000, 10)[0]
    np.testing.assert_allclose(ac, truth, atol=0.02)
    assert lags[-1] == 20.0


def test_damped_oscillation_autocorrelation():
    x = ou_process([10.0], [0.5], 3000, 200, 1, oscillation=(30.0, 0.05, 0.5), seed=1)
    ac = autocorrelation(x, 40)[0]
    k = np.arange(3000)
    gamma = 0.5 * np.exp(-k / 10) + 0.5 * np.exp(-k / 30) * np.cos(2 * np.pi * 0.05 * k)
    np.testing.assert_allclose(ac, expected_estimate(gamma[None], 3000, 40)[0], atol=0.03)


@pytest.mark.parametrize("distribution,fano", [("poisson", 1.0), ("gamma", 2.0)])
def test_spike_counts_add_fano_times_mean_at_lag_zero_only(distribution, fano):
    x = ou_process([20.0], None, 2000, 200, 1, seed=2)
    c = spike_counts(x, mean=3.0, std=0.6, distribution=distribution, fano=fano, seed=3)
    assert (c >= 0).all() and abs(c.mean() - 3.0) < 0.05
    ac = autocorrelation(c, 5)[0]
    rate_part = 0.36 * expected_estimate(np.exp(-np.arange(2000) / 20.0)[None], 2000, 5)[0]
    assert abs(ac[0] - rate_part[0] - fano * 3.0) < 0.05 * fano * 3
    np.testing.assert_allclose(ac[1:], rate_part[1:], atol=0.04)  # noise sd about 0.01
    assert guess_kind(c) == ("counts" if distribution == "poisson" else "continuous")


def test_torch_simulator_matches_the_expected_estimate():
    s = simulate_acf(np.array([5.0, 50.0]), np.array([0.2, 0.3]), 1.0, 40, 600, 100, 60, "counts", 2.0, "poisson", seed=0)
    e = (0.2 * exp_basis(5.0, 600, 60) + 0.3 * exp_basis(50.0, 600, 60) + 2.0 * white_basis(600, 60))
    np.testing.assert_allclose(s.mean(0), e, atol=0.01)


# --- models of the autocorrelation ---------------------------------------------------------------
def test_expected_estimate_matches_the_closed_form():
    taus = np.array([[3.0], [70.0], [0.0]])
    closed = expected_autocorrelation(taus, np.ones((3, 1)), 500, 40)
    num = np.concatenate([exp_basis(np.array([3.0, 70.0]), 500, 40), white_basis(500, 40)[None]])
    np.testing.assert_allclose(num, closed, atol=1e-12)


@pytest.mark.parametrize("model,taus,amps", [("1exp", [12.0], [1.0]), ("2exp", [4.0, 90.0], [0.5, 0.7]),
                                             ("3exp", [2.0, 15.0, 150.0], [0.3, 0.3, 0.4])])
def test_fit_recovers_noise_free_curves(model, taus, amps):
    y = sum(a * exp_basis(t, N_STEPS, 200) for t, a in zip(taus, amps)) + 0.8 * white_basis(N_STEPS, 200)
    fit = fit_model(y[None], N_STEPS, model)
    np.testing.assert_allclose(fit.taus[0], taus, rtol=0.01)
    np.testing.assert_allclose(fit.amps[0], amps, rtol=0.02)
    np.testing.assert_allclose(fit.white[0], 0.8, rtol=0.02)


def test_fit_with_oscillation():
    y = 0.6 * exp_basis(8.0, N_STEPS, 100) + 0.4 * osc_basis(40.0, 0.04, N_STEPS, 100)
    fit = fit_model(y[None], N_STEPS, "1exp", oscillation=True)
    assert abs(fit.taus[0, 0] / 8 - 1) < 0.2 and abs(fit.osc[0, 2] / 0.04 - 1) < 0.05


def test_white_noise_is_never_a_timescale():
    # Poisson-like jump at lag 0 on top of one slow timescale: one component, the jump in W
    y = 0.2 * exp_basis(30.0, N_STEPS, 200) + 1.0 * white_basis(N_STEPS, 200)
    fit = fit_model(y[None], N_STEPS, "1exp")
    assert abs(fit.taus[0, 0] / 30 - 1) < 0.01 and abs(fit.white[0] - 1) < 0.01


# --- acceptance: recovery at 500 trials x 1000 steps ---------------------------------------------
CASES = VALIDATION_CASES


def _draw(name, seed, steps=N_STEPS, trials=N_TRIALS):
    taus, weights, kind, kw = CASES[name]
    if kind == "continuous":
        return ou_process(taus, weights, steps, trials, 1, seed=seed), kind
    return ou_spike_counts(taus, weights, steps, trials, 1, mean=1.0, std=0.5, seed=seed, **kw), kind


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_recovers_known_timescales(name):
    # one seeded draw per case: a 95 % interval misses the truth in one draw of twenty by design
    # (coverage over many draws: test_interval_coverage_over_repeated_draws and the coverage
    # benchmark), so the single draw's check uses 99 % intervals
    taus, weights, _, _ = CASES[name]
    x, kind = _draw(name, seed=11)
    est = estimate_timescales(x, kind=kind, n_boot=40, seed=0, level=0.99)
    u = est.units[0]
    assert len(u["timescales"]) == len(taus), u  # no invented component, none missed
    tol = 0.10 if len(taus) == 1 else 0.20
    np.testing.assert_allclose(u["timescales"], taus, rtol=tol)
    if len(taus) == 2:
        np.testing.assert_allclose(u["weights"], weights, atol=0.1)
    ci = np.array(u["intervals"])
    assert ((ci[:, 0] <= taus) & (np.array(taus) <= ci[:, 1])).all(), u
    row = est.table.iloc[0]
    assert row["tau_1_low"] <= row["tau_1"] <= row["tau_1_high"] and row["model"] == f"{len(taus)}exp"


def test_interval_coverage_over_repeated_draws():
    """Seeded: 100 independent draws of a one-timescale OU process (100 trials x 400 steps, 100
    bootstrap data sets each), estimated as the units of one call (the estimator treats units
    independently); the 95 % interval covers the truth in 90-99 % of them, and no more than a few
    get a second component. benchmarks/timescales_coverage.py has the other cases."""
    x = ou_process([20.0], None, 400, 100, 100, seed=5)
    est = estimate_timescales(x, n_boot=100, seed=0)
    t = est.table
    one = t["model"] == "1exp"
    covered = (t["tau_1_low"] <= 20.0) & (20.0 <= t["tau_1_high"])
    assert 0.9 <= covered[one].mean() <= 0.99, covered[one].mean()
    assert one.mean() >= 0.95


def test_many_units_in_one_call_and_dt_units():
    x = ou_process([6.0], None, 300, 40, 12, seed=4)
    est = estimate_timescales(x, dt=0.5, interval="trials", n_boot=30)
    assert len(est.units) == 12 and list(est.table["unit"]) == list(range(12))
    slowest = np.array([u["timescales"][-1] for u in est.units])
    assert np.all(np.abs(slowest / 3.0 - 1) < 0.35)  # 6 steps of 0.5
    assert sum(u["model"] == "1exp" for u in est.units) >= 11
    assert est.lags[1] == 0.5 and est.acf.shape == est.fit.shape == (12, 61)


@pytest.mark.parametrize("bad,match", [
    (np.full((100, 5, 1), np.nan), "NaN"),
    (np.random.default_rng(0).normal(size=(100, 5, 1)) * (1 + 1j), "complex values"),
    (np.random.default_rng(0).normal(size=(7, 5, 1)), "too short"),
    (np.ones((200, 5, 2)), "constant"),
])
def test_estimate_validates(bad, match):
    with pytest.raises(ValueError, match=match):
        estimate_timescales(bad, interval="none")


# --- the command ---------------------------------------------------------------------------------
def test_command_writes_table_json_and_figure(tmp_path, capsys):
    c = ou_spike_counts([4.0, 40.0], [0.4, 0.6], 400, 60, 2, mean=1.0, std=0.5, seed=7)
    np.save(tmp_path / "spikes.npy", np.transpose(c, (2, 1, 0)))  # units, trials, time
    out = tmp_path / "res"
    code = main(["timescales", str(tmp_path / "spikes.npy"), "--axes", "units,trials,time", "--dt", "2",
                 "--n-boot", "20", "--out", str(out), "--json", "--no-progress"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "guessed from non-negative integers" in captured.err
    result = json.loads(captured.out)
    assert [u["unit"] for u in result["units"]] == [0, 1]
    u = result["units"][0]
    assert len(u["timescales"]) == len(u["intervals"]) == len(u["weights"]) and u["model"] in ("1exp", "2exp", "osc")
    assert u["timescales"] == sorted(u["timescales"])
    import pandas as pd

    table = pd.read_csv(out / "timescales.csv")
    assert len(table) == 2 and {"tau_1", "tau_1_low", "tau_1_high", "weight_1", "model", "r2"} <= set(table.columns)
    assert (out / "figures" / "autocorrelation_fits.png").stat().st_size > 1000


def test_command_reads_csv_and_npz(tmp_path, capsys):
    x = ou_process([5.0], None, 200, 30, 1, seed=8)[:, :, 0]  # time, trials
    np.savetxt(tmp_path / "a.csv", x, delimiter=",", header=",".join(f"trial{i}" for i in range(30)), comments="")
    np.savez(tmp_path / "b.npz", rates=x.T, other=np.zeros(3))
    assert main(["timescales", str(tmp_path / "a.csv"), "--axes", "time,trials", "--interval", "none",
                 "--out", str(tmp_path / "o1"), "--no-progress"]) == 0
    assert main(["timescales", str(tmp_path / "b.npz"), "--key", "rates", "--axes", "trials,time",
                 "--interval", "none", "--out", str(tmp_path / "o2"), "--no-progress"]) == 0
    a = __import__("pandas").read_csv(tmp_path / "o1" / "timescales.csv")
    b = __import__("pandas").read_csv(tmp_path / "o2" / "timescales.csv")
    assert a["tau_1"].iloc[0] == pytest.approx(b["tau_1"].iloc[0])
    assert "kind: continuous" in capsys.readouterr().err


# --- analyze: tau_net with its interval -----------------------------------------------------------
def test_tau_net_interval_from_trial_resamples():
    from rnn_timescales.analysis.synthetic import ar1
    from rnn_timescales.analysis.tau_net_intervals import tau_net_interval
    from rnn_timescales.analysis.timescales import fit_timescales

    x = ar1(np.array([3.0, 8.0, 15.0]), 20_000, 10, seed=0)
    ac = autocorrelation(x, 40, per_trial=True)
    low, high = tau_net_interval(ac, 30, n_boot=40, seed=0)
    tau = fit_timescales(ac, 30)["tau_net"].to_numpy()
    assert low.shape == high.shape == (3,)
    assert np.all(low <= tau) and np.all(tau <= high) and np.all(high / low < 1.5)
    assert np.all(low <= [3.0, 8.0, 15.0] * np.array(1.1)) and np.all(high >= [3.0, 8.0, 15.0] * np.array(0.9))
    one = tau_net_interval(ac[:1], 30, n_boot=20)
    assert np.isnan(one[0]).all()
    with pytest.raises(ValueError, match="at least 20"):
        tau_net_interval(ac, 30, n_boot=5)


def test_white_noise_and_anticorrelated_units_have_no_timescale():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 20, 2))
    x[:, :, 0] = ((-1.0) ** np.arange(400))[:, None] * (1 + 0.1 * x[:, :, 0])
    est = estimate_timescales(x, n_boot=20)
    assert list(est.table["model"]) == ["none", "none"]
    assert all(u["timescales"] == [] for u in est.units)


def test_exp_basis_closed_form_equals_the_expected_estimate_of_an_exponential():
    for n, lags in [(50, 10), (3000, 200), (100_000, 200)]:
        taus = np.array([0.02, 0.6, 3.0, 70.0, n / 10, n, 4 * n])
        direct = expected_estimate(np.exp(-np.arange(n)[None] / taus[:, None]), n, lags)
        np.testing.assert_allclose(exp_basis(taus, n, lags), direct, rtol=0, atol=1e-12)
    assert exp_basis(np.full((3, 2), 5.0), 100, 7).shape == (3, 2, 8)


def test_decay_after_jump_separates_the_lag0_jump_from_the_decay():
    from rnn_timescales.analysis.acf_models import decay_after_jump

    n, lags = 100_000, 30
    # a decay of tau = 3 steps carrying 30 % of the variance, then pure white noise, as expected estimates
    curves = np.stack([0.3 * exp_basis(3.0, n, lags) + 0.7 * white_basis(n, lags), white_basis(n, lags)])
    tau, weight = decay_after_jump(curves, n, lags)
    assert abs(tau[0] - 3.0) < 0.05 and abs(weight[0] - 0.3) < 0.01
    assert np.isnan(tau[1]) and weight[1] < 0.01
    # measured: an AR(1) with rho = exp(-1/3) plus white noise of twice its variance
    rng = np.random.default_rng(0)
    x = np.zeros((20_000, 8))
    r = np.exp(-1 / 3)
    e = rng.normal(size=x.shape) * np.sqrt(1 - r * r)
    for t in range(1, len(x)):
        x[t] = r * x[t - 1] + e[t]
    from rnn_timescales.analysis.autocorrelation import autocorrelation

    ac = autocorrelation((x + rng.normal(size=x.shape) * np.sqrt(2))[:, :, None], lags, per_trial=True)
    tau, weight = decay_after_jump(ac, len(x), lags)
    assert abs(tau[0] - 3.0) < 0.3 and abs(weight[0] - 1 / 3) < 0.03
