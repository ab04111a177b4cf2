"""Probe-based forgetting: a fresh linear readout of frozen states, scored on held-out streams."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnn_timescales.analysis.robustness.probes import ProbeSettings, _fit_probes, probe_forgetting, probe_summary
from rnn_timescales.runs import load_any


def test_a_probe_reads_what_the_states_hold_and_nothing_else():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(4000, 2))
    noise = rng.standard_normal((4000, 20))
    x = noise.copy()
    x[:, 0] += 3.0 * (2 * labels[:, 0] - 1)  # label 0 is written into the states, label 1 is not
    for probe in ("ridge", "logistic"):
        held, train = _fit_probes(x[:3000], labels[:3000], x[3000:], labels[3000:], ProbeSettings(probe=probe))
        assert held[0] > 0.99
        assert abs(held[1] - 0.5) < 0.05  # can fail: no readout finds a label the states do not hold
        assert train[1] > held[1] - 0.02


def test_a_constant_label_has_no_probe():
    x = np.random.default_rng(1).standard_normal((100, 5))
    y = np.zeros((100, 1), int)
    held, train = _fit_probes(x[:60], y[:60], x[60:], y[60:], ProbeSettings())
    assert np.isnan(held).all() and np.isnan(train).all()


@pytest.mark.parametrize("kwargs, match", [({"held_out": 10}, "smaller than streams"), ({"alpha": 0.0}, "alpha"),
                                           ({"probe": "svm"}, "probe must be"), ({"streams": 1}, "streams")])
def test_settings_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ProbeSettings(**kwargs)


def test_summary_means_over_earlier_n():
    table = pd.DataFrame({"network": "a", "curriculum": "single", "checkpoint_n": [0, 0, 0, 3, 3, 3],
                          "n": [2, 3, 4, 2, 3, 4], "probe_accuracy": [1.0, 0.8, 0.6, 0.9, 0.7, 1.0],
                          "head_accuracy": [np.nan] * 3 + [0.5, 0.5, 0.99]})
    table = table[table["n"] <= table["checkpoint_n"].where(table["checkpoint_n"] > 0, 4)]
    row = probe_summary(table).iloc[0]
    assert row["checkpoint_n"] == 3 and row["n_earlier"] == 1
    assert row["probe_earlier"] == 0.9 and row["probe_floor_earlier"] == 1.0 and row["head_earlier"] == 0.5


def test_the_papers_single_head_network_forgets_in_its_states_and_the_multi_head_one_does_not(reference_dir):
    """The paper code's networks: at N = 11 the single-head network's states no longer hold the
    parity of 9 inputs (below the untrained network's floor for N' = 6), while its head is at chance
    on every earlier N'; the multi-head network's states hold every earlier N'."""
    settings = ProbeSettings(streams=6, held_out=2, length=800)
    single = reference_dir / "single_parity_network_1"
    table = probe_forgetting([load_any(single / "rnn_N11_N11")], load_any(single / "rnn_init"), settings)
    at11 = table[table["checkpoint_n"] == 11].set_index("n")
    floor = table[table["checkpoint_n"] == 0].set_index("n")["probe_accuracy"]
    assert at11.loc[11, "probe_accuracy"] > 0.95 and at11.loc[9, "probe_accuracy"] < 0.8
    assert at11.loc[6, "probe_accuracy"] < floor[6] - 0.05
    assert (at11.loc[2:10, "head_accuracy"] - 0.5).abs().max() < 0.05
    multi = probe_forgetting([load_any(reference_dir / "cumulative_parity_network_1" / "rnn_N2_N11")], None, settings)
    assert multi["probe_accuracy"].min() > 0.97 and multi["head_accuracy"].min() > 0.97
