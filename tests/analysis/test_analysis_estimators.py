"""Autocorrelation estimator, streaming equivalence, dimensionality and Jacobian timescales."""

import numpy as np
import pytest
import torch

from rnn_timescales.analysis.autocorrelation import StreamingAutocorrelation, autocorrelation
from rnn_timescales.analysis.dimensionality import (
    StreamingCovariance,
    dimensionality_from_covariance,
    pca_dimensionality,
)
from rnn_timescales.dynamics.jacobian import jacobian_timescales, timescales_from_eigenvalues
from rnn_timescales.models import LeakyRNN


def test_autocorrelation_by_hand():
    # x = 1, 2, 3, 4: mean 2.5, deviations -1.5 -0.5 0.5 1.5
    # C0 = 5/4, C1 = (0.75 - 0.25 + 0.75)/3, C2 = (-0.75 - 0.75)/2
    ac = autocorrelation(np.array([1.0, 2.0, 3.0, 4.0]), max_lag=2)
    np.testing.assert_allclose(ac, [[1.25, 1.25 / 3, -0.75]])


def test_autocorrelation_averages_trials_after_mean_removal():
    x = np.array([[1.0, 10.0], [2.0, 10.0], [3.0, 13.0], [4.0, 13.0]])[:, :, None]  # (time, trials, 1)
    per = autocorrelation(x, 1, per_trial=True)
    # trial 2: mean 11.5, deviations -1.5 -1.5 1.5 1.5 -> C0 = 2.25, C1 = (2.25 - 2.25 + 2.25)/3
    np.testing.assert_allclose(per[:, 0], [[1.25, 1.25 / 3], [2.25, 0.75]])
    np.testing.assert_allclose(autocorrelation(x, 1), per.mean(0))


@pytest.mark.parametrize("max_lag,nfft,step", [(20, 64, 7), (20, 64, 500), (0, 16, 3), (3, 16, 1), (50, 256, 300)])
def test_streaming_equals_fft(max_lag, nfft, step):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(700, 3, 4)).cumsum(0) * 0.1 + 5.0  # large mean, slow drift
    stream = StreamingAutocorrelation(max_lag, nfft)
    for i in range(0, len(x), step):
        stream.update(torch.tensor(x[i : i + step], dtype=torch.float32))
    direct = autocorrelation(x.astype(np.float32), max_lag, per_trial=True)
    np.testing.assert_allclose(stream.result(per_trial=True), direct, rtol=0, atol=2e-6 * np.abs(direct).max())


def test_autocorrelation_validates():
    with pytest.raises(ValueError, match="max_lag"):
        autocorrelation(np.zeros((5, 1, 1)), 5)
    with pytest.raises(ValueError, match="time, trials, units"):
        autocorrelation(np.zeros((5, 1, 1, 1)), 1)


def test_dimensionality_counts_components_one_based():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(5000, 3)) * np.array([np.sqrt(10.0), 1.0, 0.1])  # variances 10, 1, 0.01
    assert pca_dimensionality(z, 0.9) == 1  # 10 / 11.01 = 0.908
    assert pca_dimensionality(z, 0.95) == 2
    assert dimensionality_from_covariance(np.eye(4), 0.9) == 4
    assert dimensionality_from_covariance(np.eye(4), 0.75) == 3


def test_streaming_covariance_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5)) + 100.0
    cov = StreamingCovariance()
    for i in range(0, 300, 64):
        cov.update(torch.tensor(x[i : i + 64], dtype=torch.float32))
    np.testing.assert_allclose(cov.covariance(), np.cov(x.astype(np.float32), rowvar=False), atol=1e-4)


def test_jacobian_timescales_of_uncoupled_leaky_units():
    # nonlinearity inside and W = 0: J = diag(1 - 1/tau), timescales -1/ln(1 - 1/tau)
    model = LeakyRNN(4, n_heads=1, placement="inside", tau_init=1.0)
    with torch.no_grad():
        model.tau.copy_(torch.tensor([2.0, 5.0, 20.0, 1.0]))
        model.recurrent.weight.zero_()
    out = jacobian_timescales(model, torch.zeros(2, 4), torch.ones(2, 1), n_slowest=3)
    expected = -1 / np.log(1 - 1 / np.array([20.0, 5.0, 2.0]))
    np.testing.assert_allclose(out["per_point"], np.tile(expected, (2, 1)), rtol=1e-10)
    np.testing.assert_allclose(out["mean_jacobian"], expected, rtol=1e-10)


def test_timescales_from_eigenvalues():
    tau = timescales_from_eigenvalues(np.array([np.exp(-1 / 3), -np.exp(-1 / 7), 1.2, 0.0]))
    np.testing.assert_allclose(tau, [np.inf, 7.0, 3.0, 0.0])
