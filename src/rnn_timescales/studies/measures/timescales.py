"""Timescales of single neurons: the trained τ, τ_net of the activity and of an LSTM's cell state."""

from __future__ import annotations

import numpy as np

from rnn_timescales.studies.measures.base import Measure, MeasureContext, register_measure


def _largest(values: np.ndarray) -> float:
    return float(np.nanmax(values)) if np.isfinite(values).any() else float("nan")


def _largest_fitted(values: np.ndarray) -> float:
    return float(np.nanmax(values)) if (~np.isnan(values)).any() else float("nan")


@register_measure
class TrainedTau(Measure):
    name = "tau"
    label = "trained τ"
    unit = "steps"
    definition = "the neuron's trained timescale τ (the leaky RNN's; NaN for models without one)"
    after = "level"
    order = 10
    extra = {"max": _largest}
    timescale = True
    panel = "tau_vs_n"

    @classmethod
    def compute(cls, ctx: MeasureContext) -> np.ndarray:
        trained = ctx.model.timescales()
        if trained is None:
            return np.full(ctx.n_units, np.nan)
        return trained.detach().cpu().numpy().astype(np.float64)


@register_measure
class TauNet(Measure):
    name = "tau_net"
    label = "τ_net"
    unit = "steps"
    definition = ("the network-mediated timescale: the decay time of the exponential (or the slower of two) "
                  "fitted to the neuron's trial-averaged activity autocorrelation")
    order = 40
    extra = {"max": _largest_fitted}
    shown_always = True
    timescale = True
    panel = "tau_net_vs_n"

    @classmethod
    def compute(cls, ctx: MeasureContext) -> np.ndarray:
        return ctx.fits["tau_net"].to_numpy()


@register_measure
class TauNetCell(Measure):
    name = "tau_net_cell"
    label = "τ_net of the cell state"
    unit = "steps"
    definition = "τ_net fitted to the autocorrelation of an LSTM's cell state (NaN for other models)"
    after = "tau_net"
    order = 50
    timescale = True
    panel = ""

    @classmethod
    def compute(cls, ctx: MeasureContext) -> np.ndarray:
        from rnn_timescales.analysis.gates import CELL

        if CELL not in ctx.stats.signal_ac:
            return np.full(ctx.n_units, np.nan)
        return ctx.fit(ctx.stats.signal_ac[CELL])["tau_net"].to_numpy()
