"""N-delayed-match-to-sample [K24]: does the last input match the one N-1 steps before it?"""

from __future__ import annotations

import torch

from rnn_timescales.tasks.binary import BinaryTask


class DelayedMatch(BinaryTask):
    """x_t ~ Bernoulli(0.5). Label for N: 1 if x_{M-N+1} == x_M else 0 (N = 2 compares neighbours)."""

    name = "dms"

    def draw_inputs(self, length, batch_size, generator, device):
        return (torch.rand(length, batch_size, generator=generator, device=device) < 0.5).float()

    def labels(self, x, ns):
        sample = x[x.shape[0] - ns]  # (heads, batch)
        return (sample == x[-1]).t().long()

    def stream_labels(self, x, ns):
        t = torch.arange(x.shape[0], device=x.device)[:, None]
        start = t + 1 - ns[None, :]  # (time, heads)
        valid = start >= 0
        labels = (x[start.clamp(min=0)] == x[t]).long().permute(0, 2, 1)  # (time, batch, heads)
        return torch.where(valid[:, None, :], labels, torch.full_like(labels, -1))
