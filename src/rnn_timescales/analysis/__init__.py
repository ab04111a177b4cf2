"""Where memory lives: trained tau, network-mediated tau_net, population autocorrelation,
dimensionality and Jacobian timescales (docs/science.md, timescales). Arrays are time-major."""

from rnn_timescales.analysis.autocorrelation import StreamingAutocorrelation, autocorrelation
from rnn_timescales.analysis.dimensionality import dimensionality_from_covariance, pca_dimensionality
from rnn_timescales.dynamics.jacobian import jacobian_timescales, step_jacobian
from rnn_timescales.analysis.synthetic import ar1, ar1_mixture
from rnn_timescales.analysis.timescales import (
    SelectionRule,
    expected_autocorrelation,
    fit_timescales,
    select_models,
    tau_net_table,
)

__all__ = [
    "SelectionRule",
    "StreamingAutocorrelation",
    "ar1",
    "ar1_mixture",
    "autocorrelation",
    "dimensionality_from_covariance",
    "expected_autocorrelation",
    "fit_timescales",
    "jacobian_timescales",
    "pca_dimensionality",
    "select_models",
    "step_jacobian",
    "tau_net_table",
]

