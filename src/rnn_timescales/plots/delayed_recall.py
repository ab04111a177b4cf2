"""Figures of the [H19] reproduction (delayed recall), drawn from a results directory's tables alone.

Each function takes the collected tables of one task (``extrapolation.csv``,
``recall_slow_points.csv``, ``speed_regularization_extrapolation.csv`` and
``speed_regularization_summary.csv``; one row per network and delay, or per network and class) and
returns a matplotlib Figure. As in :mod:`.reproduction`, a value per network first, then the mean
± s.d. across networks (a ``run`` is a network). Delays are in time steps; q in state units squared.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from rnn_timescales.plots.bands import mean_sd_band  # noqa: E402
from rnn_timescales.plots.reproduction import CURRICULUM_COLORS, CURRICULUM_NAMES, per_network  # noqa: E402

NETWORK_STYLES = {"start": ("0.35", "--", "trained network (start)"), "control": ("#1f77b4", "-", "control (λ = 0)"),
                  "regularized": ("#d62728", "-", "speed-regularised")}
"""The speed-regularisation study's networks: colour, line style, legend name."""
DELAY_LABEL = "delay $t_a - t_s$ (time steps)"


def _curricula(table: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(table["curriculum"]))
    return [c for c in CURRICULUM_COLORS if c in present] + sorted(c for c in present if c not in CURRICULUM_COLORS)


def _name(curriculum: str) -> str:
    return CURRICULUM_NAMES.get(curriculum, curriculum)


def _networks(k: int) -> str:
    return f"{k} network{'s' if k != 1 else ''}"


def _legend_below(fig, ax, ncol: int = 3, extra: tuple[list, list] = ([], [])) -> None:
    """The legend of ``ax`` (and ``extra`` handles and labels) under the figure, where no curve
    lies (delayed-recall curves fill the top of an accuracy axis at short delays and the bottom at
    long ones)."""
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles + extra[0], labels + extra[1], loc="outside lower center", ncol=ncol, fontsize=8, frameon=False)


def trained_max_delay(table: pd.DataFrame) -> pd.Series:
    """T_max of each network (``run``): ``trained_max_delay`` where the table has it, else its
    longest trained delay + 1 (trials of T_max steps hold delays up to T_max - 1)."""
    if "trained_max_delay" in table:
        return table.groupby("run", sort=False)["trained_max_delay"].first()
    trained = table[table["trained"].astype(bool)]
    return trained.groupby("run", sort=False)["delay"].max() + 1


def _mark_trained(ax, table: pd.DataFrame, label: bool = True) -> None:
    """The trained range: one dashed line at T_max (the trained delays shaded) where every network
    shares it, else a line per curriculum and T_max in the curriculum's colour."""
    by_run = table.groupby("run", sort=False)["curriculum"].first().to_frame().assign(t_max=trained_max_delay(table))
    values = sorted(by_run["t_max"].dropna().unique())
    if len(values) == 1:
        t = values[0]
        ax.axvspan(table["delay"].min(), t, color="0.5", alpha=0.1, lw=0)
        ax.axvline(t, color="0.3", ls="--", lw=0.9,
                   label="T_max: trained delays below it (shaded), untrained from it" if label else None)
        return
    for (curriculum, t), _ in by_run.dropna().groupby(["curriculum", "t_max"], sort=False):
        ax.axvline(t, color=CURRICULUM_COLORS.get(curriculum, "k"), ls="--", lw=0.9,
                   label=f"T_max = {t:g}, {_name(curriculum)}" if label else None)


def _chance(ax, table: pd.DataFrame, label: bool = True) -> None:
    """Chance, 1 / (n_classes - 1) (a guess among the image classes; null is never the answer), dotted:
    one grey line where every network has the same vocabulary, else one per curriculum."""
    if "n_classes" not in table or table["n_classes"].isna().all():
        return
    per = table.groupby("curriculum", sort=False)["n_classes"].agg(lambda v: sorted(set(v.dropna())))
    values = sorted({c for v in per for c in v})
    if len(values) == 1:
        ax.axhline(1 / (values[0] - 1), color="0.3", ls=":", lw=1,
                   label=f"chance (1/{values[0] - 1:g})" if label else None)
        return
    for curriculum, classes in per.items():
        for c in classes:
            ax.axhline(1 / (c - 1), color=CURRICULUM_COLORS.get(curriculum, "k"), ls=":", lw=1,
                       label=f"chance, {_name(curriculum)} (1/{c - 1:g})" if label else None)


def recall_extrapolation(table: pd.DataFrame) -> plt.Figure:
    """Claim 1: recall against the delay, per curriculum (mean ± s.d. across networks), beyond the
    trained T_max (dashed line); dotted: chance. Right: the share of the steps before t_a at which
    the networks correctly said nothing (null), which falls when a network answers too early.
    ``table``: ``extrapolation.csv`` of one task (``curriculum, run, delay, accuracy,
    null_accuracy, trained``; ``trained_max_delay``, ``n_classes`` where present)."""
    null = "null_accuracy" in table and table["null_accuracy"].notna().any()
    fig, axes = plt.subplots(1, 2 if null else 1, figsize=(12, 4.8) if null else (7.5, 4.8), squeeze=False,
                             gridspec_kw={"width_ratios": [1.7, 1]} if null else None, layout="constrained")
    ax = axes[0][0]
    for column, where in [("accuracy", ax)] + ([("null_accuracy", axes[0][1])] if null else []):
        stats = per_network(table, ["delay"], column)
        for curriculum in _curricula(stats):
            s = stats[stats["curriculum"] == curriculum].sort_values("delay")
            mean_sd_band(where, s["delay"], s["mean"], s["sd"], color=CURRICULUM_COLORS.get(curriculum, "k"),
                         alpha=0.18, style="-", label=f"{_name(curriculum)}: {_networks(int(s['count'].max()))}")
        _mark_trained(where, table, label=where is ax)
        where.set(xlabel=DELAY_LABEL, ylim=(-0.02, 1.02))
        where.xaxis.set_major_locator(MaxNLocator(integer=True))
        where.grid(alpha=0.3)
    _chance(ax, table)
    ax.set(ylabel="recall accuracy at $t_a$", title="Recall beyond the trained delays (mean ± s.d. across networks)")
    if null:
        axes[0][1].set(ylabel="null accuracy before $t_a$", title="Saying nothing until asked")
    _legend_below(fig, ax)
    return fig


SPEED_AXES = {"slow_point_q": ("log$_{10}$ q at the slow point", "slow point (finder from the class's seed)"),
              "centre_q": ("log$_{10}$ q at the class centre of mass", "class centre of mass (memory states)")}


def recall_slow_points(classes: pd.DataFrame) -> plt.Figure:
    """Claim 2: each class's recall over the untrained delays against log10 of its speed q, one
    panel per speed (the slow point the finder reached from the class's seed; the class's centre
    of mass of the memory states), colour by curriculum; dotted: chance. On the slow-point panel,
    filled markers: the finder converged; open: q where it stopped. Classes without a speed (no seed
    read out correctly: no slow point) are counted in the panel's title. ``classes``:
    ``recall_slow_points.csv`` of one task."""
    speeds = [s for s in SPEED_AXES if s in classes and (classes[s] > 0).any()]
    fig, axes = plt.subplots(1, len(speeds), figsize=(5.6 * len(speeds), 4.9), squeeze=False, sharey=True,
                             layout="constrained")
    recalled = classes["extrapolation_accuracy"].notna()
    stopped = False  # some slow point drawn where the finder had not converged
    for i, (ax, speed) in enumerate(zip(axes[0], speeds)):
        have = recalled & (classes[speed] > 0)
        for curriculum in _curricula(classes):
            g = classes[have & (classes["curriculum"] == curriculum)]
            color = CURRICULUM_COLORS.get(curriculum, "k")
            k = classes.loc[classes["curriculum"] == curriculum, "run"].nunique()
            label = f"{_name(curriculum)}: {_networks(k)}"
            x, y = np.log10(g[speed]), g["extrapolation_accuracy"]
            done = g["converged"].astype(bool).to_numpy() if speed == "slow_point_q" and "converged" in g else \
                np.ones(len(g), bool)
            stopped |= bool((~done).any())
            ax.scatter(x[done], y[done], s=22, color=color, alpha=0.8, label=label)
            ax.scatter(x[~done], y[~done], s=22, facecolors="none", edgecolors=color, alpha=0.8)
        _chance(ax, classes, label=i == 0)
        axis, what = SPEED_AXES[speed]
        ax.set(xlabel=f"{axis} (q in state units²)",
               title=f"{what}\n{int(have.sum())} of {int(recalled.sum())} classes have one")
        ax.grid(alpha=0.3)
    axes[0][0].set(ylabel="recall over the untrained delays", ylim=(-0.02, 1.02))
    extra: tuple[list, list] = ([], [])
    if stopped:
        from matplotlib.lines import Line2D

        extra = ([Line2D([], [], ls="", marker="o", mfc="none", mec="0.3")],
                 ["open: the finder did not converge (q where it stopped)"])
    _legend_below(fig, axes[0][0], extra=extra)
    fig.suptitle("Slower memory states, longer memory? One point per class and network", fontsize=10)
    return fig


def recall_speed_regularization(curves: pd.DataFrame, summary: pd.DataFrame | None = None) -> plt.Figure:
    """Claim 3: recall against the delay of the trained network and of its two fine-tunings (λ = 0
    control, speed-regularised), one panel per curriculum, mean ± s.d. across networks; dashed
    line: T_max. With ``summary`` (``speed_regularization_summary.csv``), a last panel: the mean
    over classes of log10 q at the class centres per network, mean ± s.d. across networks (the
    regularisation should lower it). ``curves``: ``speed_regularization_extrapolation.csv`` of one
    task (``curriculum, run, network, delay, accuracy, trained``)."""
    curricula = _curricula(curves)
    q_panel = summary is not None and "centre_log10_q_mean" in summary and summary["centre_log10_q_mean"].notna().any()
    panels = len(curricula) + int(q_panel)
    ncols = 2 if panels == 4 else panels
    nrows = -(-panels // ncols)
    fig, grid = plt.subplots(nrows, ncols, figsize=(5.4 * ncols, 3.9 * nrows + 0.6), squeeze=False,
                             layout="constrained")
    axes = grid.ravel()
    stats = per_network(curves, ["network", "delay"], "accuracy")
    for ax, curriculum in zip(axes, curricula):
        s = stats[stats["curriculum"] == curriculum]
        for network, (color, style, name) in NETWORK_STYLES.items():
            n = s[s["network"] == network].sort_values("delay")
            if not n.empty:
                mean_sd_band(ax, n["delay"], n["mean"], n["sd"], color=color, style=style, alpha=0.15, label=name)
        rows = curves[curves["curriculum"] == curriculum]
        _mark_trained(ax, rows.assign(curriculum="all"))
        t_max = sorted(trained_max_delay(rows).dropna().unique())
        k = rows["run"].nunique()
        ax.set(xlabel=DELAY_LABEL, ylabel="recall accuracy at $t_a$", ylim=(-0.02, 1.02),
               title=f"{_name(curriculum)}: {_networks(k)}, T_max = {', '.join(f'{t:g}' for t in t_max)}")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if q_panel:
        ax = axes[len(curricula)]
        q = per_network(summary, ["network"], "centre_log10_q_mean")
        offset = 0.22
        for j, (network, (color, _, name)) in enumerate(NETWORK_STYLES.items()):
            rows = q[q["network"] == network].set_index("curriculum").reindex(curricula)
            ax.errorbar(np.arange(len(curricula)) + (j - 1) * offset, rows["mean"], rows["sd"].fillna(0), fmt="o",
                        ms=6, capsize=3, color=color)
        ax.set_xticks(range(len(curricula)), [_name(c) for c in curricula], fontsize=8)
        ax.set_xlim(-0.6, len(curricula) - 0.4)
        ax.set(ylabel="mean log$_{10}$ q at the class centres",
               title="speed at the class centres (lower: slower)\nerror bars: ± s.d. across networks")
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[panels:]:
        ax.set_visible(False)
    _legend_below(fig, axes[0], ncol=4)
    fig.suptitle("Speed regularisation: fine-tuned with λ·Σq at the class centres against λ = 0 (mean ± s.d. "
                 "across networks)", fontsize=10)
    return fig
