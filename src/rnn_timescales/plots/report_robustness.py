"""The report's figures of its robustness and delayed-recall sections: one function each, over the
across-runs tables of :mod:`rnn_timescales.experiments.report` (``condition, <keys>, mean, lo, hi,
runs``); each returns a matplotlib Figure, drawn with the helpers of :mod:`.report`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from rnn_timescales.plots.bands import line_with_band
from rnn_timescales.plots.report import _band, _legend


def plot_perturbation_across_runs(table: pd.DataFrame, colors: dict[str, str], spread: str):
    """Relative accuracy (acc - 0.5)/(baseline - 0.5) against the perturbation size epsilon, one
    panel per kind (W, tau, ...). ``table``: ``kind, condition, n, epsilon, mean, lo, hi, runs``."""
    kinds = list(dict.fromkeys(table["kind"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(4.6 * len(kinds), 3.6), squeeze=False)
    for ax, kind in zip(axes[0], kinds):
        t = table[table["kind"] == kind]
        for (condition, n), g in t.groupby(["condition", "n"], sort=False):
            g = g.sort_values("epsilon")
            c = colors.get(condition, "k")
            line_with_band(ax, g["epsilon"], g["mean"], g["lo"], g["hi"], color=c, label=f"{condition}, N={n}")
        positive = t["epsilon"] > 0
        if positive.any():
            ax.set_xscale("symlog", linthresh=float(t.loc[positive, "epsilon"].min()))
        ax.set_xlabel(r"perturbation size $\epsilon$")
        ax.set_ylabel("relative accuracy")
        ax.set_title(f"perturbation of {kind} (mean ± {spread})", fontsize=8)
        _legend(ax)
    fig.tight_layout()
    return fig


GROUP_NAMES = {"none": "intact", "short": "fast", "long": "slow"}
"""The ablation groups as the reproduction's figure and tables name them (intact, fast, slow)."""


def plot_ablation_across_runs(table: pd.DataFrame, colors: dict[str, str], spread: str):
    """Streaming accuracy after silencing one neuron, by ablation group (e.g. the slowest and the
    fastest neurons by trained tau): per run the mean over the group's neurons, then mean and
    ``spread`` across runs. ``table``: ``condition, n, group, mean, lo, hi, runs``."""
    groups = list(dict.fromkeys(table["group"]))
    keys = list(dict.fromkeys(zip(table["condition"], table["n"])))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 * len(keys) * len(groups)), 3.6))
    width = 0.8 / max(1, len(groups))
    hatches = ["", "//", "..", "xx"]
    for j, group in enumerate(groups):
        t = table[table["group"] == group].set_index(["condition", "n"])
        for i, key in enumerate(keys):
            if key not in t.index:
                continue
            r = t.loc[key]
            ax.bar(i + j * width, r["mean"], width, yerr=[[r["mean"] - r["lo"]], [r["hi"] - r["mean"]]],
                   color=colors.get(key[0], "k"), hatch=hatches[j % len(hatches)], edgecolor="k", capsize=2,
                   label=GROUP_NAMES.get(group, group) if i == 0 else None)
    ax.set_xticks([i + width * (len(groups) - 1) / 2 for i in range(len(keys))])
    ax.set_xticklabels([f"{c}\nN={n}" for c, n in keys], fontsize=7)
    ax.set_ylabel("accuracy after ablating one neuron")
    ax.set_title(f"fast / slow: one neuron of short / long trained τ silenced\nmean over neurons, then mean ± {spread} "
                 "across runs", fontsize=8)
    _legend(ax)
    fig.tight_layout()
    return fig


def plot_forgetting_across_runs(table: pd.DataFrame, colors: dict[str, str], spread: str):
    """Accuracy of the network trained up to N_ckpt on every earlier N (mean and ``spread`` across
    runs), one panel per condition, one line per N_ckpt. ``table``: ``condition, checkpoint_n, n, mean,
    lo, hi``."""
    conditions = list(dict.fromkeys(table["condition"]))
    fig, axes = plt.subplots(1, len(conditions), figsize=(4.6 * len(conditions), 3.6), squeeze=False)
    for ax, condition in zip(axes[0], conditions):
        t = table[table["condition"] == condition]
        ckpts = sorted(t["checkpoint_n"].unique())
        cmap = plt.get_cmap("viridis")
        for k, ck in enumerate(ckpts):
            g = t[t["checkpoint_n"] == ck].sort_values("n")
            c = cmap(k / max(1, len(ckpts) - 1))
            line_with_band(ax, g["n"], g["mean"], g["lo"], g["hi"], color=c, label=f"trained to N={ck}")
        ax.set_xlabel("N evaluated")
        ax.set_ylabel("accuracy")
        ax.set_title(f"{condition} (mean ± {spread} across runs)", fontsize=8, color=colors.get(condition, "k"))
        _legend(ax)
    fig.tight_layout()
    return fig


def plot_continuous_across_runs(table: pd.DataFrame, colors: dict[str, str], spread: str):
    """Accuracy against the time-rescaling factor k (every input repeated k times, tau scaled by k).
    ``table``: ``condition, n, k, mean, lo, hi, runs``."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for (condition, n), g in table.groupby(["condition", "n"], sort=False):
        g = g.sort_values("k")
        c = colors.get(condition, "k")
        line_with_band(ax, g["k"], g["mean"], g["lo"], g["hi"], color=c, label=f"{condition}, N={n}")
    ax.set_xscale("log")
    ax.set_xlabel("rescaling factor k")
    ax.set_ylabel("accuracy")
    ax.set_title(f"mean ± {spread} across runs", fontsize=8)
    _legend(ax)
    fig.tight_layout()
    return fig


def plot_extrapolation_across_runs(table: pd.DataFrame, colors: dict[str, str], spread: str):
    """Delayed recall: accuracy against the delay, including delays beyond those trained.
    ``table``: ``condition, delay, mean, lo, hi, n``."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    _band(ax, table, "delay", colors)
    ax.set_xlabel("delay (steps)")
    ax.set_ylabel("accuracy")
    ax.set_title(f"mean ± {spread} across runs", fontsize=8)
    _legend(ax)
    fig.tight_layout()
    return fig
