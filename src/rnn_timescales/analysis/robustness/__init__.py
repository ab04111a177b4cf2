"""Robustness, forgetting and generalisation of trained networks (docs/science.md, robustness).

- :mod:`.changes`: changed copies of a network (perturbed W or tau, silenced neurons, rescaled time).
- :mod:`.streams`: streaming accuracy of many variants of one network on shared streams.
- :mod:`.strengths`: the analyses as DataFrames over strengths (perturbation, ablation,
  forgetting, continuous time).

The analyses that train (retraining a changed network, continuing a curriculum, transfer between
parity and DMS) are :mod:`rnn_timescales.studies.retraining`; what ``rnn-timescales robustness``
runs and writes is :mod:`rnn_timescales.studies.robustness`.
"""

from rnn_timescales.analysis.robustness.changes import (
    ablated_copy,
    perturb_tau,
    perturb_w,
    perturbed_copy,
    repeat_inputs,
    rescaled_copy,
    silence_mask,
)
from rnn_timescales.analysis.robustness.streams import StreamingProtocol, baseline_accuracy, relative_accuracy
from rnn_timescales.analysis.robustness.strengths import (
    PAPER_KS,
    PAPER_TAU_EPSILONS,
    PAPER_W_EPSILONS,
    ablation_groups,
    ablation_sweep,
    continuous_sweep,
    forgetting_matrix,
    forgetting_scores,
    perturbation_sweep,
)

__all__ = [
    "PAPER_KS",
    "PAPER_TAU_EPSILONS",
    "PAPER_W_EPSILONS",
    "StreamingProtocol",
    "ablated_copy",
    "ablation_groups",
    "ablation_sweep",
    "baseline_accuracy",
    "continuous_sweep",
    "forgetting_matrix",
    "forgetting_scores",
    "perturb_tau",
    "perturb_w",
    "perturbation_sweep",
    "perturbed_copy",
    "relative_accuracy",
    "repeat_inputs",
    "rescaled_copy",
    "silence_mask",
]
