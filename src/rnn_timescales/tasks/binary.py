"""What N-parity and N-DMS share [K24]: binary input streams, one head per memory demand N,
labelled at the last step of the sequence (docs/science.md, tasks).

Level: ``{"ns": [N_0, N_1, ...]}``; head k answers N = ns[k] (the reference's positional
convention). Sequences of one batch share their length M ~ UniformInteger[N_max + 2,
N_max + 2 + 3 N_max). Streaming evaluation (:meth:`BinaryTask.stream`) labels every step.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Literal, Mapping

import torch
from pydantic import BaseModel, ConfigDict, field_validator

from rnn_timescales.tasks.base import Batch, Task, final_step_targets, repeat_steps


def sequence_length(n_max: int, generator: torch.Generator | None = None) -> int:
    """Draw the length M shared by a batch: M ~ UniformInteger[n_max + 2, n_max + 2 + 3 n_max)."""
    low = n_max + 2
    high = low + 3 * n_max
    device = generator.device if generator is not None else None
    return int(torch.randint(low, high, (1,), generator=generator, device=device).item())


class BernoulliTrials:
    """Endless binary input, x_t ~ Bernoulli(p[trial]): called with a number of steps, returns the
    next (steps, trials, 1), encoded as the task feeds it. p: (trials,)."""

    def __init__(self, task: BinaryTask, p: torch.Tensor, generator: torch.Generator | None) -> None:
        self.task, self.p, self.generator = task, p, generator

    def __call__(self, length: int) -> torch.Tensor:
        u = torch.rand(length, self.p.shape[0], generator=self.generator, device=self.p.device)
        return self.task.encode((u < self.p).float())


class BinaryParams(BaseModel):
    """Settings of the binary tasks.

    inputs: ``binary`` feeds x_t in {0, 1} (the paper's leaky RNN); ``signed`` feeds 2 x_t - 1 in
    {-1, +1} (the paper code's LSTM runs). Labels are defined on the bits either way.
    time_scale: continuous-time training (docs/science.md, the model): every bit is held for k
    steps and the model runs with every tau replaced by max(tau k, 1); the labels are on the bits
    and the heads read after the last repeat of the last bit. An integer k, or a list from which
    each batch draws its k uniformly with the run's generator (the paper trains with
    [7, 8, 9, 10]). 1: the plain task.
    """

    model_config = ConfigDict(extra="forbid")
    inputs: Literal["binary", "signed"] = "binary"
    time_scale: int | list[int] = 1

    @field_validator("time_scale", mode="before")
    @classmethod
    def _time_scale(cls, value: Any) -> int | list[int]:
        def k(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= 1

        if k(value) or (isinstance(value, list) and value and all(map(k, value)) and len(set(value)) == len(value)):
            return value
        raise ValueError(f"task.time_scale must be an integer k >= 1 or a list of distinct ones, got {value!r}")


class BinaryTask(Task):
    """A task on binary input streams whose label for memory demand N depends on the last N inputs.

    Subclasses say how the bits are drawn (:meth:`draw_inputs`) and how the label for each N is
    computed, at the end of a sequence (:meth:`labels`) and at every step of a stream
    (:meth:`stream_labels`). Everything is vectorised over the batch and over N.
    """

    Params = BinaryParams
    default_curriculum = "multi"
    streaming = True
    level_keys = ("ns",)

    @property
    def input_size(self) -> int:
        return 1

    @property
    def default_heads(self) -> int:
        return 100  # the reference allocates 100 heads up front

    def default_level(self) -> dict[str, Any]:
        return {"ns": [2]}

    def n_heads(self, level: Mapping[str, Any]) -> int:
        return len(level["ns"])

    def describe(self, level: Mapping[str, Any]) -> str:
        ns = level["ns"]
        return f"N={ns[0]}" if len(ns) == 1 else f"N={ns[0]}..{ns[-1]}"

    @property
    def time_scales(self) -> tuple[int, ...]:
        k = self.params.time_scale
        return tuple(k) if isinstance(k, list) else (k,)

    def draw_time_scale(self, generator: torch.Generator | None = None) -> int:
        """The k of the next batch: the configured one, or one drawn uniformly from the list (one
        draw from ``generator``; none when there is a single k, so k = 1 leaves every draw as it was)."""
        ks = self.time_scales
        if len(ks) == 1:
            return ks[0]
        device = generator.device if generator is not None else None
        return ks[int(torch.randint(len(ks), (1,), generator=generator, device=device).item())]

    @abstractmethod
    def draw_inputs(
        self, length: int, batch_size: int, generator: torch.Generator | None, device: torch.device
    ) -> torch.Tensor:
        """Bits for training: (length, batch) float in {0, 1}."""

    @abstractmethod
    def labels(self, x: torch.Tensor, ns: torch.Tensor) -> torch.Tensor:
        """End-of-sequence labels: x (time, batch), ns (heads,) long -> (batch, heads) long."""

    @abstractmethod
    def stream_labels(self, x: torch.Tensor, ns: torch.Tensor) -> torch.Tensor:
        """Label of the window ending at every step: x (time, batch), ns (heads,) ->
        (time, batch, heads) long. Steps t < N - 1 have no complete window; their label is -1."""

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The network's input for bits x (time, batch): (time, batch, 1), as ``inputs`` says."""
        x = x.unsqueeze(-1)
        return 2.0 * x - 1.0 if self.params.inputs == "signed" else x

    def input_source(self, n_trials, generator=None, device="cpu") -> BernoulliTrials:
        """The analyses' input (docs/science.md, timescales): each trial draws p ~ U(0, 1) once, then every bit
        x_t ~ Bernoulli(p), for parity and DMS alike."""
        return BernoulliTrials(self, torch.rand(n_trials, generator=generator, device=device), generator)

    def sample(
        self,
        level: Mapping[str, Any],
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
        length: int | None = None,
        time_scale: int | None = None,
    ) -> Batch:
        """A batch for the memory demands ``level["ns"]``, of length drawn by
        :func:`sequence_length` for max(ns) unless ``length`` is given (in bits).

        ``time_scale``: k for this batch instead of the configured one(s) (the continuous-time
        evaluation asks for each k in turn). With k > 1 every bit is held for k steps, the inputs
        are (length * k, batch, 1), the labels are those of the bits, scored after the last step.
        """
        k = self.draw_time_scale(generator) if time_scale is None else time_scale
        ns_t = torch.as_tensor(level["ns"], dtype=torch.long, device=device)
        n_max = int(ns_t.max())
        if length is None:
            length = sequence_length(n_max, generator)
        if length < n_max:
            raise ValueError(f"sequence length {length} is shorter than N = {n_max}")
        x = self.draw_inputs(length, batch_size, generator, torch.device(device))
        inputs = repeat_steps(self.encode(x), k)
        return Batch(inputs=inputs, targets=final_step_targets(self.labels(x, ns_t), inputs.shape[0]), final_only=True,
                     time_scale=k)

    def stream(
        self,
        ns: list[int] | torch.Tensor,
        length: int,
        n_streams: int = 1,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> Batch:
        """Streaming evaluation input (docs/science.md, tasks): Bernoulli(0.5) streams of ``length`` steps
        with a label at every step. inputs: (length, streams, 1); targets: (length, streams, heads).
        Always k = 1 (the continuous-time analysis repeats the stream's inputs itself)."""
        ns_t = torch.as_tensor(ns, dtype=torch.long, device=device)
        x = (torch.rand(length, n_streams, generator=generator, device=device) < 0.5).float()
        return Batch(inputs=self.encode(x), targets=self.stream_labels(x, ns_t))
