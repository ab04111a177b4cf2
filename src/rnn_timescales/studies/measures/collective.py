"""Measures of the whole network: the population's timescale, the fits' model choice, the
dimensionality of the activity, and the timescales of the linearised dynamics."""

from __future__ import annotations

import numpy as np

from rnn_timescales.studies.measures.base import Measure, MeasureContext, register_measure


class _NetworkMeasure(Measure):
    per = "network"
    panel = ""


@register_measure
class ShareDouble(_NetworkMeasure):
    name = "frac_double"
    label = "share of two-timescale fits"
    definition = "the share of neurons whose autocorrelation was fitted best by two exponentials"
    order = 60
    headline = None

    @classmethod
    def compute(cls, ctx: MeasureContext) -> float:
        return float((ctx.fits["model"] == 2).mean())


@register_measure
class NoFit(_NetworkMeasure):
    name = "n_no_fit"
    label = "neurons without a fit"
    unit = "neurons"
    definition = "the number of neurons whose autocorrelation neither fit converged on"
    order = 61
    headline = None

    @classmethod
    def compute(cls, ctx: MeasureContext) -> int:
        return int((ctx.fits["model"] == 0).sum())


@register_measure
class PopulationTauNet(_NetworkMeasure):
    name = "population_tau_net"
    label = "population τ_net"
    unit = "steps"
    definition = "τ_net fitted to the autocorrelation of the summed activity of all neurons"
    order = 62
    timescale = True
    panel = "collective_vs_n"

    @classmethod
    def compute(cls, ctx: MeasureContext) -> float:
        return float(ctx.population_fit["tau_net"].iloc[0])


@register_measure
class PopulationModel(_NetworkMeasure):
    name = "population_model"
    label = "population fit"
    definition = "the model fitted to the population autocorrelation (1 or 2 exponentials, 0: no fit)"
    order = 63
    headline = None

    @classmethod
    def compute(cls, ctx: MeasureContext) -> int:
        return int(ctx.population_fit["model"].iloc[0])


@register_measure
class Dimensionality(_NetworkMeasure):
    name = "dimensionality"
    label = "dimensionality"
    unit = "components"
    definition = "principal components needed for 90 % of the activity's variance, counted from 1"
    order = 64
    writes = ("dimensionality", "dimensionality_zero_based")
    panel = "dimensionality_vs_n"

    @classmethod
    def compute(cls, ctx: MeasureContext) -> dict[str, float]:
        from rnn_timescales.analysis.dimensionality import dimensionality_from_covariance

        dim = dimensionality_from_covariance(ctx.stats.covariance, 0.9)
        return {"dimensionality": dim, "dimensionality_zero_based": dim - 1}


@register_measure
class JacobianTauMax(_NetworkMeasure):
    name = "jacobian_tau_max"
    label = "slowest Jacobian mode"
    unit = "steps"
    definition = ("−1/ln|λ| of the Jacobian's largest eigenvalue, median over the operating points "
                  "(with its spread, max − min, and that of the average Jacobian)")
    order = 66
    writes = ("jacobian_tau_max", "jacobian_tau_max_spread", "jacobian_mean_tau_max")
    timescale = True
    panel = "collective_vs_n"

    @classmethod
    def compute(cls, ctx: MeasureContext) -> dict[str, float]:
        per_point = ctx.jacobian_per_point
        some = len(per_point) > 0
        return {"jacobian_tau_max": float(np.median(per_point[:, 0])) if some else np.nan,
                "jacobian_tau_max_spread": float(per_point[:, 0].max() - per_point[:, 0].min()) if some else np.nan,
                "jacobian_mean_tau_max": float(ctx.jacobian_mean[0])}


@register_measure
class JacobianSpectralRadius(_NetworkMeasure):
    name = "jacobian_spectral_radius"
    label = "Jacobian spectral radius"
    definition = "the largest |λ| of the Jacobian, median over the operating points"
    order = 67
    headline = None

    @classmethod
    def compute(cls, ctx: MeasureContext) -> float:
        jac = ctx.jacobian
        return float(np.median(jac["spectral_radius"])) if jac else np.nan


@register_measure
class JacobianSlowest(_NetworkMeasure):
    name = "jacobian_tau"
    label = "slowest Jacobian timescales"
    unit = "steps"
    definition = "the k slowest −1/ln|λ| of the Jacobian, median over the operating points (columns jacobian_tau_1..k)"
    order = 95  # after the settings record, as before
    writes = ("jacobian_tau_1",)  # and one more per --n-slowest beyond the first
    headline = None

    @classmethod
    def compute(cls, ctx: MeasureContext) -> dict[str, float]:
        per_point = ctx.jacobian_per_point
        return {f"jacobian_tau_{i + 1}": float(np.median(per_point[:, i]))
                for i in range(min(ctx.settings.n_slowest, per_point.shape[1]))}
