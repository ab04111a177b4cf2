"""The interface every binary memory task offers, and the registry of tasks by name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import torch


@dataclass
class Batch:
    """One freshly generated batch.

    inputs: (time, batch, 1) float, the binary input sequence.
    targets: (batch, heads) long, the class each head must output at the last step.
    """

    inputs: torch.Tensor
    targets: torch.Tensor


def sequence_length(n_max: int, generator: torch.Generator | None = None) -> int:
    """Draw the length M shared by a batch: M ~ UniformInteger[n_max + 2, n_max + 2 + 3 n_max)."""
    low = n_max + 2
    high = low + 3 * n_max
    device = generator.device if generator is not None else None
    return int(torch.randint(low, high, (1,), generator=generator, device=device).item())


class BinaryTask(ABC):
    """A task on binary input streams whose label for memory demand N depends on the last N inputs.

    Subclasses say how inputs are drawn (:meth:`draw_inputs`) and how the label for each N is
    computed, at the end of a sequence (:meth:`labels`) and at every step of a stream
    (:meth:`stream_labels`). Everything is vectorised over the batch and over N.
    """

    name: ClassVar[str]

    @abstractmethod
    def draw_inputs(
        self, length: int, batch_size: int, generator: torch.Generator | None, device: torch.device
    ) -> torch.Tensor:
        """Binary inputs for training: (length, batch) float in {0, 1}."""

    @abstractmethod
    def labels(self, x: torch.Tensor, ns: torch.Tensor) -> torch.Tensor:
        """End-of-sequence labels: x (time, batch), ns (heads,) long -> (batch, heads) long."""

    @abstractmethod
    def stream_labels(self, x: torch.Tensor, ns: torch.Tensor) -> torch.Tensor:
        """Label of the window ending at every step: x (time, batch), ns (heads,) ->
        (time, batch, heads) long. Steps t < N - 1 have no complete window; their label is -1."""

    def sample(
        self,
        ns: list[int] | torch.Tensor,
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        length: int | None = None,
    ) -> Batch:
        """A batch for the memory demands ``ns``, of length drawn by :func:`sequence_length`
        for max(ns) unless ``length`` is given."""
        ns_t = torch.as_tensor(ns, dtype=torch.long, device=device)
        n_max = int(ns_t.max())
        if length is None:
            length = sequence_length(n_max, generator)
        if length < n_max:
            raise ValueError(f"sequence length {length} is shorter than N = {n_max}")
        x = self.draw_inputs(length, batch_size, generator, torch.device(device))
        return Batch(inputs=x.unsqueeze(-1), targets=self.labels(x, ns_t))

    def stream(
        self,
        ns: list[int] | torch.Tensor,
        length: int,
        n_streams: int = 1,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> Batch:
        """Streaming evaluation input (SPEC section 2): Bernoulli(0.5) streams of ``length`` steps
        with a label at every step. inputs: (length, streams, 1); targets: (length, streams, heads)."""
        ns_t = torch.as_tensor(ns, dtype=torch.long, device=device)
        x = (torch.rand(length, n_streams, generator=generator, device=device) < 0.5).float()
        return Batch(inputs=x.unsqueeze(-1), targets=self.stream_labels(x, ns_t))

