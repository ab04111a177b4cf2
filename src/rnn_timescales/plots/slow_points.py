"""The figures of the slow-point and delayed-recall studies: ``slow-points`` (the points and their
spectra), ``extrapolate``, ``recall-memory`` and ``speed-regularization`` [H19]. Each function
takes the study's tables or arrays and returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


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


def plot_recall_memory_pca(projections: dict[str, dict], title: str = ""):
    """Delayed recall [H19]: each class's mean trajectory of the seed trials (from the image to
    the seed), its seed (circle), slow point (star) and centre of mass (square) on the top two
    principal components of the trajectories, one panel per network. ``projections``: network
    name -> :func:`rnn_timescales.analysis.recall_memory.projection`."""
    n = len(projections)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.2), squeeze=False)
    for ax, (name, p) in zip(axes[0], projections.items()):
        k = p["seeds"].shape[0]
        for j in range(k):
            color = f"C{j % 10}"
            traj = p["trajectories"][:, j]
            ax.plot(traj[:, 0], traj[:, 1], "-", color=color, lw=0.8, alpha=0.6)
            ax.plot(*p["seeds"][j, :2], "o", color=color, ms=5)
            ax.plot(*p["points"][j, :2], "*", color=color, ms=11, mec="k", mew=0.5, label=str(j))
            ax.plot(*p["centres"][j, :2], "s", color=color, ms=5, mfc="none")
        ev = p["explained"]
        ax.set_xlabel(f"PC1 ({100 * ev[0]:.0f} %)")
        ax.set_ylabel(f"PC2 ({100 * ev[1]:.0f} %)" if len(ev) > 1 else "PC2")
        ax.set_title(f"{title} {name}".strip(), fontsize=9)
    axes[0][-1].legend(title="digit", fontsize=7, title_fontsize=7, loc="best", ncol=2)
    fig.text(0.5, 0.0, "line: mean seed trial, o seed, * slow point, □ class centre of mass", ha="center", fontsize=8)
    fig.tight_layout()
    return fig


def plot_speed_vs_extrapolation(classes: pd.DataFrame, speeds: tuple[str, ...] = ("slow_point_q", "centre_q")):
    """Delayed recall [H19]: each class's extrapolation accuracy against its speed (log scale),
    one panel per speed, one colour per network (column ``network``), digits written beside the
    points. ``classes``: rows of ``recall_slow_points.csv``."""
    fig, axes = plt.subplots(1, len(speeds), figsize=(4.6 * len(speeds), 3.8), squeeze=False)
    for ax, name in zip(axes[0], speeds):
        for i, (net, rows) in enumerate(classes.groupby("network", sort=False)):
            ax.scatter(rows[name], rows["extrapolation_accuracy"], s=18, color=f"C{i % 10}", label=str(net))
            for _, r in rows.iterrows():
                if np.isfinite(r[name]) and np.isfinite(r["extrapolation_accuracy"]):
                    ax.annotate(str(int(r["digit"])), (r[name], r["extrapolation_accuracy"]), fontsize=6,
                                xytext=(2, 2), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel({"slow_point_q": "q at the slow point", "centre_q": "q at the class centre",
                       "seed_q": "q at the seed"}.get(name, name))
        ax.set_ylabel("accuracy over untrained delays")
        ax.set_ylim(0, 1.02)
    if classes["network"].nunique() > 1:
        axes[0][-1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_regularization_extrapolation(curves: pd.DataFrame):
    """Speed regularisation [H19]: accuracy against the delay of the starting network and of its
    fine-tunings with and without the speed term (column ``network``); :func:`plot_extrapolation`."""
    fig = plot_extrapolation(curves.rename(columns={"network": "run"}))
    fig.axes[0].set_title("extrapolation with and without speed regularisation", fontsize=9)
    return fig


def plot_regularization_speeds(speeds: pd.DataFrame):
    """Speed regularisation [H19]: q at each class's centre of mass (log scale), one group of bars
    per class, one bar per network (column ``network``)."""
    nets = list(dict.fromkeys(speeds["network"]))
    classes = sorted(speeds["class"].unique())
    fig, ax = plt.subplots(figsize=(6.0, 3.5))
    width = 0.8 / len(nets)
    for i, net in enumerate(nets):
        rows = speeds[speeds["network"] == net].set_index("class").reindex(classes)
        ax.bar(np.arange(len(classes)) + (i - (len(nets) - 1) / 2) * width, rows["centre_q"], width, label=net)
    ax.set_xticks(np.arange(len(classes)), [str(c - 1) for c in classes])
    ax.set_xlabel("digit")
    ax.set_ylabel("q at the class centre of mass")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
