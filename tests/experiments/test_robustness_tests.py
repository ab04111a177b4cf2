"""The significance table of the robustness comparisons (experiments.robustness_tests)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rnn_timescales.experiments.robustness_tests import robustness_tests, robustness_tests_markdown


def _rows(curriculum, seed, kind, cond, column, values, neuron=np.nan):
    return [{"task": "parity", "curriculum": curriculum, "run": f"{curriculum}-{seed}", "seed": seed, "n": 17,
             "kind": kind, "epsilon_or_group": cond, "neuron": neuron, column: v} for v in values]


def test_a_clear_difference_is_significant_and_none_is_not():
    rows = []
    for seed in range(3):
        rows += _rows("single", seed, "perturb-w", "0.464", "relative_accuracy_mean_baseline", [0.60 + 0.01 * seed])
        rows += _rows("multi", seed, "perturb-w", "0.464", "relative_accuracy_mean_baseline", [0.90 + 0.02 * seed])
        rows += _rows("single", seed, "perturb-w", "0.0", "relative_accuracy_mean_baseline", [1.0])
        for k in range(20):  # the slow and fast groups alike: no effect
            rows += _rows("single", seed, "ablation", "long", "accuracy", [0.9 + 0.001 * ((k + seed) % 5)], neuron=k)
            rows += _rows("single", seed, "ablation", "short", "accuracy", [0.9 + 0.001 * ((k + 2 * seed) % 5)],
                          neuron=100 + k)
    tests = robustness_tests(pd.DataFrame(rows)).set_index(["measure", "test"])
    w = tests.loc[("perturb-w", "Welch t")]
    assert w["p_value"] < 1e-3 and w["mean_a"] == pytest.approx(0.61) and w["condition"] == "ε = 0.464"
    assert len(tests.loc[("perturb-w", "paired t (networks of one seed)")].shape) == 1  # one row, no ε = 0 row
    paired = tests.loc[("ablation", "paired t (networks)")]
    assert paired["p_value"] > 0.05 and paired["networks"] == 3
    assert (tests.loc["ablation"].reset_index()["test"] == "Mann-Whitney U (neurons)").sum() == 3
    assert "| perturb-w | ε = 0.464 | 17 | Welch t |" in robustness_tests_markdown(tests.reset_index())
