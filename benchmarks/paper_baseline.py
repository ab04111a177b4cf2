"""The paper's training step, written afresh the way its public code does it (the speed baseline).

What makes it the baseline, each as in LevinaLab/rnn_timescale_public (``RNN_Stack``,
``make_batch_Nbit_pair_parity``, ``train``):

- data made per sequence in Python: one ``torch.rand`` per sequence, then the label of every
  sequence for every N computed one at a time, stacked;
- batch-first data permuted to time-major on every step;
- the diagonal of W zeroed through ``.data`` before every forward pass;
- per step: module calls for W, ``torch.clamp(tau, 1)`` evaluated twice, separate leak and drive
  terms, a LeakyReLU module; autograd records all of it;
- a readout loop over all 100 allocated heads (the reference reads every head), and the loss as
  a Python sum over the trained heads;
- SGD (lr 0.05, momentum 0.1, Nesterov) over all parameters, global-norm clipping at 2.

Only the timing matters here; none of this is imported by the package.
"""

from __future__ import annotations

import torch
from torch import nn


class PaperRNN(nn.Module):
    """One-layer ``RNN_Stack`` with trainable tau, as the reference builds it."""

    def __init__(self, hidden_size: int = 500, n_heads: int = 100, n_classes: int = 2) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.n_heads = n_heads
        self.taus = nn.ParameterList([nn.Parameter(1 + torch.rand(hidden_size))])
        self.input_layer = nn.Linear(1, hidden_size)
        self.w_hh = nn.Linear(hidden_size, hidden_size)
        self.fc = nn.ModuleList([nn.Linear(hidden_size, n_classes) for _ in range(n_heads)])
        self.afunc = nn.LeakyReLU()

    def forward(self, data: torch.Tensor):
        hs = 0.1 * torch.rand(data.size(1), self.hidden_size)
        x = torch.stack([self.input_layer(data)]).mean(dim=0)
        self.w_hh.weight.data.fill_diagonal_(0.0)
        for t in range(data.size(0)):
            inp = x[t, ...]
            hs = (1 - 1 / torch.clamp(self.taus[0], min=1.0)) * hs + (self.w_hh(hs) + inp) / torch.clamp(
                self.taus[0], min=1.0
            )
            hs = self.afunc(hs)
        out = [self.fc[i](hs) for i in range(self.n_heads)]
        return hs, out


def generate_binary_sequence(length: int) -> torch.Tensor:
    return (torch.rand(length) < torch.rand(1)) * 1.0


def get_parity(vec: torch.Tensor, n: int) -> torch.Tensor:
    return (vec[-n:].sum() % 2).long()


def make_parity_batch(ns: list[int], batch_size: int, length: int):
    """Per-sequence generation; ``length`` is fixed by the benchmark (the reference draws it)."""
    with torch.no_grad():
        sequences = [generate_binary_sequence(length).unsqueeze(-1) for _ in range(batch_size)]
        labels = [torch.stack([get_parity(s, n) for s in sequences]).squeeze() for n in ns]
    return torch.stack(sequences), labels


class PaperStep:
    """One training step of the reference loop, callable repeatedly."""

    def __init__(self, hidden_size: int, ns: list[int], batch_size: int, length: int) -> None:
        self.model = PaperRNN(hidden_size)
        self.ns, self.batch_size, self.length = ns, batch_size, length
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.1, nesterov=True)
        self.criterion = nn.CrossEntropyLoss()

    def __call__(self) -> float:
        self.optimizer.zero_grad()
        sequences, labels = make_parity_batch(self.ns, self.batch_size, self.length)
        sequences = sequences.permute(1, 0, 2)
        _, out_class = self.model(sequences)
        loss = 0.0
        for i in range(len(self.ns)):
            loss += self.criterion(out_class[i], labels[i])
        loss.backward()
        value = loss.item()
        nn.utils.clip_grad_norm_(self.model.parameters(), max_norm=2.0, norm_type=2)
        self.optimizer.step()
        return value
