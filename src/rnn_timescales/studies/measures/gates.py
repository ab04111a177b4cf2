"""Timescales set by a gated model's retention gate (the LSTM's forget gate, the GRU's update
gate), from the gate's mean over the simulation; NaN for the leaky RNN."""

from __future__ import annotations

import numpy as np

from rnn_timescales.studies.measures.base import Measure, declare


class _GateMeasure(Measure):
    timescale = True
    panel = ""


# name, label, unit, definition, how it is computed (from the shared gate table), what else it declares
_DECLARED = [
    ("tau_gate", "gate τ", "steps", "1/(1 − ā) of the neuron's mean retention gate ā (GRU, LSTM)",
     lambda ctx: ctx.gates["tau_gate"].to_numpy(), {"after": "tau", "order": 20}),
    ("tau_gate_log", "gate τ (logarithmic)", "steps", "−1/ln ā of the neuron's mean retention gate ā (GRU, LSTM)",
     lambda ctx: ctx.gates["tau_gate_log"].to_numpy(),  # its median over every neuron: a gate held open counts
     {"after": "tau_gate", "order": 21, "statistics": (), "extra": {"median": np.median}, "headline": None}),
    ("gate_mean", "mean retention gate", "", "ā, the neuron's retention gate averaged over steps and trials (GRU, LSTM)",
     lambda ctx: ctx.gates["gate_mean"].to_numpy(),
     {"after": "tau_gate_log", "order": 22, "statistics": (), "headline": None, "timescale": False}),
]

for _row in _DECLARED:
    declare(_GateMeasure, *_row)
