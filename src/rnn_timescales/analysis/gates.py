"""Effective timescales of gated units from their retention gates [K24, appendix on LSTMs].

A gated unit keeps a fraction a_t of its own past at every step: the LSTM's forget gate f
(c' = f ⊙ c + i ⊙ g) and the GRU's update gate z in PyTorch's convention (h' = (1 − z) ⊙ n + z ⊙ h).
With the gate's mean ā over the steps the network sees under its task's input statistics, a unit's
own memory decays like ā^t, which gives two timescales, in time steps:

- ``tau_gate`` = 1 / (1 − ā), the paper's: the τ of the leaky unit that keeps the same fraction
  (a leaky unit with timescale τ keeps 1 − 1/τ of its state per step), so it compares with the
  leaky RNN's trained τ;
- ``tau_gate_log`` = −1 / ln ā, the e-folding time of ā^t, which compares with autocorrelation
  timescales (τ_net) and Jacobian timescales −1/ln|λ|. It is the smaller of the two:
  1/(1 − ā) − 1 ≤ −1/ln ā ≤ 1/(1 − ā) − 1/2 (the upper bound is tight for slow units).

The gate is averaged first and the timescale taken of the average (as the paper does), not the
average of per-step timescales. Both are the unit's *own* retention: what the rest of the network
feeds back into it (through W_h· h) is not in them; τ_net measures the two together.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
import torch

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.models.gated import LSTM, GatedRNN

RETENTION = "retention"
"""Name of the retention-gate signal in :func:`gate_signals` (and ``SimulationStats.signal_means``)."""
CELL = "cell"
"""Name of the LSTM cell-state signal in :func:`gate_signals`."""


def gate_timescales(gate_mean: np.ndarray | torch.Tensor) -> pd.DataFrame:
    """Timescales from the mean retention gate of every unit.

    Parameters
    ----------
    gate_mean : array, shape (units,)
        ā in [0, 1], the retention gate (LSTM: forget gate; GRU: update gate) averaged over steps
        and trials.

    Returns
    -------
    DataFrame, one row per unit: ``gate_mean`` (ā), ``tau_gate`` = 1/(1 − ā) and ``tau_gate_log``
    = −1/ln ā, in time steps (inf for ā = 1; ``tau_gate_log`` is 0 for ā = 0).
    """
    a = np.asarray(gate_mean.detach().cpu() if isinstance(gate_mean, torch.Tensor) else gate_mean, dtype=np.float64)
    if a.ndim != 1:
        raise ValueError(f"gate_mean must have shape (units,), got {a.shape}")
    if np.any(~np.isfinite(a)) or np.any((a < 0) | (a > 1)):
        raise ValueError("gate_mean must hold finite values in [0, 1] (a gate is a sigmoid)")
    with np.errstate(divide="ignore"):
        tau = np.where(a < 1, 1.0 / np.where(a < 1, 1.0 - a, 1.0), np.inf)
        tau_log = np.where((a > 0) & (a < 1), -1.0 / np.log(np.clip(a, 1e-300, None)), np.where(a >= 1, np.inf, 0.0))
    return pd.DataFrame({"gate_mean": a, "tau_gate": tau, "tau_gate_log": tau_log})


def retention_gate(model: RecurrentModel) -> str | None:
    """The name of the gate that sets a unit's own timescale (``forget``, ``update``), or None for
    a model without gates (the leaky RNN)."""
    return model.retention_gate if isinstance(model, GatedRNN) else None


def gate_signals(model: RecurrentModel) -> Callable[[torch.Tensor, torch.Tensor, torch.Tensor], dict[str, torch.Tensor]] | None:
    """What the analysis simulation measures besides the activity, for
    :func:`rnn_timescales.analysis.simulation.simulate_statistics` (``signals``).

    For a gated model, a function of a chunk's inputs (steps, trials, D), its states (steps, trials,
    state_size) and the state before it (trials, state_size) that returns the retention gate at
    every step, ``{"retention": (steps, trials, H)}``, and for the LSTM also its cell state,
    ``{"cell": (steps, trials, H)}``. None for a model without gates.
    """
    if not isinstance(model, GatedRNN):
        return None

    def signals(inputs: torch.Tensor, states: torch.Tensor, before: torch.Tensor) -> dict[str, torch.Tensor]:
        h_prev = torch.cat([model.activity(before)[None], model.activity(states[:-1])])
        out = {RETENTION: model.retention(inputs, h_prev)}
        if isinstance(model, LSTM):
            out[CELL] = model.cell(states)
        return out

    return signals


def autocorrelated_signals(model: RecurrentModel) -> tuple[str, ...]:
    """The signals of :func:`gate_signals` whose autocorrelation the analysis fits: the LSTM's cell
    state (its τ_net, beside that of h)."""
    return (CELL,) if isinstance(model, LSTM) else ()


@torch.no_grad()
def mean_gates(
    model: GatedRNN,
    inputs: torch.Tensor,
    state0: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Every gate of ``model`` averaged over the steps and sequences of ``inputs``.

    inputs: (time, batch, D), e.g. ``task.input_source(batch)(time)``; state0: (batch,
    state_size), default ``model.init_state``. Returns ``{gate name: (H,)}`` (GRU: reset, update,
    candidate; LSTM: input, forget, cell, output), each the mean of the gate's activation
    (σ, or tanh for the candidates) over (time, batch).
    """
    if not isinstance(model, GatedRNN):
        raise TypeError(f"mean_gates needs a gated model (gru, lstm), got {type(model).__name__}")
    if state0 is None:
        state0 = model.init_state(inputs.shape[1], generator)
    states = model.run(inputs, state0)
    h_prev = torch.cat([model.activity(state0)[None], model.activity(states[:-1])])
    gi, gh = model.gate_inputs(inputs, h_prev)
    H = model.hidden_size
    means = {}
    for k, name in enumerate(model.gate_names):
        part = slice(k * H, (k + 1) * H)
        if name == "candidate":  # the GRU's n = tanh(i_n + r (h_n)): r is the reset gate
            r = torch.sigmoid(gi[..., :H] + gh[..., :H])
            value = torch.tanh(gi[..., part] + r * gh[..., part])
        elif name == "cell":
            value = torch.tanh(gi[..., part] + gh[..., part])
        else:
            value = torch.sigmoid(gi[..., part] + gh[..., part])
        means[name] = value.mean((0, 1))
    return means
