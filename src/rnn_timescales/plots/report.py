"""The report's figures, one function each. Every function takes tables made by
:mod:`rnn_timescales.experiments.report` and returns a matplotlib Figure; saving is the caller's job.

Aggregate tables have one row per condition and x value: ``condition, <x>, mean, lo, hi, n``
(``lo``/``hi``: the spread drawn as a band or error bar). Conditions are coloured in the order of
``colors`` (condition -> matplotlib colour), the same in every figure of a report.

Timescales below one step (``mean < 1``) cannot be resolved by an autocorrelation sampled at integer
lags, so they are never placed on a log axis as numbers: they are drawn as open markers in a strip
below the axis labelled "below one step", and a panel with nothing above one step says so in words.

Distribution tables (per-neuron quantiles per condition and N, made by
:func:`rnn_timescales.experiments.report.neuron_quantiles`) have ``condition, n_max, q10, q25, q50,
q75, q90, neurons``; they are drawn as quantile bands (10–90 % light, 25–75 % darker, median line).

One short, independent function per figure of the report's page and the few drawing helpers they
share; the figures of the robustness and delayed-recall sections (across runs) are in
:mod:`rnn_timescales.plots.report_robustness`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter
import numpy as np
import pandas as pd

from rnn_timescales.plots.bands import line_with_band

ONE_STEP = 1.0


def _legend(ax, **kw) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=7, **kw)


def _band(ax, table: pd.DataFrame, x: str, colors: dict[str, str], step: bool = False) -> None:
    for condition, t in table.groupby("condition", sort=False):
        t = t.sort_values(x)
        c = colors.get(condition, "k")
        line_with_band(ax, t[x], t["mean"], t["lo"], t["hi"], color=c, label=f"{condition} (n={int(t['n'].max())})",
                       step=step, band=bool((t["n"] > 1).any()))


def plot_progress(by_epoch: pd.DataFrame, by_time: pd.DataFrame, colors: dict[str, str], spread: str,
                  title: str | None = None):
    """Largest N solved against epochs (left) and wall time in minutes (right), mean across runs
    with the spread as a band. ``by_epoch``: ``condition, epoch, mean, lo, hi, n``;
    ``by_time``: ``condition, wall_time_s, ...``."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6), sharey=True)
    _band(axes[0], by_epoch, "epoch", colors, step=True)
    t = by_time.assign(minutes=by_time["wall_time_s"] / 60)
    _band(axes[1], t, "minutes", colors, step=True)
    axes[0].set_xlabel("epoch")
    axes[1].set_xlabel("wall time (min)")
    axes[0].set_ylabel("largest N solved")
    axes[0].yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_title(f"mean, band: {spread}", fontsize=8)
    _legend(axes[0], loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _timescale_axes(fig, spec):
    """A log-scaled axis for timescales >= 1 step over a thin strip for those below."""
    inner = spec.subgridspec(2, 1, height_ratios=[6, 1], hspace=0.05)
    ax = fig.add_subplot(inner[0])
    strip = fig.add_subplot(inner[1], sharex=ax)
    strip.set_facecolor("0.93")
    strip.set_yticks([])
    strip.set_ylim(0, 1)
    strip.set_ylabel("< 1\nstep", rotation=0, fontsize=7, ha="right", va="center")
    strip.xaxis.set_major_locator(MaxNLocator(integer=True))
    plt.setp(ax.get_xticklabels(), visible=False)
    return ax, strip


def _draw_timescales(ax, strip, table: pd.DataFrame, colors: dict[str, str], marker: str = "o") -> bool:
    """Mean (line, markers) and spread (error bars) per condition against N; means below one step go
    to the strip. Returns whether anything was below one step."""
    below_any = False
    top = ONE_STEP * 2
    conditions = list(dict.fromkeys(table["condition"]))
    for condition, t in table.groupby("condition", sort=False):
        t = t.sort_values("n_max")
        c = colors.get(condition, "k")
        above = t["mean"] >= ONE_STEP
        shown = t[above]
        if len(shown):
            down = np.clip(shown["mean"] - shown["lo"], 0, None)
            down = np.minimum(down, shown["mean"] - ONE_STEP * 0.999)  # a bar never reaches below the axis
            up = np.clip(shown["hi"] - shown["mean"], 0, None)
            ax.errorbar(shown["n_max"], shown["mean"], yerr=[down, up], color=c, marker=marker, ms=4, capsize=2,
                        lw=1.2, label=f"{condition} (n={int(t['n'].max())})")
            top = max(top, float(np.nanmax(shown["hi"])))
        below = t[~above & t["mean"].notna()]
        if len(below):
            below_any = True
            row = (conditions.index(condition) + 1) / (len(conditions) + 1)  # one row per condition: no overlap
            strip.plot(below["n_max"], np.full(len(below), row), linestyle="none", marker=marker, mfc="none", color=c,
                       ms=5, label=None if len(shown) else f"{condition} (n={int(t['n'].max())})")
            if not len(shown):
                ax.plot([], [], linestyle="none", marker=marker, mfc="none", color=c,
                        label=f"{condition} (n={int(t['n'].max())}, below one step)")
    if below_any and not (table["mean"] >= ONE_STEP).any():
        values = table["mean"].dropna()
        ax.text(0.5, 0.5, f"below one step at every N\n({values.min():.2g}–{values.max():.2g} steps; strip below)",
                transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.3")
        ax.set_yticks([])
        ax.set_xlim(float(table["n_max"].min()) - 0.5, float(table["n_max"].max()) + 0.5)
        return below_any
    ax.set_yscale("log")
    ax.set_ylim(ONE_STEP, top * 1.3)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(plain if top * 1.3 < 10 * ONE_STEP else NullFormatter())
    return below_any


def plot_timescale_vs_n(table: pd.DataFrame, colors: dict[str, str], ylabel: str, title: str):
    """One timescale (steps) against N per condition: ``table`` = ``condition, n_max, mean, lo,
    hi, n``; means below one step are drawn in the strip below the axis."""
    fig = plt.figure(figsize=(5.2, 4))
    ax, strip = _timescale_axes(fig, fig.add_gridspec(1, 1)[0])
    _draw_timescales(ax, strip, table, colors)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    strip.set_xlabel("N (largest N of the checkpoint)")
    _legend(ax)
    fig.tight_layout()
    return fig


def _n_axis(ax, ns) -> None:
    """x = N: ticks at the N drawn when there are few, integer ticks otherwise; one N gets a margin."""
    ns = sorted({int(n) for n in pd.Series(ns).dropna()})
    if not ns:
        return
    if len(ns) <= 12:
        ax.set_xticks(ns)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(ns) == 1:
        ax.set_xlim(ns[0] - 1, ns[0] + 1)


def _quantile_bands(ax, dist: pd.DataFrame, colors: dict[str, str], label: str) -> None:
    """Per condition: 10–90 % band, 25–75 % band and the median of the neurons against N."""
    for condition, t in dist.groupby("condition", sort=False):
        t = t.sort_values("n_max")
        c = colors.get(condition, "k")
        if len(t) == 1:  # a band needs two N: one N is drawn as a box plot without whiskers' caps
            ax.vlines(t["n_max"], t["q10"], t["q90"], color=c, alpha=0.35, lw=3)
            ax.vlines(t["n_max"], t["q25"], t["q75"], color=c, alpha=0.6, lw=9)
        ax.fill_between(t["n_max"], t["q10"], t["q90"], color=c, alpha=0.12, lw=0)
        ax.fill_between(t["n_max"], t["q25"], t["q75"], color=c, alpha=0.3, lw=0)
        ax.plot(t["n_max"], t["q50"], color=c, lw=1, ls="--", marker=".", ms=4,
                label=f"{condition}: {label}" if label else condition)


def _fit_limits(ax, values: list, log: bool = False, floor: float | None = None) -> None:
    v = np.concatenate([np.asarray(x, dtype=float).ravel() for x in values if len(x)]) if values else np.array([])
    v = v[np.isfinite(v)]
    if not v.size:
        return
    lo, hi = float(v.min()), float(v.max())
    if log:
        lo, hi = max(lo / 1.15, floor or 0), hi * 1.15
    else:
        pad = max(0.08 * (hi - lo), 0.02 * max(abs(hi), 1e-9), 1e-3)  # noise never fills the axis
        lo, hi = lo - pad, hi + pad
        if floor is not None:
            lo = max(lo, floor)
    ax.set_ylim(lo, hi)


def plot_trained_tau_vs_n(means: pd.DataFrame, dist: pd.DataFrame, colors: dict[str, str], spread: str):
    """Trained tau against N, two panels on linear axes fitted to the data (the forward pass uses
    max(tau, 1), so nothing below one step needs a strip): left, each network's mean over its
    neurons, mean and ``spread`` across networks; right, the neurons' distribution (pooled over a
    condition's networks) as quantile bands. ``means``: ``condition, n_max, mean, lo, hi, n``;
    ``dist``: a distribution table (may be empty)."""
    panels = 2 if len(dist) else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 3.8), squeeze=False)
    ax = axes[0][0]
    for condition, t in means.groupby("condition", sort=False):
        t = t.sort_values("n_max")
        c = colors.get(condition, "k")
        ax.errorbar(t["n_max"], t["mean"], yerr=[t["mean"] - t["lo"], t["hi"] - t["mean"]], color=c, marker="o",
                    ms=4, capsize=2, label=f"{condition} (n={int(t['n'].max())})")
        for x, y in zip(t["n_max"].iloc[[0, -1]], t["mean"].iloc[[0, -1]]):
            ax.annotate(f"{y:.3g}", (x, y), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7, color=c)
    _fit_limits(ax, [means["lo"], means["hi"], means["mean"]])
    ax.set_ylabel(r"mean trained $\tau$ (steps)")
    ax.set_title(f"network mean; mean ± {spread} across networks", fontsize=8)
    if panels == 2:
        ax2 = axes[0][1]
        _quantile_bands(ax2, dist, colors, "median neuron")
        _fit_limits(ax2, [dist["q10"], dist["q90"]])
        ax2.set_ylabel(r"trained $\tau$ per neuron (steps)")
        ax2.set_title("neurons: median (dashed), 25–75 % and 10–90 % bands", fontsize=8)
        _legend(ax2)
    for a in axes[0]:
        a.set_xlabel("N (largest N of the checkpoint)")
        _n_axis(a, means["n_max"])
        a.ticklabel_format(axis="y", useOffset=False)
    _legend(ax)
    fig.tight_layout()
    return fig


def plot_tau_net_distribution(dist_above: pd.DataFrame, share: pd.DataFrame, paper: pd.DataFrame,
                              ours: pd.DataFrame, colors: dict[str, str], spread: str):
    """tau_net against N as a researcher reads it, two panels. Left: the neurons that have memory
    (tau_net > 1 step), their tau_net as quantile bands (pooled over a condition's networks) on a log
    axis fitted to them, with the paper's figures' aggregation (their mean per network, mean ± s.d.
    across networks) as diamonds and ours (the median of all neurons per network) where it is at
    least one step. Right: the share of neurons with tau_net <= 1 step per network, mean and
    ``spread`` across networks; above 50 % the median neuron (ours) is below one step.
    ``dist_above``: a distribution table; ``share``, ``paper``, ``ours``: aggregate tables."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.4, 3.9))
    if len(dist_above):
        _quantile_bands(ax, dist_above, colors, None)
    for i, (condition, t) in enumerate(paper.groupby("condition", sort=False)):
        t = t.sort_values("n_max").dropna(subset=["mean"])
        c = colors.get(condition, "k")
        ax.errorbar(t["n_max"], t["mean"], yerr=[t["mean"] - t["lo"], t["hi"] - t["mean"]], color=c, marker="D",
                    ms=4, lw=0, elinewidth=1, capsize=2, label="their mean (paper's figures)" if i == 0 else None)
    labelled = False
    for condition, t in ours.groupby("condition", sort=False):
        t = t[t["mean"] >= ONE_STEP].sort_values("n_max")
        if len(t):
            ax.plot(t["n_max"], t["mean"], color=colors.get(condition, "k"), marker="s", mfc="none", ls=":",
                    label=None if labelled else "median of all neurons (ours)")
            labelled = True
    if len(dist_above) or len(paper):
        shown = [dist_above.get("q10", []), dist_above.get("q90", []), paper.get("lo", []), paper.get("hi", []),
                 ours["mean"][ours["mean"] >= ONE_STEP]]
        top = max((float(np.nanmax(np.asarray(v, dtype=float))) for v in shown if len(v)), default=ONE_STEP)
        log = top > 4 * ONE_STEP  # a log axis only where the values span a factor of four or more
        if log:
            ax.set_yscale("log")
        _fit_limits(ax, shown, log=log, floor=ONE_STEP)
        if log:
            plain = FuncFormatter(lambda v, _: f"{v:g}")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain if ax.get_ylim()[1] < 10 * ONE_STEP else NullFormatter())
    else:
        ax.text(0.5, 0.5, "no neuron has τ_net above one step", transform=ax.transAxes, ha="center", va="center")
    ax.set_ylabel(r"$\tau_{net}$ of neurons with $\tau_{net}$ > 1 step")
    ax.set_title("neurons with memory: median (dashed), 25–75 % and 10–90 % bands", fontsize=8)
    _legend(ax)
    for condition, t in share.groupby("condition", sort=False):
        t = t.sort_values("n_max")
        c = colors.get(condition, "k")
        ax2.errorbar(t["n_max"], 100 * t["mean"], yerr=[100 * (t["mean"] - t["lo"]), 100 * (t["hi"] - t["mean"])],
                     color=c, marker="o", ms=4, capsize=2, label=f"{condition} (n={int(t['n'].max())})")
    ax2.axhline(50, color="0.5", lw=0.8, ls="--")
    ax2.text(0.01, 51, "above: the median neuron's τ_net (ours) is below one step", transform=ax2.get_yaxis_transform(),
             fontsize=7, color="0.35", va="bottom")
    ax2.set_ylim(0, 100)
    ax2.set_ylabel(r"neurons with $\tau_{net}$ ≤ 1 step (%)")
    ax2.set_title(f"share below one step per network; mean ± {spread} across networks", fontsize=8)
    _legend(ax2, loc="lower right")
    for a in (ax, ax2):
        a.set_xlabel("N")
        _n_axis(a, pd.concat([share.get("n_max", pd.Series(dtype=float)), dist_above.get("n_max", pd.Series(dtype=float)),
                              paper.get("n_max", pd.Series(dtype=float))]))
    fig.tight_layout()
    return fig


def plot_tau_net_vs_n(ours: pd.DataFrame, paper: pd.DataFrame, colors: dict[str, str], spread: str):
    """tau_net against N aggregated two ways, side by side: ours (per-network median of the neurons'
    tau_net, mean and ``spread`` across networks) and the paper's figures' (neurons with tau_net <= 1
    dropped, per-network mean, mean +- s.d. across networks)."""
    fig = plt.figure(figsize=(10, 4))
    gs = fig.add_gridspec(1, 2, wspace=0.3)
    for spec, table, title in ((gs[0], ours, f"ours: median per network, mean ± {spread} across networks"),
                               (gs[1], paper, "paper's figures: τ_net ≤ 1 dropped, mean per network,\n"
                                              "mean ± s.d. across networks")):
        ax, strip = _timescale_axes(fig, spec)
        _draw_timescales(ax, strip, table, colors)
        ax.set_title(title, fontsize=8)
        ax.set_ylabel(r"$\tau_{net}$ (steps)")
        strip.set_xlabel("N")
        _legend(ax)
    return fig


def plot_collective_vs_n(jacobian: pd.DataFrame, population: pd.DataFrame, colors: dict[str, str], spread: str):
    """Collective timescales against N: the slowest mode of the linearised dynamics (median over
    operating points per network) and the population activity's tau_net, mean and ``spread``."""
    fig = plt.figure(figsize=(10, 4))
    gs = fig.add_gridspec(1, 2, wspace=0.3)
    for spec, table, ylabel in ((gs[0], jacobian, "slowest Jacobian mode (steps)"),
                                (gs[1], population, r"population $\tau_{net}$ (steps)")):
        ax, strip = _timescale_axes(fig, spec)
        below = _draw_timescales(ax, strip, table, colors, marker="s")
        ax.set_ylabel(ylabel)
        ax.set_title(f"mean ± {spread} across networks", fontsize=8)
        bottom = strip
        if not below:  # nothing below one step: no empty strip
            strip.set_visible(False)
            ax.tick_params(labelbottom=True)
            bottom = ax
        bottom.set_xlabel("N")
        _n_axis(bottom, pd.concat([jacobian["n_max"], population["n_max"]]))
        _legend(ax)
    return fig


def plot_dimensionality_vs_n(table: pd.DataFrame, colors: dict[str, str], spread: str):
    """Principal components for 90 % of the variance (counted from 1) against N."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for condition, t in table.groupby("condition", sort=False):
        t = t.sort_values("n_max")
        c = colors.get(condition, "k")
        ax.errorbar(t["n_max"], t["mean"], yerr=[t["mean"] - t["lo"], t["hi"] - t["mean"]], color=c, marker="o",
                    ms=4, capsize=2, label=f"{condition} (n={int(t['n'].max())})")
    ax.set_xlabel("N")
    ax.set_ylabel("dimensionality (PCs for 90 % variance)")
    _n_axis(ax, table["n_max"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    low, high = float(table["lo"].min()), float(table["hi"].max())
    if np.isfinite(low) and high - low < 2:  # a count: a few components either side
        ax.set_ylim(max(0, low - 1), high + 1)
    ax.set_title(f"mean ± {spread} across networks", fontsize=8)
    _legend(ax)
    fig.tight_layout()
    return fig


def plot_measure_vs_n(table: pd.DataFrame, colors: dict[str, str], spread: str, ylabel: str):
    """A registered measure's network value against N, per condition (``table``: ``condition,
    n_max, mean, lo, hi, n``): mean ± ``spread`` across networks (the report's panel of a measure
    that has no figure of its own)."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    for condition, t in table.groupby("condition", sort=False):
        t = t.sort_values("n_max")
        ax.errorbar(t["n_max"], t["mean"], yerr=[t["mean"] - t["lo"], t["hi"] - t["mean"]],
                    color=colors.get(condition, "k"), marker="o", ms=4, capsize=2,
                    label=f"{condition} (n={int(t['n'].max())})")
    ax.set_xlabel("N")
    ax.set_ylabel(ylabel)
    _n_axis(ax, table["n_max"])
    ax.set_title(f"mean ± {spread} across networks", fontsize=8)
    _legend(ax)
    fig.tight_layout()
    return fig


def plot_tau_during_training(table: pd.DataFrame, colors: dict[str, str], spread: str):
    """Mean trained tau of the network against epochs (``table``: ``condition, epoch, mean, lo, hi, n``)."""
    fig, ax = plt.subplots(figsize=(5.2, 3.6))
    _band(ax, table, "epoch", colors)
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"mean trained $\tau$ (steps)")
    ax.ticklabel_format(axis="y", useOffset=False)
    _fit_limits(ax, [table["lo"], table["hi"], table["mean"]])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"mean over neurons; across runs: mean ± {spread}", fontsize=8)
    _legend(ax)
    fig.tight_layout()
    return fig


def plot_accuracy_per_head(heads: pd.DataFrame, runs: list[str], max_panels: int = 12):
    """Accuracy of every head against epochs, one panel per run (the first ``max_panels``), as an
    image: x = epoch, y = the head's N, colour = accuracy (blank: head not trained that epoch).
    ``heads``: ``run, epoch, n, accuracy``."""
    runs = runs[:max_panels]
    cols = min(3, len(runs))
    rows = int(np.ceil(len(runs) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False, layout="constrained")
    image = None
    for ax, run in zip(axes.flat, runs):
        h = heads[heads["run"] == run]
        grid = h.pivot_table(index="n", columns="epoch", values="accuracy", aggfunc="mean")
        if grid.size:
            image = ax.imshow(grid.to_numpy(), aspect="auto", origin="lower", vmin=0.5, vmax=1.0, cmap="viridis",
                              interpolation="nearest",
                              extent=(grid.columns.min() - 0.5, grid.columns.max() + 0.5,
                                      grid.index.min() - 0.5, grid.index.max() + 0.5))
        ax.set_title(run, fontsize=7)
        ax.set_xlabel("epoch", fontsize=7)
        ax.set_ylabel("head's N", fontsize=7)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(runs):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes.ravel().tolist(), label="accuracy", shrink=0.8)
    return fig
