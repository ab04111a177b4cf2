"""Every figure of the studies, one function each, importable from here: those of ``analyze`` and
``compare-models`` are in this module, those of ``robustness`` in :mod:`.robustness`, those of the
slow-point and delayed-recall studies in :mod:`.slow_points`. Functions take tables/arrays and
return a matplotlib Figure; saving is the caller's job.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rnn_timescales.analysis.fitting import double_exp, single_exp
from rnn_timescales.plots.robustness import (
    CURRICULUM_COLORS,
    PLAIN,
    plot_perturbation,
    plot_ablation,
    plot_forgetting,
    plot_continuous,
    plot_retrain,
    plot_epochs_to_solve,
)
from rnn_timescales.plots.slow_points import (
    plot_slow_points_pca,
    plot_slow_point_spectra,
    plot_extrapolation,
    plot_recall_memory_pca,
    plot_speed_vs_extrapolation,
    plot_regularization_extrapolation,
    plot_regularization_speeds,
)

__all__ = [
    "CURRICULUM_COLORS",
    "PLAIN",
    "plot_ablation",
    "plot_autocorrelation_fits",
    "plot_continuous",
    "plot_epochs_to_solve",
    "plot_extrapolation",
    "plot_forgetting",
    "plot_largest_n",
    "plot_perturbation",
    "plot_population_autocorrelation",
    "plot_recall_memory_pca",
    "plot_regularization_extrapolation",
    "plot_regularization_speeds",
    "plot_retrain",
    "plot_slow_point_spectra",
    "plot_slow_points_pca",
    "plot_speed_vs_extrapolation",
    "plot_tau_vs_tau_net",
    "plot_timescales_vs_n",
]


def _by_level(summary: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The rows ordered by the level each checkpoint was trained at, the x values and the axis
    name: N for the N curricula, the curriculum's level otherwise, the checkpoint's position when
    the curriculum has no levels."""
    if "level" not in summary:  # an analysis written before levels were recorded
        s = summary.sort_values("n_max")
        return s, s["n_max"].to_numpy(), "N"
    s = summary.sort_values("level", kind="stable")
    name = s["level_name"].iloc[0]
    if s["level"].isna().all():
        return s, np.arange(len(s)), "checkpoint"
    return s, s["level"].to_numpy(), "N" if name == "n_max" else name


def plot_timescales_vs_n(summary: pd.DataFrame):
    """Median trained tau (leaky RNN) or gate tau (GRU, LSTM), tau_net (and the LSTM cell state's),
    each with its interquartile band, and the slowest Jacobian timescale against N. ``summary``:
    the per-checkpoint table of ``rnn-timescales analyze``; timescales it lacks are left out."""
    s, n, axis = _by_level(summary)
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
    ax.set_xlabel(axis)
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
    color = "level" if "level" in neurons and neurons["level"].notna().any() else "n_max"
    sc = ax.scatter(neurons.loc[ok, x], neurons.loc[ok, "tau_net"], c=neurons.loc[ok, color], s=6,
                    cmap="viridis", alpha=0.6)
    lim = [max(1e-2, float(np.nanmin(neurons.loc[ok, [x, "tau_net"]].to_numpy())) if ok.any() else 0.1), 100]
    ax.plot(lim, lim, "k--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"trained $\tau$ (steps)" if x == "tau" else r"gate $\tau = 1/(1-\bar a)$ (steps)")
    ax.set_ylabel(r"$\tau_{net}$ (steps)")
    fig.colorbar(sc, ax=ax, label="N" if neurons["n_max"].notna().any() else "level")
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


def plot_population_autocorrelation(levels: np.ndarray, population_ac: np.ndarray, level_name: str = "N"):
    """Normalised autocorrelation of the summed activity, one curve per checkpoint, labelled by the
    level it was trained at (N for the N curricula). ``population_ac: (checkpoints, lags)``."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    cmap = plt.get_cmap("viridis")
    for i, (n, ac) in enumerate(zip(levels, population_ac)):
        label = f"{level_name} = {n:g}" if np.isfinite(n) else f"checkpoint {i}"
        ax.plot(np.arange(ac.size), ac / ac[0], color=cmap(i / max(1, len(levels) - 1)), label=label)
    ax.set_xlabel("lag (steps)")
    ax.set_ylabel("population AC / AC(0)")
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
