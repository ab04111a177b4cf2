"""N-parity [K24]: the parity of the last N inputs."""

from __future__ import annotations

import torch

from rnn_timescales.tasks.binary import BinaryTask


class Parity(BinaryTask):
    """Each sequence draws its own p ~ U(0, 1), then x_t ~ Bernoulli(p).

    Label for N: (x_{M-N+1} + ... + x_M) mod 2.
    """

    name = "parity"

    def draw_inputs(self, length, batch_size, generator, device):
        p = torch.rand(batch_size, generator=generator, device=device)
        return (torch.rand(length, batch_size, generator=generator, device=device) < p).float()

    def labels(self, x, ns):
        # Suffix sums: suffix[k] = x_{M-k} + ... + x_M (zero-based k), so the sum of the last N is suffix[N-1].
        suffix = x.flip(0).cumsum(0)
        return (suffix[ns - 1].t() % 2).long()

    def stream_labels(self, x, ns):
        csum = torch.cat([torch.zeros_like(x[:1]), x.cumsum(0)])  # csum[t] = x_0 + ... + x_{t-1}
        t = torch.arange(x.shape[0], device=x.device)[:, None]  # (time, 1)
        start = t + 1 - ns[None, :]  # window [start, t], (time, heads)
        valid = start >= 0
        window = csum[t + 1] - csum[start.clamp(min=0)]  # (time, heads, batch)
        labels = (window.long() % 2).permute(0, 2, 1)
        return torch.where(valid[:, None, :], labels, torch.full_like(labels, -1))
