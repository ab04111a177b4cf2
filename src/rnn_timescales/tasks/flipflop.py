"""The 3-bit flip-flop (Sussillo & Barak 2013), the standard task for fixed-point analysis.

Each of ``n_bits`` input channels carries sparse pulses of +1 or -1 (at each step a channel pulses
with probability ``pulse_prob``, with a random sign); output k holds the sign of the last pulse of
channel k. Scored at every step from the first pulse of each channel on (before it, there is no
sign to hold). Head k has two classes: 0 for -1, 1 for +1. A network that solves it holds 2^n_bits
memories, one stable fixed point per corner of the cube.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
from pydantic import BaseModel, ConfigDict, Field

from rnn_timescales.tasks.base import IGNORE, Batch, Task


class FlipFlopParams(BaseModel):
    """n_bits: input channels and heads; pulse_prob: probability that a channel pulses at a step;
    length: steps per training sequence."""

    model_config = ConfigDict(extra="forbid")
    n_bits: int = Field(3, ge=1)
    pulse_prob: float = Field(0.05, gt=0, le=1)
    length: int = Field(100, ge=1)


class FlipFlop(Task):
    """The n-bit flip-flop: output k holds the sign of the last pulse on input channel k."""

    name = "flipflop"
    Params = FlipFlopParams
    default_curriculum = "none"

    @property
    def input_size(self) -> int:
        return self.params.n_bits

    @property
    def default_heads(self) -> int:
        return self.params.n_bits

    def n_heads(self, level: Mapping[str, Any]) -> int:
        return self.params.n_bits

    def sample(self, level, batch_size, generator=None, device="cpu") -> Batch:
        p = self.params
        shape = (p.length, batch_size, p.n_bits)
        pulse = torch.rand(shape, generator=generator, device=device) < p.pulse_prob
        positive = torch.rand(shape, generator=generator, device=device) < 0.5
        inputs = torch.where(positive, 1.0, -1.0) * pulse
        # the last pulse so far: its sign where one happened, carried forward by a running max of
        # the step index of each pulse
        steps = torch.arange(p.length, device=device).view(-1, 1, 1)
        last = torch.cummax(torch.where(pulse, steps, -1), dim=0).values  # (time, batch, bits)
        sign = torch.gather(positive.long(), 0, last.clamp(min=0))
        targets = torch.where(last >= 0, sign, IGNORE)
        return Batch(inputs=inputs, targets=targets)
