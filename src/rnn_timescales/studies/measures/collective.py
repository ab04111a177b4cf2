"""Measures of the whole network: the population's timescale, the fits' model choice, the
dimensionality of the activity, and the timescales of the linearised dynamics."""

from __future__ import annotations

import numpy as np

from rnn_timescales.studies.measures.base import Measure, MeasureContext, declare


class _NetworkMeasure(Measure):
    per = "network"
    panel = ""
    headline = None


def _slowest(ctx: MeasureContext) -> dict[str, float]:
    per_point = ctx.jacobian_per_point
    some = len(per_point) > 0
    return {"jacobian_tau_max": float(np.median(per_point[:, 0])) if some else np.nan,
            "jacobian_tau_max_spread": float(per_point[:, 0].max() - per_point[:, 0].min()) if some else np.nan,
            "jacobian_mean_tau_max": float(ctx.jacobian_mean[0])}


def _dimensionality(ctx: MeasureContext) -> dict[str, float]:
    from rnn_timescales.analysis.dimensionality import dimensionality_from_covariance

    dim = dimensionality_from_covariance(ctx.stats.covariance, 0.9)
    return {"dimensionality": dim, "dimensionality_zero_based": dim - 1}


# name, label, unit, definition, how it is computed, and what else it declares (Measure's fields)
_DECLARED = [
    ("frac_double", "share of two-timescale fits", "",
     "the share of neurons whose autocorrelation was fitted best by two exponentials",
     lambda ctx: float((ctx.fits["model"] == 2).mean()), {}),
    ("n_no_fit", "neurons without a fit", "neurons", "the number of neurons whose autocorrelation neither fit converged on",
     lambda ctx: int((ctx.fits["model"] == 0).sum()), {}),
    ("population_tau_net", "population τ_net", "steps", "τ_net fitted to the autocorrelation of the summed activity",
     lambda ctx: float(ctx.population_fit["tau_net"].iloc[0]),
     {"headline": "", "timescale": True, "panel": "collective_vs_n"}),
    ("population_model", "population fit", "",
     "the model fitted to the population autocorrelation (1 or 2 exponentials, 0: no fit)",
     lambda ctx: int(ctx.population_fit["model"].iloc[0]), {}),
    ("dimensionality", "dimensionality", "components",
     "principal components needed for 90 % of the activity's variance, counted from 1", _dimensionality,
     {"headline": "", "panel": "dimensionality_vs_n", "writes": ("dimensionality", "dimensionality_zero_based")}),
    ("jacobian_tau_max", "slowest Jacobian mode", "steps",
     "−1/ln|λ| of the Jacobian's largest eigenvalue, median over the operating points (with its spread, max − min, "
     "and that of the average Jacobian)", _slowest,
     {"headline": "", "timescale": True, "panel": "collective_vs_n",
      "writes": ("jacobian_tau_max", "jacobian_tau_max_spread", "jacobian_mean_tau_max")}),
    ("jacobian_spectral_radius", "Jacobian spectral radius", "",
     "the largest |λ| of the Jacobian, median over the operating points",
     lambda ctx: float(np.median(ctx.jacobian["spectral_radius"])) if ctx.jacobian else np.nan, {}),
    ("jacobian_tau", "slowest Jacobian timescales", "steps",
     "the k slowest −1/ln|λ| of the Jacobian, median over the operating points (columns jacobian_tau_1..k)",
     lambda ctx: {f"jacobian_tau_{i + 1}": float(np.median(ctx.jacobian_per_point[:, i]))
                  for i in range(min(ctx.settings.n_slowest, ctx.jacobian_per_point.shape[1]))},
     {"order": 95, "writes": ("jacobian_tau_1",)}),  # after the settings record, as before; one column per k
]

for _order, _row in enumerate(_DECLARED, start=60):
    declare(_NetworkMeasure, *_row, order=_order)
