"""Multi-head linear readout: K heads, each a linear map H -> C, evaluated as one matrix product."""

from __future__ import annotations

import math

import torch
from torch import nn


class MultiHeadReadout(nn.Module):
    """K independent linear classifiers reading the same hidden state.

    Parameters
    ----------
    hidden_size:
        H, the size of the state being read.
    n_heads:
        K, the number of heads allocated (the reference allocates 100 up front and the curriculum
        uses the first few).
    n_classes:
        C, the number of logits per head (2 for the binary tasks).

    Each head is initialised like ``nn.Linear(H, C)`` (PyTorch's default), so a checkpoint of the
    reference's per-head ``nn.Linear`` modules maps onto ``weight[k]``, ``bias[k]`` exactly.
    """

    def __init__(self, hidden_size: int, n_heads: int, n_classes: int = 2) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.n_heads = n_heads
        self.n_classes = n_classes
        self.weight = nn.Parameter(torch.empty(n_heads, n_classes, hidden_size))
        self.bias = nn.Parameter(torch.empty(n_heads, n_classes))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # nn.Linear's default: kaiming_uniform(a=sqrt(5)) == U(-1/sqrt(H), 1/sqrt(H)), same for bias.
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            self.bias.uniform_(-bound, bound)

    def forward(self, h: torch.Tensor, n_active: int | None = None) -> torch.Tensor:
        """Logits of the first ``n_active`` heads.

        h: (..., H) -> logits: (..., n_active, C). ``n_active=None`` reads every allocated head.
        """
        k = self.n_heads if n_active is None else n_active
        if not 0 < k <= self.n_heads:
            raise ValueError(f"n_active must be in 1..{self.n_heads}, got {k}")
        w = self.weight[:k].reshape(k * self.n_classes, self.hidden_size)
        b = self.bias[:k].reshape(k * self.n_classes)
        out = torch.nn.functional.linear(h, w, b)
        return out.unflatten(-1, (k, self.n_classes))
