"""The mean rate of every neuron: its activity averaged over the simulation."""

from __future__ import annotations

import numpy as np

from rnn_timescales.studies.measures.base import Measure, MeasureContext, register_measure


@register_measure
class MeanRate(Measure):
    name = "mean_rate"
    label = "mean rate"
    unit = "activity"
    definition = "the neuron's activity averaged over the analysed steps and trials (after the burn-in)"

    @classmethod
    def compute(cls, ctx: MeasureContext) -> np.ndarray:
        return ctx.stats.mean_activity
