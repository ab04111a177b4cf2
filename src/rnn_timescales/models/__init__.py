"""Recurrent models, registered by name: the leaky RNN of [K24], the GRU and the LSTM, and the
interface every model offers.

Adding a model: subclass :class:`RecurrentModel` (``name``, ``from_config``, ``init_state``,
``step``; ``run`` / ``run_final`` for speed) and register it with :func:`register_model`; its
input size, heads and classes come from the task (:func:`build_model`).
"""

from __future__ import annotations

from rnn_timescales.models.base import RecurrentModel, RNNOutput
from rnn_timescales.models.encoders import ConvEncoder, EncodedModel, build_encoded
from rnn_timescales.models.gated import GRU, LSTM, GatedRNN
from rnn_timescales.models.leaky_rnn import LeakyRNN
from rnn_timescales.models.readout import MultiHeadReadout
from rnn_timescales.registry import Registry

MODELS: Registry[type[RecurrentModel]] = Registry("model", RecurrentModel)
"""Model type -> class; ``model.type`` in a configuration must be one of these."""

register_model = MODELS.register
register_model(LeakyRNN)
register_model(GRU)
register_model(LSTM)


def build_model(config, task=None) -> RecurrentModel:
    """The untrained model of a :class:`rnn_timescales.config.RunConfig`, sized for its task
    (input size, classes) with ``model.n_heads`` readout heads, initialised from ``config.seed``;
    behind the encoder ``model.encoder`` names, if any (:mod:`rnn_timescales.models.encoders`).

    ``task``: the already built task (built from ``config.task`` when not given). The caller's
    global random generators are left as they were.
    """
    import torch

    from rnn_timescales.tasks import build_task

    task = task if task is not None else build_task(config.task)
    cls = MODELS.get(config.model.type)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return build_encoded(cls, config.model, task, n_heads=config.model.n_heads)


__all__ = ["GRU", "LSTM", "MODELS", "ConvEncoder", "EncodedModel", "GatedRNN", "LeakyRNN", "MultiHeadReadout",
           "RNNOutput", "RecurrentModel", "build_model", "register_model"]
