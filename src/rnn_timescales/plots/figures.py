"""Every figure of the studies, one function each, importable from here: those of ``analyze`` are
in :mod:`.neurons` (the timescales against N are here), those of ``compare-models`` in this module,
those of ``robustness`` in :mod:`.robustness`, those of the slow-point and delayed-recall studies in
:mod:`.slow_points`. Functions take tables/arrays and return a matplotlib Figure; saving is the
caller's job.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from rnn_timescales.plots.neurons import (  # the figures of analyze, under their old names
    plot_autocorrelation_fits,
    plot_population_autocorrelation,
    plot_tau_vs_tau_net,
)
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
