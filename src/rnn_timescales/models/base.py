"""The interface every recurrent model offers to the trainer, checkpoints and analyses.

Conventions used throughout the package: tensors are **time-major**, ``inputs: (time, batch,
input_size)``; a model's *state* is one tensor ``(batch, state_size)``, trajectories ``(time, batch,
state_size)``; logits ``(batch, heads, classes)`` (or ``(time, batch, heads, classes)`` per step).

A state is not always the activity: an LSTM's state is its hidden state h and cell state c
concatenated, ``[h, c]`` (``state_size = 2 H``). :meth:`RecurrentModel.activity` returns the part
that the readout and the analyses read (the first ``hidden_size`` entries: h), so code that only
needs "the neurons' activity" never has to know which model it holds, and code that needs the
whole dynamical state (Jacobians, slow points) uses the state as it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from pydantic import BaseModel
from torch import nn

from rnn_timescales.errors import ConfigError
from rnn_timescales.models.readout import MultiHeadReadout
from rnn_timescales.registry import NoParams


@dataclass
class RNNOutput:
    """What a forward pass returns.

    final_state: (batch, state_size), the state after the last input.
    logits: (batch, heads, classes), the active heads read from the final activity.
    trajectory: (time, batch, state_size) states after every input, when requested.
    step_logits: (time, batch, heads, classes) heads read at every step, when requested.
    """

    final_state: torch.Tensor
    logits: torch.Tensor
    trajectory: torch.Tensor | None = None
    step_logits: torch.Tensor | None = None


class RecurrentModel(nn.Module, ABC):
    """Base class: a recurrent core with a one-step update ``step(state, x)`` and a multi-head readout.

    Subclasses set ``name`` (the registry name) and ``Params`` (settings of their own, validated
    with the run configuration), implement :meth:`from_config`, :meth:`init_state` and
    :meth:`step`, and may override :meth:`run` / :meth:`run_final` with faster whole-sequence
    implementations that compute the same states.

    ``time_scalable``: whether the model can run k times finer in time (docs/science.md, the
    model): then :meth:`step`, :meth:`run` and :meth:`run_final` accept ``time_scale=k`` (every
    timescale tau replaced by max(tau k, 1)). Other models are never passed it, and
    :meth:`forward` refuses k != 1 for them.
    """

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    bf16_supported: ClassVar[bool] = True  # whether ``model.precision: bf16`` (and ``auto``'s bf16) applies
    time_scalable: ClassVar[bool] = False  # whether it can run with time_scale k (inputs held k steps)
    # one recurrent weight W without self-connections, input weights U and per-neuron tau: what the
    # paper's perturbations and ablations act on, and the closed-form Jacobian uses (the leaky RNN)
    leaky_weights: ClassVar[bool] = False
    hidden_size: int
    input_size: int
    readout: MultiHeadReadout

    @classmethod
    @abstractmethod
    def from_config(cls, config: Any, *, input_size: int, n_heads: int, n_classes: int) -> RecurrentModel:
        """The model a :class:`rnn_timescales.config.ModelConfig` describes, sized for a task."""

    @classmethod
    def check_config(cls, config: Any) -> None:
        """Refuse a ``ModelConfig`` this model cannot honour (ValueError with a one-line message);
        called when the run configuration is validated. Accepts everything by default."""

    @property
    def state_size(self) -> int:
        """Size of the state (``hidden_size`` unless the state holds more than the activity)."""
        return self.hidden_size

    @property
    def n_heads(self) -> int:
        return self.readout.n_heads

    def activity(self, states: torch.Tensor) -> torch.Tensor:
        """The part of states (..., state_size) that the readout and the analyses read: (..., hidden)."""
        return states[..., : self.hidden_size]

    def timescales(self) -> torch.Tensor | None:
        """Trained per-unit timescales in time steps, (hidden,), or None for a model without them."""
        return None

    @abstractmethod
    def init_state(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Initial state for ``batch_size`` sequences: (batch, state_size)."""

    @abstractmethod
    def step(self, state: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The one-step update F(state, x): (batch, state_size), (batch, input) -> (batch, state_size)."""

    def run(self, inputs: torch.Tensor, state0: torch.Tensor, **step_options: Any) -> torch.Tensor:
        """States after every input: inputs (time, batch, input), state0 (batch, state_size) ->
        (time, batch, state_size). ``step_options`` go to every :meth:`step` (``time_scale``)."""
        states = []
        state = state0
        for x in inputs:
            state = self.step(state, x, **step_options)
            states.append(state)
        return torch.stack(states)

    def run_final(self, inputs: torch.Tensor, state0: torch.Tensor, **step_options: Any) -> torch.Tensor:
        """The state after the last input only, (batch, state_size); a model may compute it
        without keeping the trajectory."""
        return self.run(inputs, state0, **step_options)[-1]

    def time_scale_options(self, time_scale: int) -> dict[str, int]:
        """What :meth:`run` / :meth:`run_final` are passed for inputs made for ``time_scale``: nothing
        for k = 1 (every model runs as it always did), ``{"time_scale": k}`` for a
        :attr:`time_scalable` model, ConfigError for one that is not."""
        if time_scale == 1:
            return {}
        if not self.time_scalable:
            raise ConfigError(f"model {self.name!r} has no timescales to rescale, so it cannot run with "
                              f"time_scale {time_scale} (continuous-time inputs need model.type leaky_rnn)")
        return {"time_scale": int(time_scale)}

    def run_activity(self, inputs: torch.Tensor, state0: torch.Tensor,
                     **step_options: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The activity after every input and the last state: ((time, batch, hidden), (batch,
        state_size)). Per-step readouts need only this; a model whose state holds more than its
        activity may skip computing the rest at every step (the LSTM's c)."""
        trajectory = self.run(inputs, state0, **step_options)
        return self.activity(trajectory), trajectory[-1]

    def forward(
        self,
        inputs: torch.Tensor,
        h0: torch.Tensor | None = None,
        *,
        n_heads: int | None = None,
        generator: torch.Generator | None = None,
        return_trajectory: bool = False,
        return_step_logits: bool = False,
        time_scale: int = 1,
    ) -> RNNOutput:
        """Run the network over ``inputs`` (time, batch, input) and read the first ``n_heads`` heads.

        ``h0`` defaults to :meth:`init_state` drawn from ``generator``. When neither the
        trajectory nor per-step logits are asked for, only the final state is computed
        (:meth:`run_final`). ``time_scale``: k of the inputs (``Batch.time_scale``); k != 1 needs
        a :attr:`time_scalable` model (ConfigError otherwise).
        """
        if inputs.dim() != 3 or inputs.shape[-1] != self.input_size:
            raise ValueError(f"inputs must have shape (time, batch, {self.input_size}), got {tuple(inputs.shape)}")
        if h0 is None:
            h0 = self.init_state(inputs.shape[1], generator)
        options = self.time_scale_options(time_scale)
        if not (return_trajectory or return_step_logits):
            final = self.run_final(inputs, h0, **options)
            return RNNOutput(final_state=final, logits=self.readout(self.activity(final), n_heads))
        if not return_trajectory:
            activity, final = self.run_activity(inputs, h0, **options)
            return RNNOutput(final_state=final, logits=self.readout(self.activity(final), n_heads),
                             step_logits=self.readout(activity, n_heads))
        trajectory = self.run(inputs, h0, **options)
        final = trajectory[-1]
        return RNNOutput(
            final_state=final,
            logits=self.readout(self.activity(final), n_heads),
            trajectory=trajectory if return_trajectory else None,
            step_logits=self.readout(self.activity(trajectory), n_heads) if return_step_logits else None,
        )
