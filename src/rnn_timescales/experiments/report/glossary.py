"""Human names and definitions of the columns the reports show (one place, so that a figure, a
table and its definitions list use the same words), and the HTML helpers that render them.

:data:`COLUMNS` maps a column id of the result tables (``timescales.csv``, ``runs.csv``, the
robustness summary) to ``(name, definition)``; :func:`human` gives the name (the id itself when
there is none) and :func:`definitions_html` the ``<dl>`` list under a table. Timescales are in
time steps throughout.
"""

from __future__ import annotations

import html
from typing import Iterable

COLUMNS: dict[str, tuple[str, str]] = {
    # identifying columns
    "task": ("task", "The memory task the networks were trained on (parity: the sum of the last N bits, modulo 2)."),
    "curriculum": ("curriculum", "single-head: one output head, retrained as N grows; multi-head: one head per N "
                   "learned so far, all kept."),
    "model": ("model", "The network class (leaky_rnn: the paper's leaky RNN with a trainable τ per neuron)."),
    "train_tau": ("τ", "Whether each neuron's timescale τ was trained, or fixed at the value given."),
    "tau_fixed": ("fixed τ", "The value τ was fixed at (empty where τ was trained)."),
    "seed": ("seed", "The random seed of the run: initial weights and every training batch."),
    "hidden": ("neurons", "Number of recurrent neurons of the network."),
    "n": ("N", "The task's memory length: the network must combine the last N inputs."),
    "run": ("run", "The run directory's name."),
    # runs.csv
    "n_reached": ("largest N solved", "The largest N the curriculum reached (its accuracy above threshold)."),
    "steps": ("training steps", "Gradient steps taken in the whole run."),
    "epochs": ("epochs", "Training epochs completed."),
    "wall_time_s": ("wall time", "Time the run trained, on its own clock (depends on the machine and its load)."),
    "stop_reason": ("why it stopped", "max_epochs / time budget: its budget ran out; target_n, solved or "
                    "heads_exhausted: it reached its goal."),
    # timescales.csv, per network and N
    "tau_mean": ("trained τ, network mean", "The mean over a network's neurons of its trained single-neuron "
                 "timescale τ (the forward pass uses max(τ, 1))."),
    "tau_max": ("trained τ, largest", "The largest trained τ among a network's neurons."),
    "tau_net_median": ("τ_net, median of all neurons (ours)", "The median over all neurons of the network-mediated "
                       "timescale τ_net, fitted by our parsimonious rule; below one step means the median neuron "
                       "keeps no memory beyond one step."),
    "tau_net_paper_mean": ("τ_net, mean of neurons > 1 step (ours)", "Our estimator's τ_net, aggregated the paper's "
                           "way: neurons with τ_net ≤ 1 step dropped, the rest averaged."),
    "tau_net_dropped": ("share of neurons with τ_net ≤ 1 step (ours)", "The fraction of neurons the paper's "
                        "aggregation drops under our estimator (0 to 1)."),
    "tau_net_paper_mean_aic": ("τ_net, mean of neurons > 1 step (paper's AIC fit)", "The paper's estimator (AIC "
                               "choice between one and two exponentials) and the paper's aggregation."),
    "tau_net_dropped_aic": ("share of neurons with τ_net ≤ 1 step (AIC fit)", "The fraction of neurons dropped "
                            "under the paper's estimator (0 to 1)."),
    "share_double": ("share with a slow component (ours)", "The fraction of neurons whose autocorrelation our rule "
                     "fits with two exponentials (a fast and a slow part)."),
    "share_double_aic": ("share with a slow component (AIC fit)", "The same fraction under the paper's AIC choice."),
    "tau_jump_median": ("decay after the lag-0 jump, median", "The timescale of the decay of the autocorrelation "
                        "after its first lag (the jump at lag 0 set aside), median over the neurons that have one."),
    "tau_jump_none": ("share without a decay after the jump", "The fraction of neurons whose autocorrelation has no "
                      "measurable decay after the lag-0 jump (0 to 1)."),
    "iat_median": ("integrated autocorrelation time, median", "1/2 + the sum of the normalised autocorrelation up "
                   "to its first lag at or below zero, median over neurons: a timescale with no model fitted."),
    "population_tau_net": ("population τ_net", "τ_net of the summed activity of all neurons."),
    "jacobian_tau_max": ("slowest Jacobian mode", "−1/ln|λ| of the slowest eigenvalue λ of the linearised dynamics, "
                         "median over operating points: the longest time a perturbation lingers."),
    "dimensionality": ("dimensionality", "Principal components needed for 90 % of the activity's variance "
                       "(counted from 1; the paper's code reports one less)."),
    # robustness summary
    "measure": ("measure", "What was done to the network and what is measured."),
    "condition": ("condition", "The size ε of the perturbation; for the ablation: intact (no neuron silenced), fast "
                  "(one of the 20 neurons of shortest trained τ silenced) or slow (one of the 20 of longest); or "
                  "the retraining change."),
    "perturb-w": ("relative accuracy, W perturbed", "(accuracy − 0.5)/(intact accuracy − 0.5) after a random change of "
                  "the recurrent weights W of size ε relative to ‖W‖ (docs/robustness.md)."),
    "perturb-tau": ("relative accuracy, τ perturbed", "The same after perturbing the timescales τ by ε."),
    "ablation": ("accuracy, one neuron silenced", "Accuracy with one neuron silenced: none (intact), one of the 20 "
                 "fastest (short τ) or one of the 20 slowest (long τ), averaged over the group's neurons."),
    "accuracy_before": ("accuracy before retraining", "Accuracy right after the change, before any retraining."),
    "accuracy_after": ("accuracy after retraining", "Accuracy after the retraining epochs."),
    "epochs_to_recover": ("epochs to recover", "The first retraining epoch that solved the level again (0: the "
                          "changed network still did; the number of epochs run where none did)."),
    # n at budget
    "budget_steps": ("budget (steps)", "The training steps every run is compared at: the fixed-τ runs' budget."),
    "networks": ("networks", "How many networks (seeds) the numbers are across."),
    "values": ("each network", "Each network's value, by seed."),
    "complete": ("whole budget trained", "Whether every run trained the whole budget (otherwise a lower bound)."),
}

ABLATION_GROUPS = {"none": "intact", "short": "fast", "long": "slow"}
"""One name per ablation group, the same in the figures and the tables."""


def human(column: str) -> str:
    """The human name of ``column`` (the id itself where none is known)."""
    return COLUMNS.get(column, (column, ""))[0]


def definitions_html(columns: Iterable[str], extra: dict[str, str] | None = None) -> str:
    """A ``<dl class='defs'>`` of the known ``columns`` (human name, then its definition), with
    ``extra`` name -> definition entries after them; '' when there is nothing to define."""
    e = html.escape
    items = [(human(c), COLUMNS[c][1]) for c in dict.fromkeys(columns) if c in COLUMNS]
    items += list((extra or {}).items())
    if not items:
        return ""
    return ("<dl class='defs'>" + "".join(f"<dt>{e(name)}</dt><dd>{e(text)}</dd>" for name, text in items)
            + "</dl>")


def mean_sd(mean: float, sd: float, count: int, digits: int = 2, integer: bool = False) -> str:
    """``mean ± sd (count)`` as a table cell: the value alone (with "1 network") where there is one
    network, integers without decimals, '–' where the mean is missing."""
    import math

    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    fmt = (lambda v: f"{v:.0f}") if integer and float(mean).is_integer() else (lambda v: f"{v:.{digits}f}")
    if count is None or (isinstance(count, float) and math.isnan(count)) or int(count) <= 1:
        return f"{fmt(mean)} (1 network)"
    sd = 0.0 if sd is None or (isinstance(sd, float) and math.isnan(sd)) else sd
    return f"{fmt(mean)} ± {sd:.{digits}f} ({int(count)})"
