"""The small interface every recurrent model offers to the trainer, checkpoints and analyses.

Conventions used throughout the package: tensors are **time-major**, ``inputs: (time, batch,
input_size)``, hidden states ``(batch, hidden)``, trajectories ``(time, batch, hidden)`` and logits
``(batch, heads, classes)`` (or ``(time, batch, heads, classes)`` per step).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import nn

from rnn_timescales.models.readout import MultiHeadReadout


@dataclass
class RNNOutput:
    """What a forward pass returns.

    final_state: (batch, hidden), the state after the last input.
    logits: (batch, heads, classes), the active heads read from ``final_state``.
    trajectory: (time, batch, hidden) states after every input, when requested.
    step_logits: (time, batch, heads, classes) heads read at every step, when requested.
    """

    final_state: torch.Tensor
    logits: torch.Tensor
    trajectory: torch.Tensor | None = None
    step_logits: torch.Tensor | None = None


class RecurrentModel(nn.Module, ABC):
    """Base class: a recurrent core with a one-step update ``step(h, x)`` and a multi-head readout.

    Subclasses implement :meth:`step` and :meth:`init_state`, and may override :meth:`run` with a
    faster whole-sequence implementation that computes the same states.
    """

    hidden_size: int
    input_size: int
    readout: MultiHeadReadout

    @abstractmethod
    def init_state(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """Initial state h_0 for ``batch_size`` sequences: (batch, hidden)."""

    @abstractmethod
    def step(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The one-step update F(h, x): h (batch, hidden), x (batch, input) -> (batch, hidden)."""

    def run(self, inputs: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """States after every input: inputs (time, batch, input), h0 (batch, hidden) ->
        (time, batch, hidden)."""
        states = []
        h = h0
        for x in inputs:
            h = self.step(h, x)
            states.append(h)
        return torch.stack(states)

    def forward(
        self,
        inputs: torch.Tensor,
        h0: torch.Tensor | None = None,
        *,
        n_heads: int | None = None,
        generator: torch.Generator | None = None,
        return_trajectory: bool = False,
        return_step_logits: bool = False,
    ) -> RNNOutput:
        """Run the network over ``inputs`` (time, batch, input) and read the first ``n_heads`` heads.

        ``h0`` defaults to :meth:`init_state` drawn from ``generator``.
        """
        if inputs.dim() != 3 or inputs.shape[-1] != self.input_size:
            raise ValueError(
                f"inputs must have shape (time, batch, {self.input_size}), got {tuple(inputs.shape)}"
            )
        if h0 is None:
            h0 = self.init_state(inputs.shape[1], generator)
        trajectory = self.run(inputs, h0)
        final = trajectory[-1]
        return RNNOutput(
            final_state=final,
            logits=self.readout(final, n_heads),
            trajectory=trajectory if return_trajectory else None,
            step_logits=self.readout(trajectory, n_heads) if return_step_logits else None,
        )
