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
    "model": ("model", "The network class (leaky_rnn: the paper's leaky RNN with a trainable τ per neuron; gru, lstm: "
              "gated networks, whose units' timescales come from their gates, with no τ of their own)."),
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
    # delayed recall [H19]: runs.csv, the extrapolation summary and tests
    "recall_curriculum": ("curriculum", "How the delayed-recall task grew during training [H19]: delay (DeCu): the "
                          "trial length T_max grown in steps up to 20; vocabulary (VoCu): the classes added a few at a "
                          "time up to all 11 (null included); none: the final task from the start."),
    "trained_level": ("trained level", "The level of the network analysed (the run's latest checkpoint, as the "
                      "delayed-recall tables record it): the trial length T_max (trained delays up to T_max − 1 "
                      "steps) and the classes, null included."),
    "trained_max_delay": ("T_max", "The trial length the networks were trained with: delays up to T_max − 1 steps were "
                          "trained, longer ones never seen."),
    "largest_delay": ("largest delay", "The longest delay measured, in time steps (5 × T_max unless set otherwise)."),
    "accuracy_trained": ("recall, trained delays", "The share of trials whose answer at t_a was the image's class, over "
                         "the trained delays (up to T_max − 1), per network; mean ± s.d. across networks (their "
                         "number)."),
    "accuracy_untrained": ("recall, untrained delays", "The same over the delays never trained (T_max up to the largest "
                           "delay): how far the memory carries beyond training."),
    "each_trained": ("each network, trained delays", "Each network's recall over the trained delays, in seed order."),
    "each_untrained": ("each network, untrained delays", "Each network's recall over the untrained delays, in seed "
                       "order."),
    "group_a": ("a", "The first curriculum of the comparison."),
    "group_b": ("b", "The second curriculum of the comparison."),
    "mean_a": ("mean a", "The mean across a's networks of their recall over the untrained delays."),
    "mean_b": ("mean b", "The same for b."),
    "difference": ("a − b", "mean a − mean b: positive where a's networks remember longer."),
    "p_value": ("p", "The test's two-sided p-value (the test is named above the table); empty where no test could be "
                "made (the note says why). With three networks a group, only a large, consistent difference gives a "
                "small p."),
    "p_one_sided": ("p, one-sided", "The p-value of the one-sided test in the direction the claim makes (named in the "
                    "column or beside the value)."),
    "note": ("note", "Why a p-value is missing: fewer than two networks, or no spread to test."),
    # slow points [H19]
    "speed": ("speed", "Where the speed q(h) = ½‖F(h, ū) − h‖² of the autonomous dynamics (rest input ū: noise mean, "
              "trigger off) is taken; q in state units squared."),
    "slow_point_q": ("q at the slow point", "q at the point the slow-point finder reached from the class's seed (the "
                     "mean state 15 steps after the class's image over trials read out correctly); classes without "
                     "such a trial have none."),
    "centre_q": ("q at the class centre", "q at the class's centre of mass of the memory states (the state each "
                 "response step starts from, mean over held-out trials of the class): where the memory sits just "
                 "before the trigger, and what the speed regularisation penalises."),
    "seed_q": ("q at the seed", "q at the class's seed state, before the finder moves it."),
    "r_mean": ("Spearman r", "Spearman's rank correlation, across a network's classes, of log10 q with the class's "
               "recall over the untrained delays (negative: slower classes remember longer); mean ± s.d. across "
               "networks (their number)."),
    "negative": ("networks with r < 0", "How many networks' r is negative, of those with an r."),
    "each_r": ("each network's r", "Each network's Spearman r, in seed order."),
    "each_p": ("each network's p", "The p-value of each network's r (over its classes), in seed order."),
    "each_n": ("classes", "The classes each network's r is computed over (those with a speed and a recall)."),
    # speed regularisation [H19]
    "start": ("trained network", "The network as trained, before fine-tuning."),
    "control": ("control (λ = 0)", "Fine-tuned from the trained weights (5 000 steps, the same batches) without the "
                "speed term."),
    "regularized": ("speed-regularised", "Fine-tuned the same way with λ·Σ_k q(c_k) added to the loss, c_k the class "
                    "centres of mass."),
    "centre_log10_q_mean": ("mean log10 q at the class centres", "The mean over classes of log10 q at the class "
                            "centres of mass; lower: slower memory states."),
    "difference_regularized": ("regularised − control", "The mean across networks of each network's regularised value "
                               "minus its control's (paired by network)."),
    "each_difference": ("each network, regularised − control", "Each network's difference, in seed order."),
}

DEFINITIONS = {
    "N": "The task's memory length: the network must combine the last N inputs.",
    "networks": "How many networks (seeds) of the condition were analysed at this N.",
    "trained τ: network mean": "The mean over a network's neurons of its trained single-neuron timescale τ, in steps.",
    "trained τ per neuron: median [10 %, 90 %] (neurons)": "Every neuron's trained τ pooled over the condition's "
    "networks: the median and the 10 % and 90 % quantiles (the number of neurons).",
    "τ_net ≤ 1 step (share of neurons)": "The share of a network's neurons whose network-mediated timescale τ_net is "
    "at most one step (no memory beyond one step).",
    "τ_net median of all neurons (ours)": "The median τ_net over all of a network's neurons (our aggregation).",
    "τ_net > 1 step: median [25 %, 75 %] (neurons)": "The neurons with τ_net above one step, pooled over networks: "
    "their median and quartiles (their number).",
    "τ_net > 1 step: mean (paper's figures, ± s.d.)": "The paper's figures' aggregation: the mean τ_net of the "
    "neurons above one step per network, then mean ± s.d. across networks.",
    "slowest Jacobian mode": "−1/ln|λ| of the slowest eigenvalue of the linearised dynamics, median over operating "
    "points, in steps.",
    "population τ_net": "τ_net of the summed activity of all neurons, in steps.",
    "dimensionality": "Principal components needed for 90 % of the activity's variance (counted from 1).",
}
"""The columns of a run's or a sweep's per-N table, defined under it."""


LOOK_FOR = {
    "progress": "which condition reaches larger N in the same epochs, and whether its band (the spread across "
                "seeds) separates it from the others; the wall-time panel only compares runs on the same machine.",
    "models_progress": "whether the curriculum's advantage holds for every model type.",
    "tau_training": "whether the trained τ drifts up (slower neurons, as single-head networks do in [K24]) or down "
                    "(as multi-head networks do) while N grows.",
    "accuracy_per_head": "a head dropping back to chance after a later N was added (forgetting), and how long each "
                         "new N takes to pass the threshold.",
    "tau_vs_n": "whether the neurons' own timescales grow with N (the single-neuron mechanism) or stay near one step.",
    "tau_net_vs_n": "whether memory beyond one step grows with N, and in how many neurons: the share below one step "
                    "(right) says how much of the network the τ_net values on the left describe.",
    "collective_vs_n": "a slowest mode rising with N while single neurons stay fast: memory held by the network's "
                       "dynamics rather than by its neurons.",
    "dimensionality_vs_n": "whether the activity spreads over more dimensions as the memory demand N grows.",
    "perturbation": "the ε at which each condition's accuracy falls: the later the fall, the more robust the network.",
    "ablation": "which group of neurons the accuracy depends on: a large drop for slow neurons means the memory "
                "lives in them.",
    "forgetting": "whether networks keep earlier N once trained further (multi-head networks should, single-head "
                  "ones need not).",
    "continuous": "whether accuracy survives slower input (k > 1): a network that generalises in time keeps it.",
    "extrapolation": "how far beyond the trained delays the accuracy holds.",
}
"""A reading guide under each figure of a run's or a sweep's report (by figure name)."""

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
