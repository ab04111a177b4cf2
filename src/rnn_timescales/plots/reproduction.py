"""Figures of the reproduction (docs/reproduction.md), drawn from the committed result tables alone.

Every function takes the tables of ``results/k24`` (``timescales.csv``: one row per network and N;
``curves.csv``: one row per run and epoch) and returns a matplotlib Figure. Across networks the
paper's convention is kept: a value per network first, then the mean ± s.d. across networks.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rnn_timescales.plots.bands import mean_sd_band  # noqa: E402

CURRICULUM_COLORS = {"single": "#d62728", "multi": "#1f77b4", "sliding": "#2ca02c", "fixed": "#7f7f7f",
                     "delay": "#9467bd", "vocabulary": "#ff7f0e", "none": "#8c564b"}
CURRICULUM_NAMES = {"single": "single-head", "multi": "multi-head", "sliding": "sliding", "fixed": "fixed N",
                    "delay": "delay (DeCu)", "vocabulary": "vocabulary (VoCu)", "none": "no curriculum"}


def _groups(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    order = [c for c in CURRICULUM_COLORS if c in set(table["curriculum"])]
    order += sorted(set(table["curriculum"]) - set(order))
    return [(c, table[table["curriculum"] == c]) for c in order]


def _mean_sd(group: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per N: mean and s.d. across networks of ``column``, and the number of networks."""
    g = group.dropna(subset=[column]).groupby("n")[column]
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "count": g.count()}).reset_index()


def _band(ax, group: pd.DataFrame, column: str, color: str, label: str | None, style: str = "-") -> None:
    stats = _mean_sd(group, column)
    if stats.empty:
        return
    mean_sd_band(ax, stats["n"], stats["mean"], stats["sd"], color=color, label=label, style=f"o{style}", alpha=0.15)


def _neuron_band(ax, group: pd.DataFrame, low: str, high: str, color: str) -> None:
    """The per-neuron spread: the networks' mean of each quantile, as two thin dotted lines."""
    if low not in group or high not in group:
        return
    q = group.groupby("n")[[low, high]].mean().reset_index()
    for column in (low, high):
        ax.plot(q["n"], q[column], ":", color=color, lw=1, alpha=0.7)


def _networks_note(table: pd.DataFrame) -> str:
    counts = table.groupby("curriculum")["seed"].nunique()
    return ", ".join(f"{CURRICULUM_NAMES.get(c, c)}: {k} network{'s' if k != 1 else ''}" for c, k in counts.items())


def timescales_vs_n(table: pd.DataFrame, title: str | None = None) -> plt.Figure:
    """The headline figure: trained tau and tau_net against N, single- against multi-head.

    Left: trained tau (mean per network; dotted: the neurons' 25 % and 75 % quantiles). Middle: tau_net as the
    paper's figures show it (its AIC estimator; neurons at or below one step dropped, mean per
    network). Right: tau_net by our estimator (median over all neurons, solid; the paper's
    aggregation, dashed) and, on the right axis, the share of neurons at or below one step.
    Lines: mean across networks; bands: ± s.d. across networks.
    """
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.6), constrained_layout=True)
    for curriculum, group in _groups(table):
        color, name = CURRICULUM_COLORS.get(curriculum, "k"), CURRICULUM_NAMES.get(curriculum, curriculum)
        _band(axes[0], group, "tau_mean", color, name)
        _neuron_band(axes[0], group, "tau_q25", "tau_q75", color)
        _band(axes[1], group, "tau_net_paper_mean_aic", color, name)
        _band(axes[2], group, "tau_net_median", color, f"{name}, median")
        _band(axes[2], group, "tau_net_paper_mean", color, f"{name}, mean of > 1 step", style="--")
    axes[0].set(xlabel="N", ylabel="trained τ (steps)", title="single-neuron timescale τ\n(dotted: neurons' 25–75 %)")
    axes[1].set(xlabel="N", ylabel="τ_net (steps)", title="τ_net, the paper's way\n(AIC fit; mean of neurons > 1 step)")
    axes[2].set(xlabel="N", ylabel="τ_net (steps)", title="τ_net, our estimator\n(parsimonious fit)")
    share = axes[2].twinx()
    for curriculum, group in _groups(table):
        stats = _mean_sd(group, "tau_net_dropped")
        share.plot(stats["n"], stats["mean"], ":", color=CURRICULUM_COLORS.get(curriculum, "k"), lw=1)
    share.set_ylim(0, 1)
    share.set_ylabel("share of neurons ≤ 1 step (dotted)")
    for ax in axes:
        ax.grid(alpha=0.3)
    from matplotlib.lines import Line2D

    # every line style in a legend; the legends under the panels, where no curve or twin axis covers them
    handles, labels = axes[0].get_legend_handles_labels()
    handles.append(Line2D([], [], ls=":", color="0.3", lw=1))
    labels.append("neurons' 25 % and 75 % quantiles")
    axes[0].legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    axes[1].legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    handles, labels = axes[2].get_legend_handles_labels()
    handles.append(Line2D([], [], ls=":", color="0.3", lw=1))
    labels.append("share of neurons ≤ 1 step (right axis)")
    axes[2].legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    fig.suptitle(title or f"Timescales against N ({_networks_note(table)}; mean ± s.d. across networks)", fontsize=10)
    return fig


MIN_SLOW_NEURONS = 5
"""Fewer neurons than this with a slow component: its median weight and timescale are not drawn."""


def _few_slow_masked(group: pd.DataFrame) -> pd.DataFrame:
    """``group`` with each estimator's slow-component weight and timescale set to NaN in rows where
    fewer than MIN_SLOW_NEURONS neurons have one (a median of one or two neurons is noise)."""
    group = group.copy()
    for suffix in ("", "_aic"):
        share = f"share_double{suffix}"
        if share not in group or "hidden" not in group:
            continue
        few = group[share] * group["hidden"] < MIN_SLOW_NEURONS
        for column in (f"slow_weight_median{suffix}", f"slow_tau_median{suffix}"):
            if column in group:
                group.loc[few, column] = np.nan
    return group


def estimators_vs_n(table: pd.DataFrame) -> plt.Figure:
    """The estimator question: what each estimator calls a slow component, beside measures that
    need no model choice, against N. Panels: share of neurons given two exponentials (dotted: with a
    measurable decay after the lag-0 jump); median weight of the slow component; median slow
    timescale (dotted: of the decay after the jump); integrated autocorrelation time and the
    slowest Jacobian mode (no fit). A slow component's weight and timescale are drawn only where at
    least MIN_SLOW_NEURONS neurons have one."""
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8), constrained_layout=True)
    for curriculum, group in _groups(table):
        color, name = CURRICULUM_COLORS.get(curriculum, "k"), CURRICULUM_NAMES.get(curriculum, curriculum)
        group = _few_slow_masked(group)
        for k, (column, label) in enumerate((("share_double", "share with 2 exponentials"),
                                             ("slow_weight_median", "weight of the slow part"),
                                             ("slow_tau_median", "slow timescale (steps)"))):
            _band(axes[k], group, column + "_aic", color, f"{name}, paper (AIC)")
            _band(axes[k], group, column, color, f"{name}, ours", style="--")
            axes[k].set(xlabel="N", ylabel=label)
        if "tau_jump_none" in group:  # the decay after the lag-0 jump (tables from this version on)
            _band(axes[0], group.assign(jump_measured=1 - group["tau_jump_none"]), "jump_measured", color,
                  f"{name}, a decay after the jump", style=":")
            _band(axes[2], group, "tau_jump_median", color, f"{name}, decay after the jump", style=":")
        _band(axes[3], group, "iat_median", color, f"{name}, integrated AC time")
        _band(axes[3], group, "jacobian_tau_max", color, f"{name}, slowest Jacobian mode", style="-.")
    axes[0].set_ylim(0, 1)
    axes[0].set_title("neurons with a slow component")
    axes[1].set_title("its weight (median)")
    axes[2].set_title("its timescale (median)")
    axes[2].legend(fontsize=7)
    axes[3].set(xlabel="N", ylabel="steps", title="no model choice")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    axes[3].legend(fontsize=7)
    return fig


def dynamics_vs_n(table: pd.DataFrame) -> plt.Figure:
    """Population tau_net, the slowest Jacobian mode and the dimensionality (PCs for 90 % of the
    variance) against N. A population tau_net below 0.1 step (ringed) means the fit leaves no
    correlation at lag 1: the summed activity decorrelates (or anticorrelates) within one step."""
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 3.6), constrained_layout=True)
    for curriculum, group in _groups(table):
        color, name = CURRICULUM_COLORS.get(curriculum, "k"), CURRICULUM_NAMES.get(curriculum, curriculum)
        _band(axes[0], group, "population_tau_net", color, name)
        _band(axes[1], group, "jacobian_tau_max", color, name)
        _band(axes[2], group, "dimensionality", color, name)
    pop = table[table["population_tau_net"] < 0.1] if "population_tau_net" in table else table.iloc[:0]
    if not pop.empty:  # exp(-1/0.1) < 1e-4: the fit leaves no correlation at lag 1 (e.g. it is negative there)
        axes[0].scatter(pop["n"], pop["population_tau_net"], s=40, facecolors="none", edgecolors="k", zorder=3,
                        label="< 0.1: no correlation left at lag 1")
    axes[0].set(xlabel="N", ylabel="steps", title="population τ_net (summed activity)")
    axes[1].set(xlabel="N", ylabel="steps", title="slowest Jacobian mode")
    axes[2].set(xlabel="N", ylabel="principal components", title="dimensionality (90 % variance)")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return fig


def n_vs_steps(curves: pd.DataFrame, budget: int | None = None) -> plt.Figure:
    """Largest N solved against training steps, one line per run, coloured by curriculum (dashed:
    tau fixed at 1, dotted: fixed at another value). ``curves``: run, curriculum, train_tau,
    tau_fixed, step, n_solved. ``budget`` (steps; the fixed-tau runs' budget): a second panel shows
    the first ``budget`` steps alone, where trained and fixed tau are compared ([K24] Fig. 4a)."""
    panels = 2 if budget else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.5 * panels, 4.2), squeeze=False, constrained_layout=True)
    for ax in axes[0]:
        seen = set()
        for run, c in curves.groupby("run", sort=False):
            curriculum = c["curriculum"].iloc[0]
            fixed = not bool(c["train_tau"].iloc[0])
            label = CURRICULUM_NAMES.get(curriculum, curriculum) + (f", τ fixed at {c['tau_fixed'].iloc[0]:g}"
                                                                     if fixed else ", τ trained")
            style = ("--" if c["tau_fixed"].iloc[0] == 1 else ":") if fixed else "-"
            ax.step(c["step"] / 1000, c["n_solved"], where="post", ls=style, color=CURRICULUM_COLORS.get(curriculum, "k"),
                    alpha=0.8, label=None if label in seen else label)
            seen.add(label)
        ax.set(xlabel="training steps (thousands)", ylabel="largest N solved")
        ax.grid(alpha=0.3)
    axes[0][0].set_title("Training speed")
    axes[0][0].legend(fontsize=8)
    if budget:
        axes[0][0].axvline(budget / 1000, color="grey", lw=0.8, ls="-.")
        zoom = axes[0][1]
        zoom.set_xlim(0, budget / 1000 * 1.02)
        shown = curves[curves["step"] <= budget]["n_solved"]
        zoom.set_ylim(0, (shown.max() if shown.notna().any() else 2) + 2)
        zoom.set_title(f"The first {budget} steps (the fixed-τ runs' budget)")
    return fig


# --- robustness (results/k24/robustness.csv, forgetting_scores.csv, retrain.csv, continuous.csv) -------
PERTURBATION_TARGETS = {"perturb-w": "W", "perturb-tau": "τ"}
ABLATION_GROUPS = {"none": "intact", "short": "fast", "long": "slow"}
"""The ablation groups of ``robustness.csv`` (the intact network, one of the 20 neurons of shortest
trained tau, one of the 20 longest) and their labels on the bars."""


def per_network(table: pd.DataFrame, by: Sequence[str], column: str) -> pd.DataFrame:
    """Per network (``run``) and ``by``: the mean of ``column`` over repeats and heads; then per
    curriculum and ``by``: mean, s.d. (ddof 1: three networks are a sample) and count across networks, and ``each`` (the
    networks' values in ``run`` order, two decimals). The statistic every robustness figure draws,
    and the report's robustness summary quotes."""
    per = table.dropna(subset=[column]).groupby(["curriculum", "run", *by])[column].mean().reset_index()
    g = per.groupby(["curriculum", *by])[column]
    return pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1), "count": g.count(),
                         "each": g.agg(lambda v: " ".join(f"{x:.2f}" for x in v))}).reset_index()


def _count(stats: pd.DataFrame) -> str:
    k = int(stats["count"].max())
    return f"{k} network{'s' if k != 1 else ''}"


def _paper_label(paper: pd.DataFrame) -> str:
    return f"paper, N = {'/'.join(str(n) for n in sorted(paper['n'].unique()))} ({int(paper['networks'].max())} networks)"


def perturbation(table: pd.DataFrame, paper: pd.DataFrame | None = None) -> plt.Figure:
    """Relative accuracy (accuracy - 1/2) / (intact mean - 1/2) against the perturbation size
    epsilon, one panel per target (W, tau): per network the mean over repeats, then mean ± s.d.
    across networks, per curriculum and N. ``paper`` (``paper_robustness.csv``), where given, is
    drawn beside it: open markers, dashed."""
    kinds = [k for k in PERTURBATION_TARGETS if k in set(table["kind"])]
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 3.9), squeeze=False, constrained_layout=True)
    for ax, kind in zip(axes[0], kinds):
        rows = table[table["kind"] == kind].assign(epsilon=lambda t: t["epsilon_or_group"].astype(float))
        stats = per_network(rows[rows["epsilon"] > 0], ["n", "epsilon"], "relative_accuracy_mean_baseline")
        for (curriculum, n), s in stats.groupby(["curriculum", "n"], sort=False):
            color = CURRICULUM_COLORS.get(curriculum, "k")
            mean_sd_band(ax, s["epsilon"], s["mean"], s["sd"], color=color, alpha=0.15,
                         label=f"{CURRICULUM_NAMES.get(curriculum, curriculum)}, ours, N = {n} ({int(s['count'].max())})")
        if paper is not None:
            p = paper[paper["kind"] == kind].assign(epsilon=lambda t: t["epsilon_or_group"].astype(float))
            for curriculum, s in p[p["epsilon"] > 0].groupby("curriculum", sort=False):
                ax.errorbar(s["epsilon"], s["relative_accuracy_mean"], s["relative_accuracy_sd"], fmt="o--", ms=4,
                            mfc="white", lw=1, capsize=2, color=CURRICULUM_COLORS.get(curriculum, "k"),
                            label=f"{CURRICULUM_NAMES.get(curriculum, curriculum)}, {_paper_label(s)}")
        ax.set_xscale("log")
        ax.axhline(0, color="grey", lw=0.6, ls=":")
        ax.axhline(1, color="grey", lw=0.6, ls=":")
        ax.set(xlabel=f"perturbation size ε of {PERTURBATION_TARGETS[kind]}", ylabel="relative accuracy",
               title=f"perturbing {PERTURBATION_TARGETS[kind]}", ylim=(-0.1, 1.1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Perturbation (mean ± s.d. across networks; count in brackets)", fontsize=10)
    return fig


def ablation(table: pd.DataFrame, paper: pd.DataFrame | None = None) -> plt.Figure:
    """Accuracy with one neuron silenced (the 20 of shortest and the 20 of longest trained tau, each
    alone), beside the intact network: per network the mean over neurons and repeats, then mean ±
    s.d. across networks, per curriculum and N; hatched bars: ``paper``."""
    rows = table[table["kind"] == "ablation"]
    stats = per_network(rows, ["n", "epsilon_or_group"], "accuracy")
    bars = [(f"{CURRICULUM_NAMES.get(c, c)}\nours, N = {n}", c, s.set_index("epsilon_or_group"), "")
            for (c, n), s in stats.groupby(["curriculum", "n"], sort=False)]
    if paper is not None:
        p = paper[paper["kind"] == "ablation"]
        for (c, n), s in p.groupby(["curriculum", "n"], sort=False):
            s = s.rename(columns={"accuracy_mean": "mean", "accuracy_sd": "sd", "networks": "count"})
            bars.append((f"{CURRICULUM_NAMES.get(c, c)}\npaper, N = {n}", c, s.set_index("epsilon_or_group"), "//"))
    bars.sort(key=lambda b: (b[1] != "single", b[0]))
    fig, ax = plt.subplots(figsize=(max(5.5, 1.7 * len(bars)), 3.9), constrained_layout=True)
    width = 0.8 / len(ABLATION_GROUPS)
    for i, (label, curriculum, s, hatch) in enumerate(bars):
        for j, (group, name) in enumerate(ABLATION_GROUPS.items()):
            if group not in s.index:
                continue
            r = s.loc[group]
            ax.bar(i + (j - 1) * width, r["mean"], width, yerr=r["sd"], capsize=2, hatch=hatch, edgecolor="k", lw=0.5,
                   color=CURRICULUM_COLORS.get(curriculum, "k"), alpha=(0.35, 0.65, 1.0)[j])
            ax.text(i + (j - 1) * width, 0.02, name, rotation=90, ha="center", va="bottom", fontsize=6)
    ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
    ax.set_ylim(0, 1.05)  # bars from zero; chance (0.5) marked, not made the floor
    chance = ax.axhline(0.5, color="0.3", ls=":", lw=0.9)
    from matplotlib.patches import Patch

    handles = [chance, Patch(facecolor="white", edgecolor="k", lw=0.5, label="ours")]
    labels = ["chance (0.5)", "ours"]
    if any(b[3] for b in bars):
        handles.append(Patch(facecolor="white", edgecolor="k", lw=0.5, hatch="//"))
        labels.append("the paper's networks")
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_ylabel("accuracy")
    ax.set_title("Ablating one neuron: intact, one of the 20 fastest, one of the 20 slowest\n"
                 "(mean over neurons, then mean ± s.d. across networks)", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    return fig


def forgetting(scores: pd.DataFrame) -> plt.Figure:
    """Mean accuracy on every earlier N (``retained``, from ``forgetting_scores.csv``) of each
    checkpoint against the largest N it was trained to: mean ± s.d. across networks per curriculum."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    stats = per_network(scores.rename(columns={"checkpoint_n": "n_ckpt"}), ["n_ckpt"], "retained")
    for curriculum, s in stats.groupby("curriculum", sort=False):
        color = CURRICULUM_COLORS.get(curriculum, "k")
        mean_sd_band(ax, s["n_ckpt"], s["mean"], s["sd"], color=color, alpha=0.15,
                     label=f"{CURRICULUM_NAMES.get(curriculum, curriculum)} ({_count(s)})")
    ax.axhline(0.5, color="grey", lw=0.6, ls=":")
    ax.set(xlabel="trained up to N", ylabel="mean accuracy on every earlier N", ylim=(0.45, 1.02),
           title="Forgetting (multi-head: each N by its own head; chance 0.5)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def retraining(table: pd.DataFrame) -> plt.Figure:
    """Accuracy (mean over heads) against retraining epochs after a change (W or tau perturbed;
    epoch 0: before retraining), mean ± s.d. across networks, one panel per change; dotted, the
    unchanged networks trained the same epochs (the baseline each curriculum recovers towards)."""
    rows = table[table["change"] != "none"].assign(
        change_label=lambda t: [f"{PERTURBATION_TARGETS.get('perturb-' + c, c)} perturbed, ε = {e:g}"
                                if pd.notna(e) else f"{c}: {g}" for c, e, g in zip(t["change"], t["epsilon"], t["group"])])
    labels = list(dict.fromkeys(rows["change_label"]))
    fig, axes = plt.subplots(1, len(labels), figsize=(4.8 * len(labels), 3.6), squeeze=False, sharey=True,
                             constrained_layout=True)
    for ax, label in zip(axes[0], labels):
        stats = per_network(rows[rows["change_label"] == label], ["n_max", "epoch"], "accuracy_mean")
        for (curriculum, n), s in stats.groupby(["curriculum", "n_max"], sort=False):
            color = CURRICULUM_COLORS.get(curriculum, "k")
            mean_sd_band(ax, s["epoch"], s["mean"], s["sd"], color=color, alpha=0.15,
                         label=f"{CURRICULUM_NAMES.get(curriculum, curriculum)}, N = {n} ({int(s['count'].max())})")
        baseline = per_network(table[table["change"] == "none"], ["n_max", "epoch"], "accuracy_mean")
        for (curriculum, n), s in baseline.groupby(["curriculum", "n_max"], sort=False):
            ax.plot(s["epoch"], s["mean"], ":", lw=1, color=CURRICULUM_COLORS.get(curriculum, "k"),
                    label=f"{CURRICULUM_NAMES.get(curriculum, curriculum)}, unchanged")
        ax.set(xlabel="retraining epoch (0: before)", title=label)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("accuracy (mean over heads)")
    return fig


def continuous(table: pd.DataFrame) -> plt.Figure:
    """The continuous-time test (generalisation): accuracy at the network's largest N when every
    input is held for k steps and every tau scaled by k, against k; per network (its head for the
    largest N), then mean ± s.d. across networks per curriculum. ``table``: ``continuous.csv``."""
    rows = table[table["n"] == table["n_max"]]
    stats = per_network(rows, ["n", "k"], "accuracy")
    fig, ax = plt.subplots(figsize=(5.8, 3.8), constrained_layout=True)
    for (curriculum, n), s in stats.groupby(["curriculum", "n"], sort=False):
        color = CURRICULUM_COLORS.get(curriculum, "k")
        mean_sd_band(ax, s["k"], s["mean"], s["sd"], color=color, alpha=0.15,
                     label=f"{CURRICULUM_NAMES.get(curriculum, curriculum)}, N = {n} ({_count(s)})")
    ax.axhline(0.5, color="grey", lw=0.6, ls=":")
    ax.set_xscale("log")
    ax.set(xlabel="time rescaling k (each input held k steps, τ × k)", ylabel="accuracy at the largest N",
           ylim=(0.4, 1.02), title="Continuous-time test (k = 1: the trained network)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return fig
