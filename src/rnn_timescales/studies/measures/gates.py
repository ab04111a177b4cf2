"""Timescales set by a gated model's retention gate (the LSTM's forget gate, the GRU's update
gate), from the gate's mean over the simulation; NaN for the leaky RNN."""

from __future__ import annotations

import numpy as np

from rnn_timescales.studies.measures.base import Measure, MeasureContext, register_measure


@register_measure
class GateTau(Measure):
    name = "tau_gate"
    label = "gate τ"
    unit = "steps"
    definition = "1/(1 − ā) of the neuron's mean retention gate ā (GRU, LSTM)"
    after = "tau"
    order = 20
    timescale = True
    panel = ""

    @classmethod
    def compute(cls, ctx: MeasureContext) -> np.ndarray:
        return ctx.gates["tau_gate"].to_numpy()


@register_measure
class GateTauLog(Measure):
    name = "tau_gate_log"
    label = "gate τ (logarithmic)"
    unit = "steps"
    definition = "−1/ln ā of the neuron's mean retention gate ā (GRU, LSTM)"
    after = "tau_gate"
    order = 21
    statistics = ()
    extra = {"median": np.median}  # over every neuron: a gate held open (τ = inf) counts
    headline = None
    timescale = True
    panel = ""

    @classmethod
    def compute(cls, ctx: MeasureContext) -> np.ndarray:
        return ctx.gates["tau_gate_log"].to_numpy()


@register_measure
class GateMean(Measure):
    name = "gate_mean"
    label = "mean retention gate"
    definition = "ā, the neuron's retention gate averaged over steps and trials (GRU, LSTM)"
    after = "tau_gate_log"
    order = 22
    statistics = ()
    headline = None
    panel = ""

    @classmethod
    def compute(cls, ctx: MeasureContext) -> np.ndarray:
        return ctx.gates["gate_mean"].to_numpy()
