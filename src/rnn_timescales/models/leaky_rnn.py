"""The leaky RNN with trainable per-neuron timescales of [K24] (docs/science.md, the model).

Nonlinearity outside (the paper's main model)::

    h_t = phi((1 - 1/tau_hat) * h_{t-1} + (W h_{t-1} + b_W + U x_t + b_U) / tau_hat)

Nonlinearity inside::

    h_t = (1 - 1/tau_hat) * h_{t-1} + phi(W h_{t-1} + b_W + U x_t + b_U) / tau_hat

with tau_hat = max(tau, 1) elementwise and W's diagonal held at zero (no self-connections).

Continuous-time rescaling by k (``time_scale=k``): tau_hat = max(tau k, 1), for inputs held k
steps each (:func:`rescaled_tau`).
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.models.fused import leaky_recurrence
from rnn_timescales.models.nonlinearities import nonlinearity as nonlinearity_entry
from rnn_timescales.models.readout import MultiHeadReadout
from rnn_timescales.models.workspace import Workspace
from rnn_timescales.runtime import Precision, resolve_precision

Nonlinearity = Literal["leaky_relu", "relu", "tanh", "sigmoid"]
Placement = Literal["outside", "inside"]


def rescaled_tau(tau: torch.Tensor, k: int) -> torch.Tensor:
    """The stored timescales of the same network discretised k times finer: tau k, in steps of the
    finer grid (the forward pass then uses max(tau k, 1)). The one definition shared by training
    with ``time_scale=k`` and the continuous-time analyses; k = 1 returns ``tau`` itself, so the
    plain model is untouched bit for bit."""
    return tau if k == 1 else tau * k


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

    :meth:`step`, :meth:`run` and :meth:`run_final` take ``time_scale=k`` (default 1): the network
    run k times finer in time, every tau_hat = max(tau k, 1) (docs/science.md, the model).
    """

    name = "leaky_rnn"
    leaky_weights = True
    time_scalable = True

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
        self.phi = nonlinearity_entry(nonlinearity).phi
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
        tau = 1.0 + torch.rand(hidden_size) if tau_init is None else torch.full((hidden_size,), float(tau_init))
        self.tau = nn.Parameter(tau, requires_grad=train_tau)
        self.input = nn.Linear(input_size, hidden_size)
        self.recurrent = nn.Linear(hidden_size, hidden_size)
        self.readout = MultiHeadReadout(hidden_size, n_heads, n_classes)
        self.register_buffer("offdiag", 1.0 - torch.eye(hidden_size), persistent=False)
        self.workspace = Workspace()  # memory the fast path reuses from one batch to the next
        with torch.no_grad():
            self.recurrent.weight.mul_(self.offdiag)

    @classmethod
    def from_config(cls, config: Any, *, input_size: int, n_heads: int, n_classes: int) -> LeakyRNN:
        """The network a ``ModelConfig`` describes (``type: leaky_rnn``)."""
        return cls(
            hidden_size=config.hidden_size,
            input_size=input_size,
            n_heads=n_heads,
            n_classes=n_classes,
            nonlinearity=config.nonlinearity,
            placement=config.placement,
            train_tau=config.train_tau,
            tau_init=config.tau_init,
            precision=resolve_precision(config.precision, "cpu"),
        )

    @property
    def train_tau(self) -> bool:
        return self.tau.requires_grad

    def tau_hat(self, time_scale: int = 1) -> torch.Tensor:
        """The timescales used in the forward pass, max(tau, 1): (H,), in time steps; with
        ``time_scale=k``, max(tau k, 1)."""
        return torch.clamp(rescaled_tau(self.tau, time_scale), min=1.0)

    def timescales(self) -> torch.Tensor:
        """The trained timescales tau_hat: (H,), in time steps."""
        return self.tau_hat()

    def recurrent_weight(self) -> torch.Tensor:
        """W with its diagonal masked to zero: (H, H)."""
        return self.recurrent.weight * self.offdiag

    def init_state(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """h_0 = 0.1 * U(0, 1), independently per neuron and sequence: (batch, H)."""
        return 0.1 * torch.rand(
            batch_size, self.hidden_size, generator=generator, device=self.tau.device, dtype=self.tau.dtype
        )

    def step(self, h: torch.Tensor, x: torch.Tensor, time_scale: int = 1) -> torch.Tensor:
        inv = 1.0 / self.tau_hat(time_scale)
        drive = F.linear(h, self.recurrent_weight(), self.recurrent.bias) + self.input(x)
        if self.placement == "outside":
            return self.phi((1.0 - inv) * h + drive * inv)
        return (1.0 - inv) * h + self.phi(drive) * inv

    def run(self, inputs: torch.Tensor, h0: torch.Tensor, time_scale: int = 1) -> torch.Tensor:
        """States after every input: inputs (time, batch, input), h0 (batch, H) -> (time, batch, H)."""
        if not self.fused:
            return self.run_reference(inputs, h0, time_scale)
        return self._fused(inputs, h0, final_only=False, time_scale=time_scale)

    def run_final(self, inputs: torch.Tensor, h0: torch.Tensor, time_scale: int = 1) -> torch.Tensor:
        """The state after the last input, (batch, H). The fast path computes just that state, so
        its backward pass never forms a (time, batch, H) gradient that is zero everywhere but
        the last step (training and end-of-sequence evaluation read only this state)."""
        if not self.fused:
            return self.run_reference(inputs, h0, time_scale)[-1]
        return self._fused(inputs, h0, final_only=True, time_scale=time_scale)

    def _fused(self, inputs: torch.Tensor, h0: torch.Tensor, final_only: bool, time_scale: int = 1) -> torch.Tensor:
        return leaky_recurrence(
            inputs,
            h0,
            self.recurrent_weight(),
            self.input.bias + self.recurrent.bias,
            self.input.weight,
            1.0 / self.tau_hat(time_scale),
            self.placement,
            self.nonlinearity,
            self.precision,
            final_only=final_only,
            workspace=self.workspace,
        )

    def _apply(self, fn, *args, **kwargs):
        self.workspace.clear()  # moved or cast: the old memory would never fit again
        return super()._apply(fn, *args, **kwargs)

    def run_reference(self, inputs: torch.Tensor, h0: torch.Tensor, time_scale: int = 1) -> torch.Tensor:
        """The plain per-step loop over :meth:`step` (autograd records every step): the
        definition the fast path of :meth:`run` is tested against. Its products are always in the
        parameters' dtype, whatever ``precision`` says."""
        return RecurrentModel.run(self, inputs, h0, time_scale=time_scale)
