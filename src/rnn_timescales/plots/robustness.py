"""The figures of ``rnn-timescales robustness``: perturbation, ablation, forgetting, continuous
time, retraining and the epochs to solve each N (continuation, transfer). Each function takes
the study's table and returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator
import numpy as np
import pandas as pd

from rnn_timescales.plots.bands import mean_sd_band

# --- robustness (rnn-timescales robustness) ------------------------------------------------------------
CURRICULUM_COLORS = {"single": "#D48A6A", "multi": "#489174"}  # the paper's colours for its two curricula
PLAIN = FuncFormatter(lambda v, _: f"{v:g}")  # 1, 2, 10 on a log axis instead of 10^0, 2x10^0


def _series_colors(table: pd.DataFrame, keys: list[tuple]) -> dict[tuple, str]:
    """A colour per (network, n) series: the paper's curriculum colour when that curriculum has one
    series, otherwise one of matplotlib's cycle."""
    curriculum = table.groupby("network")["curriculum"].first().to_dict()
    per_curriculum = pd.Series([curriculum[k[0]] for k in keys]).value_counts().to_dict()
    colors = {}
    for i, key in enumerate(keys):
        c = curriculum[key[0]]
        colors[key] = CURRICULUM_COLORS[c] if c in CURRICULUM_COLORS and per_curriculum[c] == 1 else f"C{i % 10}"
    return colors


def _series_label(table: pd.DataFrame, network: str, n: int) -> str:
    curriculum = table.loc[table["network"] == network, "curriculum"].iloc[0]
    return f"{network} ({curriculum}, N = {n})"


def plot_perturbation(table: pd.DataFrame):
    """Relative accuracy (mean ± s.d. over repeats) against the perturbation strength epsilon,
    one curve per network and N. ``table``: rows of one kind of ``perturbation.csv``."""
    kind = table["kind"].iloc[0]
    target = r"$W$" if kind == "perturb-w" else r"$\tau$"
    fig, ax = plt.subplots(figsize=(5, 3.5))
    keys = list(table.groupby(["network", "n"], sort=False).groups)
    colors = _series_colors(table, keys)
    for key in keys:
        rows = table[(table["network"] == key[0]) & (table["n"] == key[1]) & (table["epsilon"] > 0)]
        g = rows.groupby("epsilon")["relative_accuracy"]
        mean, sd = g.mean(), g.std().fillna(0.0)
        label = _series_label(table, *key)
        if mean.isna().all():  # the unchanged network is at chance: relative accuracy is undefined
            label += ": at chance, no relative accuracy"
        mean_sd_band(ax, mean.index, mean, sd, color=colors[key], label=label)
    ax.axhline(1.0, color="grey", lw=0.6, ls=":")
    ax.axhline(0.0, color="grey", lw=0.6, ls=":")
    positive = table.loc[table["epsilon"] > 0, "epsilon"]
    if len(positive):
        ax.set_xscale("log")
        ax.set_xlim(positive.min() / 1.5, positive.max() * 1.5)
    ax.set_ylim(-0.1, 1.1)
    ax.set_xlabel(rf"perturbation $\varepsilon$ of {target} ({table['mode'].iloc[0]})")
    ax.set_ylabel("relative accuracy")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_ablation(table: pd.DataFrame):
    """Accuracy (mean over repeats) with each neuron set silenced against the set's trained tau,
    one colour per network and N, one marker per group; dotted: the unchanged network."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    keys = list(table.groupby(["network", "n"], sort=False).groups)
    colors = _series_colors(table, keys)
    markers = {"short": "o", "long": "s", "random": "^"}
    for key in keys:
        rows = table[(table["network"] == key[0]) & (table["n"] == key[1])]
        base = rows.loc[rows["group"] == "none", "accuracy"].mean()
        ax.axhline(base, color=colors[key], lw=0.8, ls=":")
        for group, g in rows[rows["group"] != "none"].groupby("group", sort=False):
            per = g.groupby("variant").agg(tau=("tau", "first"), accuracy=("accuracy", "mean"))
            ax.scatter(per["tau"], per["accuracy"], s=14, marker=markers.get(group, "x"), color=colors[key],
                       label=f"{_series_label(table, *key)}: {group}")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(PLAIN)
    taus = table.loc[table["group"] != "none", "tau"]
    if taus.max() < 10 * taus.min():  # less than a decade: label the minor ticks too
        ax.xaxis.set_minor_formatter(PLAIN)
    ax.set_xlabel(r"trained $\tau$ of the silenced neuron(s) (steps)")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_forgetting(table: pd.DataFrame):
    """Heat map of accuracy of each checkpoint (rows, by its largest N) on each N (columns), one
    panel per network. ``table``: ``forgetting.csv``."""
    networks = list(dict.fromkeys(table["network"]))
    fig, axes = plt.subplots(1, len(networks), figsize=(4.2 * len(networks), 3.8), squeeze=False, layout="constrained")
    for ax, net in zip(axes[0], networks):
        m = table[table["network"] == net].pivot(index="checkpoint_n", columns="n", values="accuracy")
        im = ax.imshow(m.to_numpy(), vmin=0.5, vmax=1.0, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(m.shape[1]), m.columns)
        ax.set_yticks(range(m.shape[0]), m.index)
        if m.size <= 400:
            for (i, j), v in np.ndenumerate(m.to_numpy()):
                if np.isfinite(v):
                    text = f"{v:.2f}"
                    ax.text(j, i, "1" if text == "1.00" else text.lstrip("0"), ha="center", va="center", fontsize=6,
                            color="white" if v < 0.8 else "black")
        ax.set_xlabel("N scored")
        ax.set_ylabel("checkpoint (largest N trained)")
        curriculum = table.loc[table["network"] == net, "curriculum"].iloc[0]
        ax.set_title(f"{net} ({curriculum})", fontsize=8)
    fig.colorbar(im, ax=axes[0].tolist(), label="accuracy")
    return fig


def plot_continuous(table: pd.DataFrame):
    """Accuracy against the input repetition k (tau scaled by k), one line per N, one panel per
    network. ``table``: ``continuous.csv``."""
    networks = list(dict.fromkeys(table["network"]))
    fig, axes = plt.subplots(1, len(networks), figsize=(4.5 * len(networks), 3.5), squeeze=False, sharey=True)
    cmap = plt.get_cmap("viridis")
    n_lo, n_hi = table["n"].min(), table["n"].max()
    for ax, net in zip(axes[0], networks):
        rows = table[table["network"] == net]
        for n, g in rows.groupby("n"):
            g = g.sort_values("k")
            ax.plot(g["k"], g["accuracy"], "-", marker=".", ms=3,
                    color=cmap(0.0 if n_hi == n_lo else (n - n_lo) / (n_hi - n_lo)), label=f"N = {n}")
        ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(PLAIN)
        ax.set_xlabel("k (each input repeated k times)")
        curriculum = rows["curriculum"].iloc[0]
        ax.set_title(f"{net} ({curriculum})", fontsize=8)
        if rows["n"].nunique() <= 12:
            ax.legend(fontsize=6)
    axes[0][0].set_ylabel("accuracy")
    fig.tight_layout()
    return fig


def _change_label(row) -> str:
    if row.change == "none":
        return "unchanged"
    if row.change == "ablation":
        return f"ablation: {row.group} ({len(str(row.neurons).split())} neurons)"
    target = "W" if row.change == "w" else r"$\tau$"
    return rf"{target}, $\varepsilon$ = {row.epsilon:g}" + (f" (draw {row.draw})" if row.draw else "")


def plot_retrain(table: pd.DataFrame):
    """Accuracy (mean over heads) against retraining epochs, epoch 0 being the changed network
    before retraining; one line per change, one panel per network. The legend says when each run
    first solved its level. ``table``: ``retrain.csv``."""
    networks = list(dict.fromkeys(table["network"]))
    fig, axes = plt.subplots(1, len(networks), figsize=(4.8 * len(networks), 3.6), squeeze=False, sharey=True)
    for ax, net in zip(axes[0], networks):
        rows = table[table["network"] == net]
        groups = rows.groupby(["change", "epsilon", "group", "draw"], sort=False, dropna=False)
        for i, (_, g) in enumerate(groups):
            g = g.sort_values("epoch")
            solved = g.loc[g["solved"].astype(bool), "epoch"]
            when = f"solved at epoch {int(solved.iloc[0])}" if len(solved) else f"not solved in {int(g['epoch'].max())}"
            style = dict(color="black", lw=1.6) if g["change"].iloc[0] == "none" else dict(color=f"C{i % 10}", lw=1)
            ax.plot(g["epoch"], g["accuracy_mean"], "o-", ms=3, label=f"{_change_label(g.iloc[0])}: {when}", **style)
        ax.axhline(0.5, color="grey", lw=0.6, ls=":")
        ax.set_xlabel("retraining epoch (0: before)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{net} ({rows['curriculum'].iloc[0]}, N = {rows['n_max'].iloc[0]})", fontsize=8)
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("accuracy (mean over heads)")
    fig.tight_layout()
    return fig


def plot_epochs_to_solve(table: pd.DataFrame):
    """Epochs each level took against its largest N: one colour per network, solid for the
    continued (or transferred) run, dashed for the original run (or the fresh network); an open
    marker is a level the run stopped at unsolved (a lower bound). ``table``: ``continuation.csv``
    or ``transfer.csv``."""
    series = "source" if "source" in table else "start"
    dashed = {"original", "fresh"}
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    colors = _series_colors(table, [(net,) for net in dict.fromkeys(table["network"])])
    for (net, label), g in table.groupby(["network", series], sort=False):
        g = g.sort_values("n")
        color = colors[(net,)]
        ls = "--" if label in dashed else "-"
        task = f" on {g['target_task'].iloc[0]}" if "target_task" in g else ""
        ax.plot(g["n"], g["epochs"], ls, color=color, lw=1, label=f"{net} ({g['curriculum'].iloc[0]}): {label}{task}")
        ok = g["solved"].astype(bool)
        ax.scatter(g.loc[ok, "n"], g.loc[ok, "epochs"], s=14, color=color)
        ax.scatter(g.loc[~ok, "n"], g.loc[~ok, "epochs"], s=22, facecolors="white", edgecolors=color, zorder=3)
    epochs = table["epochs"][table["epochs"] > 0]
    if len(epochs) and epochs.max() > 20 * epochs.min():
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(PLAIN)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("N (largest N of the level)")
    ax.set_ylabel("epochs to solve")
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig
