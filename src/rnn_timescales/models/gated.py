"""GRU and LSTM with the multi-head readout: PyTorch's fused layers under the leaky RNN's contract.

The equations are PyTorch's (``torch.nn.GRU`` and ``torch.nn.LSTM`` documentation), one layer,
time-major, with σ the logistic function:

GRU, state h (batch, H)::

    r  = σ(W_ir x + b_ir + W_hr h + b_hr)          reset gate
    z  = σ(W_iz x + b_iz + W_hz h + b_hz)          update gate
    n  = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)) candidate
    h' = (1 − z) ⊙ n + z ⊙ h

LSTM, state [h, c] (batch, 2H), activity h::

    i  = σ(W_ii x + b_ii + W_hi h + b_hi)          input gate
    f  = σ(W_if x + b_if + W_hf h + b_hf)          forget gate
    g  = tanh(W_ig x + b_ig + W_hg h + b_hg)       cell candidate
    o  = σ(W_io x + b_io + W_ho h + b_ho)          output gate
    c' = f ⊙ c + i ⊙ g
    h' = o ⊙ tanh(c')

The rows of ``rnn.weight_ih_l0`` / ``rnn.weight_hh_l0`` (and the biases) are the gates in the
order above (GRU: r, z, n; LSTM: i, f, g, o), H rows each, as PyTorch stores them. Parameters are
initialised as PyTorch does (U(−1/√H, 1/√H) for every weight and bias).

The gate that keeps a unit's past, z for the GRU and f for the LSTM (the *retention gate*), sets
its timescale: with the gate held at a value a, a unit's own past decays by a per step. See
:mod:`rnn_timescales.analysis.gates`.

Whole sequences run in the fused ``nn.GRU`` / ``nn.LSTM``. The one-step update :meth:`step` is
written out from the equations above and equals one step of the fused layer with the same
weights; Jacobians and slow points use it. ``nn.LSTM`` returns h at every step but c only at the
end, so :meth:`LSTM.run` (every state) rebuilds c_t from the h_{t−1} the fused layer returned: one
matrix product over all steps at once for the gates i, f, g, then the linear recurrence
c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t (elementwise). Training on a task scored at the last step
(:meth:`run_final`) and per-step readouts (:meth:`forward` with ``return_step_logits``) never pay
for it.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict
from torch import nn

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.models.readout import MultiHeadReadout
from rnn_timescales.runtime import resolve_precision

InitialState = Literal["zero", "uniform"]

LEAKY_ONLY = ("nonlinearity", "placement", "train_tau", "tau_init")
"""Settings of ``ModelConfig`` that belong to the leaky RNN; the gated models have no such thing."""


class GatedParams(BaseModel):
    """Settings of the GRU and the LSTM (under ``model:`` in ``config.yaml``).

    initial_state: ``zero`` (default: the paper code's LSTM and [H19] start every sequence from
    h = c = 0) or ``uniform`` (0.1 · U(0, 1) per unit and sequence, for h and for c, as the
    leaky RNN starts).
    """

    model_config = ConfigDict(extra="forbid")
    initial_state: InitialState = "zero"


class GatedRNN(RecurrentModel):
    """What the GRU and the LSTM share: a fused one-layer ``nn.GRU`` / ``nn.LSTM`` (``rnn``), a
    multi-head readout of h, the initial state, and the gate arithmetic.

    Parameters
    ----------
    hidden_size : int
        H, units (the paper code's LSTM: 500).
    input_size : int
        D, size of each input.
    n_heads : int
        K, readout heads allocated (the paper code: 100).
    n_classes : int
        C, logits per head.
    initial_state : {"zero", "uniform"}
        See :class:`GatedParams`.
    precision : {"fp32", "bf16"}
        ``bf16`` (GRU only) runs the fused layer under ``torch.autocast``: bfloat16 matrix
        products, fp32 state. :meth:`step` always computes in the parameters' precision.

    State-dict keys: ``rnn.weight_ih_l0`` (G H, D), ``rnn.weight_hh_l0`` (G H, H),
    ``rnn.bias_ih_l0`` (G H,), ``rnn.bias_hh_l0`` (G H,) with G = 3 (GRU) or 4 (LSTM) gates,
    ``readout.weight`` (K, C, H), ``readout.bias`` (K, C).
    """

    Params = GatedParams
    layer: ClassVar[type[nn.RNNBase]]
    gate_names: ClassVar[tuple[str, ...]]
    retention_gate: ClassVar[str]
    """The gate whose value a is the fraction of a unit's own past kept per step."""
    bf16_supported: ClassVar[bool] = False
    bf16_refusal: ClassVar[str] = ""

    def __init__(
        self,
        hidden_size: int = 500,
        input_size: int = 1,
        n_heads: int = 100,
        n_classes: int = 2,
        initial_state: InitialState = "zero",
        precision: Literal["fp32", "bf16"] = "fp32",
    ) -> None:
        super().__init__()
        if initial_state not in ("zero", "uniform"):
            raise ValueError(f"initial_state must be 'zero' or 'uniform', got {initial_state!r}")
        if precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
        if precision == "bf16" and not self.bf16_supported:
            raise ValueError(self.bf16_refusal)
        self.hidden_size = hidden_size
        self.input_size = input_size
        self.initial_state = initial_state
        self.precision = precision
        self.rnn = self.layer(input_size, hidden_size)
        self.readout = MultiHeadReadout(hidden_size, n_heads, n_classes)

    @classmethod
    def from_config(cls, config: Any, *, input_size: int, n_heads: int, n_classes: int) -> GatedRNN:
        """The network a ``ModelConfig`` describes (``type: gru`` or ``lstm``)."""
        return cls(hidden_size=config.hidden_size, input_size=input_size, n_heads=n_heads, n_classes=n_classes,
                   initial_state=config.params.get("initial_state", "zero"),
                   precision=resolve_precision(config.precision, "cpu", bf16_supported=cls.bf16_supported))

    @classmethod
    def check_config(cls, config: Any) -> None:
        """Refuse settings this model would otherwise ignore (the leaky RNN's) or cannot honour."""
        for name in LEAKY_ONLY:
            if getattr(config, name) != type(config).model_fields[name].default:
                raise ValueError(f"model.{name} belongs to the leaky RNN; model.type {cls.name!r} has no such setting "
                                 f"(remove it, or use model.type leaky_rnn)")
        if config.precision == "bf16" and not cls.bf16_supported:
            raise ValueError(cls.bf16_refusal)

    # --- state ---------------------------------------------------------------------------------
    def init_state(self, batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Zeros, or 0.1 · U(0, 1) per entry (``initial_state``): (batch, state_size)."""
        w = self.rnn.weight_hh_l0
        if self.initial_state == "zero":
            return torch.zeros(batch_size, self.state_size, device=w.device, dtype=w.dtype)
        return 0.1 * torch.rand(batch_size, self.state_size, generator=generator, device=w.device, dtype=w.dtype)

    # --- gates ---------------------------------------------------------------------------------
    def gate_inputs(self, inputs: torch.Tensor, h_prev: torch.Tensor, gates: tuple[str, ...] | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The input part W_i· x + b_i· and the recurrent part W_h· h + b_h· of the named gates'
        pre-activations (all gates by default), in one product each over every leading dimension.

        inputs: (..., D); h_prev: (..., H), the h the update starts from. Returns two tensors
        (..., G' H) with the gates in the order asked for.
        """
        rows = self._rows(gates)
        w_ih, w_hh, b_ih, b_hh = self.rnn.weight_ih_l0, self.rnn.weight_hh_l0, self.rnn.bias_ih_l0, self.rnn.bias_hh_l0
        if rows is not None:
            w_ih, w_hh, b_ih, b_hh = w_ih[rows], w_hh[rows], b_ih[rows], b_hh[rows]
        return F.linear(inputs, w_ih, b_ih), F.linear(h_prev, w_hh, b_hh)

    def _rows(self, gates: tuple[str, ...] | None) -> torch.Tensor | None:
        if gates is None or tuple(gates) == self.gate_names:
            return None
        unknown = [g for g in gates if g not in self.gate_names]
        if unknown:
            raise ValueError(f"unknown gate(s) {unknown}; the {self.name} has {', '.join(self.gate_names)}")
        h = self.hidden_size
        idx = [torch.arange(self.gate_names.index(g) * h, (self.gate_names.index(g) + 1) * h) for g in gates]
        return torch.cat(idx).to(self.rnn.weight_hh_l0.device)

    def retention(self, inputs: torch.Tensor, h_prev: torch.Tensor) -> torch.Tensor:
        """The retention gate (GRU: z; LSTM: f) applied at each step: inputs (..., D), h_prev
        (..., H), the h the update starts from -> (..., H) in (0, 1)."""
        gi, gh = self.gate_inputs(inputs, h_prev, (self.retention_gate,))
        return torch.sigmoid(gi + gh)

    # --- whole sequences -----------------------------------------------------------------------
    def _autocast(self, inputs: torch.Tensor):
        if self.precision == "bf16":
            return torch.autocast(device_type=inputs.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def run_reference(self, inputs: torch.Tensor, state0: torch.Tensor) -> torch.Tensor:
        """The plain per-step loop over :meth:`step` (autograd records every step): the definition
        the fused layer is tested against, and the benchmark's baseline."""
        return RecurrentModel.run(self, inputs, state0)


class GRU(GatedRNN):
    """Gated recurrent unit (PyTorch's ``nn.GRU``, one layer) with a multi-head readout of h.

    State: h, (batch, H). Retention gate: the update gate z (h' = (1 − z) ⊙ n + z ⊙ h).
    ``precision: bf16`` is supported (autocast: bf16 products, fp32 state).
    """

    name = "gru"
    layer = nn.GRU
    gate_names = ("reset", "update", "candidate")
    retention_gate = "update"
    bf16_supported = True

    def step(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One GRU update (module docstring): h (batch, H), x (batch, D) -> (batch, H)."""
        gi, gh = self.gate_inputs(x, h)
        i_r, i_z, i_n = gi.chunk(3, -1)
        h_r, h_z, h_n = gh.chunk(3, -1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1.0 - z) * n + z * h

    def run(self, inputs: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        """h after every input: inputs (time, batch, D), h0 (batch, H) -> (time, batch, H)."""
        with self._autocast(inputs):
            out, _ = self.rnn(inputs, h0[None].contiguous())
        return out.to(h0.dtype)

    def run_final(self, inputs: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        with self._autocast(inputs):
            _, h_n = self.rnn(inputs, h0[None].contiguous())
        return h_n[0].to(h0.dtype)


class LSTM(GatedRNN):
    """Long short-term memory (PyTorch's ``nn.LSTM``, one layer) with a multi-head readout of h.

    State: [h, c] concatenated, (batch, 2H); :meth:`activity` is h. Retention gate: the forget
    gate f (c' = f ⊙ c + i ⊙ g). ``precision: bf16`` is refused (see ``bf16_refusal``).
    """

    name = "lstm"
    layer = nn.LSTM
    gate_names = ("input", "forget", "cell", "output")
    retention_gate = "forget"
    bf16_refusal = ("model.precision 'bf16' is not available for the lstm: PyTorch's CPU autocast keeps the LSTM's "
                    "state in bf16 (errors grow with sequence length); use fp32 (the gru supports bf16)")

    @property
    def state_size(self) -> int:
        return 2 * self.hidden_size

    def split(self, states: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h, c) of states (..., 2H): two (..., H) views."""
        return states[..., : self.hidden_size], states[..., self.hidden_size:]

    def cell(self, states: torch.Tensor) -> torch.Tensor:
        """The cell state c of states (..., 2H): (..., H)."""
        return states[..., self.hidden_size:]

    def step(self, state: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One LSTM update (module docstring): [h, c] (batch, 2H), x (batch, D) -> (batch, 2H)."""
        h, c = self.split(state)
        gi, gh = self.gate_inputs(x, h)
        i, f, g, o = (gi + gh).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.cat([torch.sigmoid(o) * torch.tanh(c), c], -1)

    def _fused(self, inputs: torch.Tensor, state0: torch.Tensor):
        h0, c0 = self.split(state0)
        return self.rnn(inputs, (h0[None].contiguous(), c0[None].contiguous()))

    def run_final(self, inputs: torch.Tensor, state0: torch.Tensor) -> torch.Tensor:
        _, (h_n, c_n) = self._fused(inputs, state0)
        return torch.cat([h_n[0], c_n[0]], -1)

    def run(self, inputs: torch.Tensor, state0: torch.Tensor) -> torch.Tensor:
        """[h, c] after every input: inputs (time, batch, D), state0 (batch, 2H) -> (time, batch, 2H).

        h comes from the fused layer; c is rebuilt from the h_{t−1} it returned (module
        docstring), so it is the fused layer's c up to float rounding and carries gradients.
        """
        h0, c0 = self.split(state0)
        hs, _ = self._fused(inputs, state0)
        if hs.requires_grad:  # autograd needs out-of-place results
            return torch.cat([hs, self.cells(inputs, hs, h0, c0)], -1)
        out = hs.new_empty(*hs.shape[:2], self.state_size)  # no autograd: written in place, no copies
        out[..., : self.hidden_size] = hs
        self.cells(inputs, hs, h0, c0, out=out[..., self.hidden_size:])
        return out

    def cells(self, inputs: torch.Tensor, hs: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,
              out: torch.Tensor | None = None, block: int = 256) -> torch.Tensor:
        """The cell states c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t of a sequence whose h are known.

        inputs: (time, batch, D); hs: (time, batch, H), h after every step; h0, c0: (batch, H), the
        state before the first. Returns (time, batch, H), written into ``out`` when given (no
        autograd). The gates i, f, g of ``block`` steps at a time come from one matrix product, so
        the intermediates stay small; what is left per step is elementwise.
        """
        H = self.hidden_size
        rows = self._rows(("input", "forget", "cell"))
        w_hh, w_ih = self.rnn.weight_hh_l0[rows], self.rnn.weight_ih_l0[rows]
        bias = self.rnn.bias_hh_l0[rows] + self.rnn.bias_ih_l0[rows]
        cs = []
        c = c0
        for start in range(0, inputs.shape[0], block):
            stop = min(start + block, inputs.shape[0])
            h_prev = hs[start - 1:stop - 1] if start else torch.cat([h0[None], hs[: stop - 1]])
            pre = torch.addmm(bias, h_prev.flatten(0, 1), w_hh.t())
            pre = pre.addmm_(inputs[start:stop].flatten(0, 1), w_ih.t()).view(stop - start, -1, 3 * H)
            gates = torch.sigmoid(pre[..., : 2 * H])
            drive = gates[..., :H] * torch.tanh(pre[..., 2 * H:])
            for t, (f_t, u_t) in enumerate(zip(gates[..., H:], drive), start):
                if out is None:
                    c = torch.addcmul(u_t, f_t, c)
                    cs.append(c)
                else:
                    c = torch.addcmul(u_t, f_t, c, out=out[t])
        return torch.stack(cs) if out is None else out

    def run_activity(self, inputs: torch.Tensor, state0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """h after every input and the last [h, c], from the fused layer alone (c is not rebuilt)."""
        hs, (h_n, c_n) = self._fused(inputs, state0)
        return hs, torch.cat([h_n[0], c_n[0]], -1)
