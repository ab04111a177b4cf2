"""Every figure of the toolkit, one function each. Functions take tables/arrays and return a
matplotlib Figure; saving is the caller's job.

Over 400 lines for now: its figures are being reworked in parallel (docs branch); it splits into
one module per study (analyze, robustness, slow points, recall) once that lands.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator
import numpy as np
import pandas as pd

from rnn_timescales.plots.bands import mean_sd_band
from rnn_timescales.plots.neurons import (  # noqa: F401  (the figures of analyze, under their old names)
    TAU_NET_FLOOR,
    plot_autocorrelation_fits,
    plot_population_autocorrelation,
    plot_tau_vs_tau_net,
    zoom_lags,
)


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
