"""What a model offers to analyses that need more than the common contract.

Some analyses act on parts only the leaky RNN has in the sense of [K24]: its trained per-neuron
timescales τ (ablation ordered by τ, perturbation of τ) and its recurrent weight W between neurons
with no self-connections (perturbation of W, ablation by zeroing rows and columns of W). A GRU
or an LSTM has recurrent weights too, but one block per gate, and its units' timescales come from
its gates, not from a parameter. Such analyses ask here first and refuse other models in one line.
"""

from __future__ import annotations

from rnn_timescales.errors import UnsupportedModel
from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.models.leaky_rnn import LeakyRNN


def has_trained_timescales(model: RecurrentModel) -> bool:
    """Whether the model has trained per-unit timescales τ (:meth:`RecurrentModel.timescales`)."""
    return model.timescales() is not None


def has_leaky_weights(model: RecurrentModel) -> bool:
    """Whether the model is a leaky RNN: one recurrent weight W (no self-connections), input
    weights U and per-neuron τ, the parts the paper's perturbations and ablations act on."""
    return bool(getattr(model, "leaky_weights", False))


def require_leaky_rnn(model: RecurrentModel, analysis: str, instead: str | None = None) -> LeakyRNN:
    """``model`` if it is a leaky RNN; otherwise :class:`UnsupportedModel` saying that
    ``analysis`` needs one and, with ``instead``, what to use for this model.

    Example: ``require_leaky_rnn(model, "ablation by trained tau", "order the units by tau_gate
    from rnn-timescales analyze")``.
    """
    if has_leaky_weights(model):
        return model
    kind = getattr(model, "name", type(model).__name__)
    tail = f"; for the {kind}, {instead}" if instead else ""
    raise UnsupportedModel(f"{analysis} needs a leaky RNN (trained tau and one recurrent weight W); "
                           f"this network is a {kind}{tail}")
