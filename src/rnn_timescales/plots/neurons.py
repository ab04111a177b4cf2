"""Figures of single neurons' timescales (``rnn-timescales analyze``): trained τ against τ_net, the
autocorrelation fits of example neurons and the population autocorrelation, with lags zoomed to
where the autocorrelation decays (:func:`zoom_lags`). Re-exported by :mod:`rnn_timescales.plots.figures`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from rnn_timescales.analysis.fitting import double_exp, single_exp

TAU_NET_FLOOR = 0.1
"""tau_net below this (steps) means no correlation left at lag 1 (e^-10): drawn as a floor, not a value."""


def plot_tau_vs_tau_net(neurons: pd.DataFrame, x: str = "tau"):
    """A unit's own timescale against tau_net per neuron, coloured by N (one colour and no colour
    bar when there is one N); the diagonal marks tau_net = x. tau_net below
    :data:`TAU_NET_FLOOR` (no correlation left at lag 1) is drawn as open triangles on the floor
    of the axis, and neurons without a fit are counted in the legend, not drawn. ``x``: ``tau``
    (trained, leaky RNN) or ``tau_gate`` (gate timescale, GRU and LSTM)."""
    fig, ax = plt.subplots(figsize=(4.6, 4))
    finite_x = np.isfinite(neurons[x].to_numpy(dtype=float))
    tau_net = neurons["tau_net"].to_numpy(dtype=float)
    fitted = np.isfinite(tau_net) & finite_x
    above = fitted & (tau_net >= TAU_NET_FLOOR)
    floor = fitted & (tau_net < TAU_NET_FLOOR)
    no_fit = int((~np.isfinite(tau_net) & finite_x).sum())
    color = "level" if "level" in neurons and neurons["level"].notna().any() else "n_max"
    values = neurons[color].dropna().unique()
    name = "N" if neurons["n_max"].notna().any() else "level"
    if len(values) > 1:
        kw = {"c": neurons.loc[above, color], "cmap": "viridis"}
        floor_kw = {"edgecolors": plt.get_cmap("viridis")(0.5)}
    else:
        kw = {"color": "C0"}
        floor_kw = {"edgecolors": "C0"}
    label = f"{name} = {values[0]:g}: " if len(values) == 1 else ""
    sc = ax.scatter(neurons.loc[above, x], neurons.loc[above, "tau_net"], s=8, alpha=0.7,
                    label=f"{label}{int(above.sum())} neurons", **kw)
    if floor.any():
        ax.scatter(neurons.loc[floor, x], np.full(int(floor.sum()), TAU_NET_FLOOR), marker="v", s=14,
                   facecolors="none", label=f"{int(floor.sum())} with " + r"$\tau_{net}$" + f" < {TAU_NET_FLOOR:g}: "
                   "no correlation left at lag 1", **floor_kw)
    if no_fit:
        ax.scatter([], [], marker="x", color="0.5", label=f"{no_fit} without a fit (not drawn)")
    shown = neurons.loc[fitted, x].to_numpy(dtype=float)
    low = min(TAU_NET_FLOOR, float(shown.min()) if shown.size else 1.0) * 0.8
    high = max(10.0, float(np.nanmax(np.r_[shown, tau_net[above]])) * 1.5 if above.any() else 10.0)
    ax.plot([low, high], [low, high], "k--", lw=0.8, label=r"$\tau_{net}$ = " + ("trained τ" if x == "tau" else "gate τ"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(low, high)
    ax.set_ylim(TAU_NET_FLOOR * 0.8, high)
    ax.set_xlabel(r"trained $\tau$ (steps)" if x == "tau" else r"gate $\tau = 1/(1-\bar a)$ (steps)")
    ax.set_ylabel(r"$\tau_{net}$ (steps)")
    ax.legend(fontsize=7, loc="upper left")
    if len(values) > 1:
        bar = fig.colorbar(sc, ax=ax, label=name)
        bar.locator = MaxNLocator(integer=True)
        bar.update_ticks()
    fig.tight_layout()
    return fig


def plot_autocorrelation_fits(ac: np.ndarray, neurons: pd.DataFrame, fit_lag: int, n_examples: int = 6,
                              title: str | None = None):
    """Normalised autocorrelations of example neurons (spread over the range of tau_net) with the
    selected fit. ``ac: (units, lags)``; ``neurons``: the per-neuron table of the same checkpoint."""
    ok = neurons["tau_net"].notna().to_numpy() & (ac[:, 0] > 0)
    idx = np.flatnonzero(ok)
    if idx.size:
        order = idx[np.argsort(neurons["tau_net"].to_numpy()[idx])]
        idx = order[np.linspace(0, order.size - 1, min(n_examples, order.size)).astype(int)]
    fig, ax = plt.subplots(figsize=(7, 3.5))
    lags = np.arange(ac.shape[1])
    t = np.linspace(0, fit_lag, 200)
    curves = []
    for i, u in enumerate(idx):
        row = neurons.iloc[u]
        color = f"C{i % 10}"
        ax.plot(lags, ac[u] / ac[u, 0], ".", ms=3, color=color)
        curves.append((ac[u] / ac[u, 0], {"color": color, "marker": ".", "ms": 2, "ls": "none"}))
        if row["model"] == 1:
            fit = single_exp(t, row["a_single"], row["tau_single"])
        else:
            fit = double_exp(t, row["a_double"], row["tau_fast"], row["tau_slow"], row["c_fast"])
        value = (rf"$\tau_{{net}}$ < {TAU_NET_FLOOR:g}: no correlation at lag 1" if row["tau_net"] < TAU_NET_FLOOR
                 else rf"$\tau_{{net}}$={row['tau_net']:.2g} ({'double' if row['model'] == 2 else 'single'})")
        ax.plot(t, fit, "-", color=color, label=f"neuron {int(row['neuron'])}: {value}")
    ax.axvline(fit_lag, color="grey", lw=0.6, ls=":", label=f"last lag fitted ({fit_lag})")
    ax.axhline(0, color="k", lw=0.4)
    zoom_lags(ax, curves)
    ax.set_xlabel("lag (steps)")
    ax.set_ylabel("autocorrelation / AC(0)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def zoom_lags(ax, curves: list[tuple[np.ndarray, dict]], threshold: float = 0.05, min_lag: int = 5) -> None:
    """Zoom ``ax`` (lag on x) to where the normalised autocorrelations ``curves`` (values at lags
    0, 1, ..., plot keywords) decay: three times the lag at which the slowest first falls below
    ``threshold`` or twice its own noise (the s.d. of the second half of its lags), at least
    ``min_lag``; with an inset drawing them all on a log-lag axis when the zoom leaves most lags
    out, so the tail stays visible."""
    longest = max((len(c) for c, _ in curves), default=0)
    if longest < 2:
        return
    last = min_lag
    for c, _ in curves:
        c = np.nan_to_num(np.asarray(c, dtype=float))
        level = max(threshold, 2 * float(np.std(c[len(c) // 2:]))) if len(c) > 4 else threshold
        below = np.flatnonzero(np.abs(c[1:]) < level)
        last = max(last, 3 * (int(below[0]) + 1) if below.size else len(c) - 1)
    end = min(longest - 1, last)
    ax.set_xlim(-0.5, end + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if end < 0.5 * (longest - 1):
        inset = ax.inset_axes([0.55, 0.5, 0.42, 0.42])
        for c, kw in curves:
            inset.plot(np.arange(1, len(c)), c[1:], **{**kw, "label": None})
        inset.set_xscale("log")
        inset.axhline(0, color="k", lw=0.4)
        inset.set_title(f"all lags 1–{longest - 1} (log)", fontsize=6)
        inset.tick_params(labelsize=6)


def plot_population_autocorrelation(levels: np.ndarray, population_ac: np.ndarray, level_name: str = "N"):
    """Normalised autocorrelation of the summed activity, one curve per checkpoint, labelled by the
    level it was trained at (N for the N curricula). ``population_ac: (checkpoints, lags)``."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    cmap = plt.get_cmap("viridis")
    curves = []
    for i, (n, ac) in enumerate(zip(levels, population_ac)):
        label = f"{level_name} = {n:g}" if np.isfinite(n) else f"checkpoint {i}"
        kw = {"color": cmap(i / max(1, len(levels) - 1)), "label": label}
        ax.plot(np.arange(ac.size), ac / ac[0], **kw)
        curves.append((ac / ac[0], kw))
    ax.axhline(0, color="k", lw=0.4)
    zoom_lags(ax, curves)
    ax.set_xlabel("lag (steps)")
    ax.set_ylabel("population AC / AC(0)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig
