"""The leaky RNN with trainable per-neuron timescales of [K24] (SPEC section 1).

Nonlinearity outside (the paper's main model)::

    h_t = phi((1 - 1/tau_hat) * h_{t-1} + (W h_{t-1} + b_W + U x_t + b_U) / tau_hat)

Nonlinearity inside::

    h_t = (1 - 1/tau_hat) * h_{t-1} + phi(W h_{t-1} + b_W + U x_t + b_U) / tau_hat

with tau_hat = max(tau, 1) elementwise and W's diagonal held at zero (no self-connections).
"""

from __future__ import annotations

from typing import Callable, Literal

import torch
import torch.nn.functional as F
from torch import nn

from rnn_timescales.models.base import RecurrentModel, RNNOutput
from rnn_timescales.models.fused import Workspace, leaky_recurrence
from rnn_timescales.models.readout import MultiHeadReadout

Nonlinearity = Literal["leaky_relu", "relu", "tanh", "sigmoid"]
Placement = Literal["outside", "inside"]
Precision = Literal["fp32", "bf16"]

LEAKY_RELU_SLOPE = 0.01


def activation(name: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """The elementwise nonlinearity phi called ``name``."""
    if name == "leaky_relu":
        return lambda x: F.leaky_relu(x, LEAKY_RELU_SLOPE)
    if name == "relu":
        return torch.relu
    if name == "tanh":
        return torch.tanh
    if name == "sigmoid":
        return torch.sigmoid
    raise ValueError(f"unknown nonlinearity {name!r}; choose one of leaky_relu, relu, tanh, sigmoid")


class LeakyRNN(RecurrentModel):
    """Leaky RNN with per-neuron timescales tau (in time steps) and a multi-head readout.

    Parameters
    ----------
    hidden_size:
        H, number of neurons (paper: 500).
    input_size:
        D, size of each input (1 for the binary tasks).
    n_heads:
        K, readout heads allocated (paper: 100); the curriculum trains the first few.
    n_classes:
        C, logits per head.
    nonlinearity:
        phi: ``leaky_relu`` (slope 0.01, default), ``relu``, ``tanh`` or ``sigmoid``.
    placement:
        ``outside`` (default, phi applied after the leak) or ``inside`` (phi on the drive only).
    train_tau:
        Whether tau is trained with the weights (default) or held fixed.
    tau_init:
        Initial tau. ``None`` (default) draws 1 + U(0, 1) per neuron, the paper's start; a number
        sets every neuron to it (with ``train_tau=False`` and 1.0 this is a plain RNN).
    precision:
        ``fp32`` (default) or ``bf16``: the matrix products of :meth:`run` take bfloat16 operands
        and accumulate in fp32; the state and the parameters stay fp32. Fast on CUDA and on CPUs
        with bf16 matrix units, emulated (same numbers, fp32 speed) elsewhere; see
        ``docs/performance.md``. :meth:`step` always computes in the parameters' precision.
    fused:
        Whether :meth:`run` uses the whole-sequence recurrence with a hand-written backward pass
        (:mod:`rnn_timescales.models.fused`, default) or the plain per-step autograd loop
        :meth:`run_reference`. Both compute the same states and gradients.

    Parameters (state-dict keys): ``tau`` (H,), ``input.weight`` (H, D), ``input.bias`` (H,),
    ``recurrent.weight`` (H, H), ``recurrent.bias`` (H,), ``readout.weight`` (K, C, H),
    ``readout.bias`` (K, C). The stored ``tau`` is unclamped; the forward pass uses max(tau, 1).
    """

    def __init__(
        self,
        hidden_size: int = 500,
        input_size: int = 1,
        n_heads: int = 100,
        n_classes: int = 2,
        nonlinearity: Nonlinearity = "leaky_relu",
        placement: Placement = "outside",
        train_tau: bool = True,
        tau_init: float | None = None,
        precision: Precision = "fp32",
        fused: bool = True,
    ) -> None:
        super().__init__()
        if placement not in ("outside", "inside"):
            raise ValueError(f"placement must be 'outside' or 'inside', got {placement!r}")
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        self.precision = precision
        self.fused = fused
        self.hidden_size = hidden_size
        self.input_size = input_size
        self.nonlinearity = nonlinearity
        self.placement = placement
        self.phi = activation(nonlinearity)
        tau = 1.0 + torch.rand(hidden_size) if tau_init is None else torch.full((hidden_size,), float(tau_init))
        self.tau = nn.Parameter(tau, requires_grad=train_tau)
        self.input = nn.Linear(input_size, hidden_size)
        self.recurrent = nn.Linear(hidden_size, hidden_size)
        self.readout = MultiHeadReadout(hidden_size, n_heads, n_classes)
        self.register_buffer("offdiag", 1.0 - torch.eye(hidden_size), persistent=False)
        self.workspace = Workspace()  # memory the fast path reuses from one batch to the next
        with torch.no_grad():
            self.recurrent.weight.mul_(self.offdiag)

    @property
    def train_tau(self) -> bool:
        return self.tau.requires_grad

    @property
    def n_heads(self) -> int:
        return self.readout.n_heads

    def tau_hat(self) -> torch.Tensor:
        """The timescales used in the forward pass, max(tau, 1): (H,), in time steps."""
        return torch.clamp(self.tau, min=1.0)

    def recurrent_weight(self) -> torch.Tensor:
        """W with its diagonal masked to zero: (H, H)."""
        return self.recurrent.weight * self.offdiag

    def init_state(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """h_0 = 0.1 * U(0, 1), independently per neuron and sequence: (batch, H)."""
        return 0.1 * torch.rand(
            batch_size, self.hidden_size, generator=generator, device=self.tau.device, dtype=self.tau.dtype
        )

    def step(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        inv = 1.0 / self.tau_hat()
        drive = F.linear(h, self.recurrent_weight(), self.recurrent.bias) + self.input(x)
        if self.placement == "outside":
            return self.phi((1.0 - inv) * h + drive * inv)
        return (1.0 - inv) * h + self.phi(drive) * inv

    def run(self, inputs: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """States after every input: inputs (time, batch, input), h0 (batch, H) -> (time, batch, H)."""
        if not self.fused:
            return self.run_reference(inputs, h0)
        return self._fused(inputs, h0, final_only=False)

    def _fused(self, inputs: torch.Tensor, h0: torch.Tensor, final_only: bool) -> torch.Tensor:
        return leaky_recurrence(
            inputs,
            h0,
            self.recurrent_weight(),
            self.input.bias + self.recurrent.bias,
            self.input.weight,
            1.0 / self.tau_hat(),
            self.placement,
            self.nonlinearity,
            self.precision,
            final_only=final_only,
            workspace=self.workspace,
        )

    def _apply(self, fn, *args, **kwargs):
        self.workspace.clear()  # moved or cast: the old memory would never fit again
        return super()._apply(fn, *args, **kwargs)

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
        """As :meth:`RecurrentModel.forward`. When only the final state is read (training and
        end-of-sequence evaluation), the fast path returns just that state, so the backward pass
        never forms a (time, batch, H) gradient that is zero everywhere but the last step."""
        if not self.fused or return_trajectory or return_step_logits:
            return super().forward(
                inputs, h0, n_heads=n_heads, generator=generator,
                return_trajectory=return_trajectory, return_step_logits=return_step_logits,
            )
        if inputs.dim() != 3 or inputs.shape[-1] != self.input_size:
            raise ValueError(
                f"inputs must have shape (time, batch, {self.input_size}), got {tuple(inputs.shape)}"
            )
        if h0 is None:
            h0 = self.init_state(inputs.shape[1], generator)
        final = self._fused(inputs, h0, final_only=True)
        return RNNOutput(final_state=final, logits=self.readout(final, n_heads))

    def run_reference(self, inputs: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """The plain per-step loop over :meth:`step` (autograd records every step): the
        definition the fast path of :meth:`run` is tested against. Its products are always in the
        parameters' dtype, whatever ``precision`` says."""
        return RecurrentModel.run(self, inputs, h0)
