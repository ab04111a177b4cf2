"""Every figure of the toolkit, one function each. Functions take tables/arrays and return a
matplotlib Figure; saving is the caller's job."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rnn_timescales.analysis.fitting import double_exp, single_exp


def plot_timescales_vs_n(summary: pd.DataFrame):
    """Median trained tau and tau_net (interquartile band) and the slowest Jacobian timescale
    against N. ``summary``: the per-checkpoint table of ``rnn-timescales analyze``."""
    s = summary.sort_values("n_max")
    n = s["n_max"].to_numpy()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, label, color in (("tau", r"trained $\tau$", "C0"), ("tau_net", r"$\tau_{net}$", "C1")):
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


def plot_tau_vs_tau_net(neurons: pd.DataFrame):
    """Trained tau against tau_net per neuron, coloured by N; the diagonal marks tau_net = tau."""
    fig, ax = plt.subplots(figsize=(4.2, 4))
    ok = neurons["tau_net"].notna() & (neurons["tau_net"] > 0)
    sc = ax.scatter(neurons.loc[ok, "tau"], neurons.loc[ok, "tau_net"], c=neurons.loc[ok, "n_max"], s=6,
                    cmap="viridis", alpha=0.6)
    lim = [max(1e-2, float(np.nanmin(neurons.loc[ok, ["tau", "tau_net"]].to_numpy())) if ok.any() else 0.1), 100]
    ax.plot(lim, lim, "k--", lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(r"trained $\tau$ (steps)")
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


# --- slow points -------------------------------------------------------------------------------
def plot_slow_points_pca(trajectory_pcs: np.ndarray, point_pcs: np.ndarray, q: np.ndarray, stable: np.ndarray,
                         explained: np.ndarray | None = None, max_trials: int = 4, title: str | None = None):
    """Trajectories under the task input and the slow points, on the top principal components.

    ``trajectory_pcs: (time, trials, components)``; ``point_pcs: (points, components)``; ``q``,
    ``stable``: (points,). Points are coloured by log10 q; stable points are dots, unstable crosses.
    One panel per pair (PC1, PC k), k = 2 and, with three components, 3."""
    n_comp = trajectory_pcs.shape[-1]
    pairs = [(0, k) for k in range(1, min(n_comp, 3))] or [(0, 0)]
    fig, axes = plt.subplots(1, len(pairs), figsize=(4.6 * len(pairs), 4), squeeze=False)
    logq = np.log10(np.clip(np.asarray(q, dtype=float), 1e-30, None))
    norm = plt.Normalize(logq.min(), logq.max()) if len(logq) else None
    sc = None
    for ax, (i, j) in zip(axes[0], pairs):
        for trial in range(min(max_trials, trajectory_pcs.shape[1])):
            ax.plot(trajectory_pcs[:, trial, i], trajectory_pcs[:, trial, j], color="0.6", lw=0.4, alpha=0.6,
                    label="trajectories (task input)" if trial == 0 else None)
        for mask, marker, label in ((stable, "o", "stable"), (~stable, "X", "unstable")):
            if mask.any():
                sc = ax.scatter(point_pcs[mask, i], point_pcs[mask, j], c=logq[mask], cmap="viridis", norm=norm,
                                marker=marker, s=40, edgecolors="k", linewidths=0.5, label=f"{label} point", zorder=3)
        share = (lambda k: f" ({100 * explained[k]:.0f} %)") if explained is not None else (lambda k: "")
        ax.set_xlabel(f"PC{i + 1}{share(i)}")
        ax.set_ylabel(f"PC{j + 1}{share(j)}")
    axes[0][0].legend(fontsize=7)
    if sc is not None:
        fig.colorbar(sc, ax=axes[0].tolist(), label=r"$\log_{10} q$")
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def plot_slow_point_spectra(eigenvalues: np.ndarray, points: pd.DataFrame, network: dict | None = None,
                            n_timescales: int = 5, title: str | None = None):
    """Left: Jacobian eigenvalues at every point in the complex plane with the unit circle.
    Right: the slowest Jacobian timescales at each point (``timescale_1..`` of ``points``; the
    slowest unit on its own as a dash) beside the network's trained τ and τ_net medians from
    ``network`` (keys ``tau_median``, ``tau_net_median``, ``tau_net_max`` when known)."""
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(9, 4))
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    ax.plot(circle.real, circle.imag, "k-", lw=0.6)
    stable = points["stable"].to_numpy(bool)
    for p, ev in enumerate(np.asarray(eigenvalues)):
        ax.scatter(ev.real, ev.imag, s=5, alpha=0.5, color="C0" if stable[p] else "C3")
    ax.set_aspect("equal")
    ax.set_xlabel(r"Re $\lambda$")
    ax.set_ylabel(r"Im $\lambda$")
    ax.set_title("Jacobian eigenvalues (blue: stable points, red: unstable)", fontsize=8)
    cols = [c for c in (f"timescale_{k}" for k in range(1, n_timescales + 1)) if c in points]
    x = np.arange(len(points))
    for k, col in enumerate(cols):
        tau = points[col].to_numpy(dtype=float)
        finite = np.isfinite(tau)
        bx.scatter(x[finite], tau[finite], s=14, color=plt.get_cmap("viridis")(k / max(1, len(cols) - 1)),
                   label=f"mode {k + 1}" if k in (0, len(cols) - 1) else None)
    if "unit_timescale_max" in points:
        bx.scatter(x, points["unit_timescale_max"], marker="_", s=120, color="k", label="slowest unit alone")
    for key, style, label in (("tau_median", ":", r"trained $\tau$ median"), ("tau_net_median", "--", r"$\tau_{net}$ median"),
                              ("tau_net_max", "-.", r"$\tau_{net}$ max")):
        value = (network or {}).get(key, np.nan)
        if value is not None and np.isfinite(value):
            bx.axhline(value, ls=style, color="C1", lw=1, label=label)
    bx.set_yscale("log")
    bx.set_xlim(-0.5, max(len(points), 1) - 0.5)
    if len(points) <= 12:
        bx.set_xticks(x)
    else:
        bx.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    bx.set_xlabel("point (slowest q first; unstable modes not shown)")
    bx.set_ylabel("timescale (steps)")
    bx.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig
