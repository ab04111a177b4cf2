"""Significance of the robustness comparisons docs/reproduction.md makes (``TASK_robustness_tests``,
written by ``rnn-timescales report`` beside the robustness summary).

- perturbation of W or tau, single- against multi-head at each epsilon: the per-network statistic of
  the figures (relative accuracy, intact mean as baseline, mean over repeats), a paired t-test over
  the networks of the same seed and Welch's t-test over the two groups;
- ablation, one of the 20 slowest against one of the 20 fastest neurons: per network a Mann-Whitney
  U test over the neurons (each neuron's accuracy averaged over the streams), then a paired t-test
  over the networks' two group means.

With three networks per group a p-value below 0.05 needs a large, consistent difference; the
table gives the values the tests used so the reader can judge.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

COLUMNS = ["measure", "condition", "n", "test", "group_a", "group_b", "mean_a", "mean_b", "networks", "p_value"]


def _p(test) -> float:
    return float(test.pvalue) if np.isfinite(test.pvalue) else np.nan


def robustness_tests(robustness: pd.DataFrame) -> pd.DataFrame:
    """The tests of the module docstring, one row per comparison (columns :data:`COLUMNS`)."""
    rows = []
    for kind in ("perturb-w", "perturb-tau"):
        rel = robustness[robustness["kind"] == kind].assign(epsilon=lambda t: t["epsilon_or_group"].astype(float))
        rel = rel[rel["epsilon"] > 0]
        per = rel.groupby(["n", "epsilon", "curriculum", "seed"])["relative_accuracy_mean_baseline"].mean()
        for (n, eps), g in per.groupby(level=["n", "epsilon"]):
            g = g.droplevel(["n", "epsilon"]).unstack("curriculum")
            if not {"single", "multi"} <= set(g.columns):
                continue
            paired = g.dropna()
            base = {"measure": kind, "condition": f"ε = {eps:.3g}", "n": n, "group_a": "single", "group_b": "multi"}
            if len(paired) >= 2:
                rows.append({**base, "test": "paired t (networks of one seed)", "mean_a": paired["single"].mean(),
                             "mean_b": paired["multi"].mean(), "networks": len(paired),
                             "p_value": _p(stats.ttest_rel(paired["single"], paired["multi"]))})
            a, b = g["single"].dropna(), g["multi"].dropna()
            if len(a) >= 2 and len(b) >= 2:
                rows.append({**base, "test": "Welch t", "mean_a": a.mean(), "mean_b": b.mean(),
                             "networks": f"{len(a)} + {len(b)}", "p_value": _p(stats.ttest_ind(a, b, equal_var=False))})
    abl = robustness[(robustness["kind"] == "ablation") & robustness["epsilon_or_group"].isin(["long", "short"])]
    for (curriculum, n), g in abl.groupby(["curriculum", "n"]):
        means = []
        for run, h in g.groupby("run"):
            neuron = h.groupby(["epsilon_or_group", "neuron"])["accuracy"].mean()
            groups = set(neuron.index.get_level_values(0))
            if groups != {"long", "short"}:
                continue  # one group ablated only: nothing to compare
            slow, fast = neuron["long"].to_numpy(), neuron["short"].to_numpy()
            means.append((slow.mean(), fast.mean()))
            rows.append({"measure": "ablation", "condition": f"{curriculum}, {run}", "n": n,
                         "test": "Mann-Whitney U (neurons)", "group_a": "one of the 20 slowest",
                         "group_b": "one of the 20 fastest", "mean_a": slow.mean(), "mean_b": fast.mean(),
                         "networks": 1, "p_value": _p(stats.mannwhitneyu(slow, fast, alternative="two-sided"))})
        if len(means) >= 2:
            slow, fast = np.array(means).T
            rows.append({"measure": "ablation", "condition": curriculum, "n": n, "test": "paired t (networks)",
                         "group_a": "one of the 20 slowest", "group_b": "one of the 20 fastest", "mean_a": slow.mean(),
                         "mean_b": fast.mean(), "networks": len(means), "p_value": _p(stats.ttest_rel(slow, fast))})
    return pd.DataFrame(rows, columns=COLUMNS)


def robustness_tests_markdown(tests: pd.DataFrame) -> str:
    """:func:`robustness_tests` as one markdown table."""
    lines = ["| measure | condition | N | test | a | b | mean a | mean b | networks | p |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in tests.itertuples():
        lines.append(f"| {r.measure} | {r.condition} | {r.n} | {r.test} | {r.group_a} | {r.group_b} | {r.mean_a:.3f} "
                     f"| {r.mean_b:.3f} | {r.networks} | {r.p_value:.2g} |")
    return "\n".join(lines) + "\n"


__all__ = ["robustness_tests", "robustness_tests_markdown"]
