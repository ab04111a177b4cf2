"""The mean rate per neuron (a registered measure of ``analyze``) on a network worked out by hand."""

import numpy as np
import pytest
import torch

from rnn_timescales.config import build_config
from rnn_timescales.models import build_model
from rnn_timescales.runs import load_any
from rnn_timescales.runs.checkpoints import save_checkpoint
from rnn_timescales.studies.analyze import AnalysisSettings, analyze_checkpoint, printed_columns


def test_mean_rate_is_the_fixed_point_of_a_network_without_recurrence(tmp_path):
    # W = 0, input weight u, bias b > 0, tau = 2, leaky ReLU outside the leak: every state stays
    # positive, so h_{t+1} = h_t / 2 + (u x_t + b) / 2 is linear and its mean is b + u mean(x).
    b = np.array([0.2, 0.5, 1.0, 1.5])
    u = 1e-3  # inputs only so the activity varies; they move the mean by at most u
    config = build_config("quick", overrides=["model.hidden_size=4", "device=cpu"])
    model = build_model(config)
    with torch.no_grad():
        model.recurrent.weight.zero_()
        model.recurrent.bias.copy_(torch.tensor(b, dtype=torch.float32))
        model.input.weight.fill_(u)
        model.input.bias.zero_()
        model.tau.fill_(2.0)
    path = save_checkpoint(tmp_path / "net.safetensors", model, config=config, level={"ns": [2]}, epoch=0)
    result = analyze_checkpoint(load_any(path), AnalysisSettings(n_trials=2, n_steps=400, burn_in=100, max_lag=20,
                                                                 fit_lag=10, n_points=1))
    rate = result.neurons["mean_rate"].to_numpy()
    assert np.all(rate >= b - 1e-6) and np.all(rate <= b + u + 1e-6)
    assert result.summary["mean_rate_median"] == pytest.approx(np.median(rate))
    assert result.summary["mean_rate_mean"] == pytest.approx(rate.mean())
    import pandas as pd

    assert "mean_rate_median" in printed_columns(pd.DataFrame([result.summary]))
