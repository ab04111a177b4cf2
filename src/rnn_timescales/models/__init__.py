"""Recurrent models: the leaky RNN of [K24] and the interface every model offers."""

from rnn_timescales.models.base import RecurrentModel, RNNOutput
from rnn_timescales.models.leaky_rnn import LeakyRNN, activation
from rnn_timescales.models.readout import MultiHeadReadout

__all__ = ["LeakyRNN", "MultiHeadReadout", "RNNOutput", "RecurrentModel", "activation"]


def build_model(cfg) -> RecurrentModel:
    """The model described by a :class:`rnn_timescales.config.ModelConfig`."""
    if cfg.type != "leaky_rnn":
        raise ValueError(f"unknown model type {cfg.type!r}; choose one of leaky_rnn")
    kwargs = dict(
        hidden_size=cfg.hidden_size,
        n_heads=cfg.n_heads,
        nonlinearity=cfg.nonlinearity,
        placement=cfg.placement,
        train_tau=cfg.train_tau,
        tau_init=cfg.tau_init,
    )
    if cfg.precision != "fp32":
        kwargs["precision"] = cfg.precision
    return LeakyRNN(**kwargs)


__all__.append("build_model")
