"""Streaming simulation against a direct one, and `rnn-timescales analyze` end to end."""

import numpy as np
import pytest
import pandas as pd
import torch
from conftest import assert_refused

from rnn_timescales.analysis.autocorrelation import autocorrelation
from rnn_timescales.analysis.simulation import simulate_statistics
from rnn_timescales.cli import main
from rnn_timescales.models import LeakyRNN


def test_simulation_statistics_match_whole_activity():
    torch.manual_seed(0)
    model = LeakyRNN(12, n_heads=1)
    trials, steps, burn = 3, 1500, 50
    stats = simulate_statistics(model, trials, steps, burn, max_lag=20, chunk=100_000, seed=5, n_points=3)
    # the same draws, in the same order, simulated in one piece
    gen = torch.Generator().manual_seed(5)
    p = torch.rand(trials, generator=gen)  # SPEC section 5: one p per trial, then Bernoulli(p) bits

    def bits(n):
        return (torch.rand(n, trials, generator=gen) < p).float().unsqueeze(-1)

    with torch.no_grad():
        h = model.init_state(trials, gen)
        h = model.run(bits(burn), h)[-1]
        states = model.run(bits(steps), h).numpy()
    direct = autocorrelation(states, 20, per_trial=True)
    scale = np.abs(direct).max()
    np.testing.assert_allclose(stats.ac, direct, atol=1e-5 * scale)
    pop = autocorrelation(states.sum(-1), 20, per_trial=True)[:, 0]
    np.testing.assert_allclose(stats.population_ac, pop, atol=1e-5 * np.abs(pop).max())
    np.testing.assert_allclose(stats.covariance, np.cov(states[:, 0], rowvar=False), atol=1e-5)
    np.testing.assert_allclose(stats.mean_activity, states.astype(np.float64).mean((0, 1)), atol=1e-6)
    assert stats.states.shape == (3, 12) and stats.inputs.shape == (3, 1)


def test_analyze_cli_on_reference_checkpoint(reference_dir, tmp_path):
    ckpt = reference_dir / "cumulative_parity_network_1" / "rnn_N2_N5"
    out = tmp_path / "ana"
    code = main(["analyze", str(ckpt), "--steps", "800", "--trials", "2", "--max-lag", "40",
                 "--out", str(out), "--no-progress"])
    assert code == 0
    summary = pd.read_csv(out / "summary.csv")
    for col in ("n_max", "tau_mean", "tau_median", "tau_net_median", "dimensionality", "jacobian_tau_max"):
        assert col in summary
    assert summary["n_max"].tolist() == [5]
    neurons = pd.read_csv(out / "neurons.csv")
    assert len(neurons) == 500 and {"n_max", "neuron", "tau", "tau_net", "model", "r2"} <= set(neurons)
    assert set(neurons["model"]) <= {0, 1, 2}
    for name in ("tau_vs_n", "tau_scatter", "population_ac", "ac_fits_N5"):
        assert (out / "figures" / f"{name}.png").stat().st_size > 0


def test_analyze_cli_rejects_bad_method(reference_dir, tmp_path, capsys):
    ckpt = reference_dir / "cumulative_parity_network_1" / "rnn_N2_N5"
    assert "--method" in assert_refused(["analyze", ckpt, "--method", "aic", "--out", tmp_path / "out"], capsys, tmp_path)


def _tiny_analysis(reference_dir, out, seed):
    ckpt = reference_dir / "cumulative_parity_network_1" / "rnn_N2_N2"
    return main(["analyze", str(ckpt), "--steps", "400", "--trials", "2", "--max-lag", "40", "--seed", str(seed),
                 "--out", str(out), "--no-progress"])


def test_analysis_replaces_a_previous_one_whole_and_leaves_no_temporary_files(reference_dir, tmp_path):
    out = tmp_path / "ana"
    assert _tiny_analysis(reference_dir, out, seed=1) == 0
    first = (out / "neurons.csv").read_bytes()
    assert _tiny_analysis(reference_dir, out, seed=2) == 0
    assert (out / "neurons.csv").read_bytes() != first  # the second analysis, not a mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ana"]


def test_a_failed_analysis_writes_nothing(reference_dir, tmp_path, monkeypatch):
    from rnn_timescales.plots import figures as plotting

    def broken(*args, **kwargs):
        raise RuntimeError("plotting failed")

    monkeypatch.setattr(plotting, "plot_tau_vs_tau_net", broken)
    out = tmp_path / "ana"
    with pytest.raises(RuntimeError, match="plotting failed"):
        _tiny_analysis(reference_dir, out, seed=1)
    assert list(tmp_path.iterdir()) == []
