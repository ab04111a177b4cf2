"""Every figure of the toolkit, one function each. Functions take tables/arrays and return a
matplotlib Figure; saving is the caller's job."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rnn_timescales.analysis.fitting import double_exp, single_exp


def plot_timescales_vs_n(summary: pd.DataFrame):
    """Median trained tau (leaky RNN) or gate tau (GRU, LSTM), tau_net (and the LSTM cell state's),
    each with its interquartile band, and the slowest Jacobian timescale against N. ``summary``:
    the per-checkpoint table of ``rnn-timescales analyze``; timescales it lacks are left out."""
    s = summary.sort_values("n_max")
    n = s["n_max"].to_numpy()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, label, color in (("tau", r"trained $\tau$", "C0"), ("tau_gate", r"gate $\tau = 1/(1-\bar a)$", "C4"),
                               ("tau_net", r"$\tau_{net}$", "C1"), ("tau_net_cell", r"cell-state $\tau_{net}$", "C5")):
        if f"{name}_median" not in s or not s[f"{name}_median"].notna().any():
            continue
        ax.plot(n, s[f"{name}_median"], "o-", color=color, label=label + " (median, IQR)")
        ax.fill_between(n, s[f"{name}_q25"], s[f"{name}_q75"], color=color, alpha=0.2)
    if "jacobian_tau_max" in s:
        ax.plot(n, s["jacobian_tau_max"], "s--", color="C2", label="slowest Jacobian mode")
    if "population_tau_net" in s:
        ax.plot(n, s["population_tau_net"], "^:", color="C3", label=r"population $\tau_{net}$")
    ax.set_xlabel("N")
    ax.set_ylabel("timescale (steps)")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_tau_vs_tau_net(neurons: pd.DataFrame, x: str = "tau"):
    """A unit's own timescale against tau_net per neuron, coloured by N; the diagonal marks
    tau_net = x. ``x``: ``tau`` (trained, leaky RNN) or ``tau_gate`` (gate timescale, GRU and LSTM)."""
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ok = neurons["tau_net"].notna() & (neurons["tau_net"] > 0) & np.isfinite(neurons[x])
    sc = ax.scatter(neurons.loc[ok, x], neurons.loc[ok, "tau_net"], c=neurons.loc[ok, "n_max"], s=6,
                    cmap="viridis", alpha=0.6)
    lim = [max(1e-2, float(np.nanmin(neurons.loc[ok, [x, "tau_net"]].to_numpy())) if ok.any() else 0.1), 100]
    ax.plot(lim, lim, "k--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"trained $\tau$ (steps)" if x == "tau" else r"gate $\tau = 1/(1-\bar a)$ (steps)")
    ax.set_ylabel(r"$\tau_{net}$ (steps)")
    fig.colorbar(sc, ax=ax, label="N")
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
    fig, ax = plt.subplots(figsize=(5, 3.5))
    lags = np.arange(ac.shape[1])
    t = np.linspace(0, fit_lag, 200)
    for i, u in enumerate(idx):
        row = neurons.iloc[u]
        color = f"C{i % 10}"
        ax.plot(lags, ac[u] / ac[u, 0], ".", ms=3, color=color)
        if row["model"] == 1:
            fit = single_exp(t, row["a_single"], row["tau_single"])
        else:
            fit = double_exp(t, row["a_double"], row["tau_fast"], row["tau_slow"], row["c_fast"])
        ax.plot(t, fit, "-", color=color, label=f"neuron {int(row['neuron'])}: "
                rf"$\tau_{{net}}$={row['tau_net']:.2g} ({'double' if row['model'] == 2 else 'single'})")
    ax.axvline(fit_lag, color="grey", lw=0.6, ls=":")
    ax.set_xlim(0, min(ac.shape[1] - 1, 4 * fit_lag))
    ax.set_xlabel("lag (steps)")
    ax.set_ylabel("autocorrelation / AC(0)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_population_autocorrelation(n_max: np.ndarray, population_ac: np.ndarray):
    """Normalised autocorrelation of the summed activity, one curve per N.
    ``population_ac: (checkpoints, lags)``."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    cmap = plt.get_cmap("viridis")
    for i, (n, ac) in enumerate(zip(n_max, population_ac)):
        ax.plot(np.arange(ac.size), ac / ac[0], color=cmap(i / max(1, len(n_max) - 1)), label=f"N = {n}")
    ax.set_xlabel("lag (steps)")
    ax.set_ylabel("population AC / AC(0)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_extrapolation(table: pd.DataFrame):
    """Delayed recall: accuracy against the delay t_a - t_s, one curve per run (column ``run``;
    a single curve without it). A dotted vertical line marks the longest delay each run was
    trained on (the last delay with ``trained`` true), a grey line the chance level of its
    vocabulary when the table has ``n_classes``. ``table``: rows of :func:`recall_by_delay`."""
    runs = table.groupby("run", sort=False) if "run" in table else [("", table)]
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for i, (name, rows) in enumerate(runs):
        color = f"C{i % 10}"
        rows = rows.sort_values("delay")
        ax.plot(rows["delay"], rows["accuracy"], "-", color=color, lw=1.5, label=name or None)
        trained = rows.loc[rows["trained"], "delay"]
        if len(trained):
            ax.axvline(trained.max(), color=color, ls=":", lw=1)
        if "n_classes" in rows:
            ax.axhline(1.0 / (rows["n_classes"].iloc[0] - 1), color="grey", ls="--", lw=0.6)
    ax.set_xlabel(r"delay $t_a - t_s$ (steps)")
    ax.set_ylabel("accuracy at $t_a$")
    ax.set_ylim(0, 1.02)
    if "run" in table:
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_largest_n(curves: pd.DataFrame, x: str = "epoch"):
    """Largest N solved against epochs (``x="epoch"``) or wall time (``x="wall_time_s"``), one line
    per run: colour by model, line style by curriculum. ``curves``: ``comparison_curves.csv``."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    models = list(dict.fromkeys(curves["model"]))
    styles = {"multi": "-", "single": "--", "sliding": "-.", "fixed": ":"}
    for (model, curriculum), run in curves.groupby(["model", "curriculum"], sort=False):
        run = run.sort_values("epoch")
        ax.step(run[x], run["largest_n"], where="post", color=f"C{models.index(model) % 10}",
                ls=styles.get(curriculum, "-"), label=f"{model}, {curriculum}-head" if curriculum in ("single", "multi")
                else f"{model}, {curriculum}")
    ax.set_xlabel("epoch" if x == "epoch" else "wall time (s)")
    ax.set_ylabel("largest N solved")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
