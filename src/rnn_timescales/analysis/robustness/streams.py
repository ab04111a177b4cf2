"""Streaming accuracy of many variants of one network (docs/science.md, tasks and robustness).

A *repeat* (the paper code's "trial") is one Bernoulli(0.5) stream of ``warmup + length`` steps
with its own initial state; the head's prediction at every step after the warm-up is scored
against the label of the window ending there. The streams and initial states are drawn exactly
as :func:`rnn_timescales.training.steps.streaming_accuracy` draws them from the same seed (the
streams first, then h_0), and every variant of a network is scored on the same streams, so the
unchanged network reproduces that function's accuracy exactly and differences between variants
are not stream noise.

Two engines, chosen by measurement (``benchmarks/robustness.py``):

- :func:`copy_accuracy`: one network, all its streams as one batch, through the model's own
  ``run`` (the fused recurrence). Used where every variant has its own W (W perturbations,
  ablations): a product with a per-variant W is memory-bound, and one W at a time stays in cache,
  which measured as fast as a batched product over variants and 9-18x faster than ``torch.vmap``
  over the model's ``step``.
- :func:`rows_accuracy`: many variants that share W but differ in a few parameters (tau), as rows
  of one batch, through ``torch.vmap`` of the model's ``step`` with only the differing parameters
  batched.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, vmap

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.tasks import BinaryTask

CHANCE = 0.5


@dataclass(frozen=True)
class StreamingProtocol:
    """How streaming accuracy is measured; defaults are the paper's (docs/science.md, robustness).

    repeats: independent streams (the paper's trials), each with its own initial state.
    warmup: unscored steps at the start of every stream (must be >= N - 1).
    length: scored steps per stream.
    seed: seeds the streams and initial states (and, through :func:`derived_seed`, every other draw).
    """

    repeats: int = 10
    warmup: int = 100
    length: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        for name, low in (("repeats", 1), ("warmup", 0), ("length", 1), ("seed", 0)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")

    def check_n(self, n_max: int) -> None:
        """ValueError unless the warm-up covers a full window of ``n_max`` inputs."""
        if self.warmup < n_max - 1:
            raise ValueError(f"a warm-up of {self.warmup} steps is shorter than N - 1 = {n_max - 1}; "
                             "streaming labels need a full window")


def derived_seed(seed: int, name: str) -> int:
    """A seed for the draws called ``name``, independent of the streams' (which use ``seed``)."""
    key = tuple(name.encode())
    return int(np.random.SeedSequence(seed, spawn_key=key).generate_state(1, np.uint64)[0] >> 1)


@dataclass
class Streams:
    """The shared input of every variant.

    inputs: (time, repeats, 1) binary streams; targets: (time, repeats, len(ns)) labels for ns
    (-1 where no full window); h0: (repeats, H) initial states; warmup: unscored steps.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    h0: torch.Tensor
    warmup: int

    @property
    def repeats(self) -> int:
        return self.inputs.shape[1]

    def scored_targets(self, columns: Sequence[int]) -> torch.Tensor:
        """(length, repeats, len(columns)) labels of the scored steps."""
        return self.targets[self.warmup:, :, list(columns)]


def draw_streams(model: RecurrentModel, task: BinaryTask, ns: Sequence[int], protocol: StreamingProtocol,
                 device: torch.device | str = "cpu") -> Streams:
    """``protocol.repeats`` streams labelled for every N in ``ns``, and their initial states, drawn
    like ``streaming_accuracy(model, task, ns, warmup, length, repeats, Generator().manual_seed(seed))``."""
    protocol.check_n(max(ns))
    gen = torch.Generator(device=device).manual_seed(protocol.seed)
    batch = task.stream(list(ns), protocol.warmup + protocol.length, protocol.repeats, gen, device)
    h0 = model.init_state(protocol.repeats, gen)
    return Streams(batch.inputs, batch.targets, h0, protocol.warmup)


def _correct(states: torch.Tensor, readout: nn.Module, n_active: int, heads: Sequence[int],
             targets: torch.Tensor) -> torch.Tensor:
    """(repeats, heads) fraction of scored steps where head ``heads[j]`` predicts ``targets[..., j]``.
    states: (time, repeats, H), already without the warm-up; targets: (time, repeats, heads)."""
    pred = readout(states, n_active).argmax(-1)[..., list(heads)]
    return (pred == targets).double().mean(0)


def copy_accuracy(model: RecurrentModel, streams: Streams, heads: Sequence[int], n_active: int,
                  columns: Sequence[int] | None = None, repeats: Sequence[int] | None = None,
                  keep: torch.Tensor | None = None) -> torch.Tensor:
    """Streaming accuracy of one network: (repeats, len(heads)) fractions.

    heads: readout heads scored; columns: the target column of each (default: ``heads``);
    n_active: heads read by the readout (as ``streaming_accuracy`` reads ``len(ns)``);
    repeats: which streams (default all); keep: (H,) mask multiplying the initial state
    (silenced neurons start at zero).
    """
    columns = list(heads) if columns is None else list(columns)
    x, h0, targets = streams.inputs, streams.h0, streams.scored_targets(columns)
    if repeats is not None:
        x, h0, targets = x[:, list(repeats)], h0[list(repeats)], targets[:, list(repeats)]
    if keep is not None:
        h0 = h0 * keep
    with torch.no_grad():
        states = model.run(x, h0)
        return _correct(states[streams.warmup:], model.readout, n_active, heads, targets)


class _Step(nn.Module):
    """The model's one-step update as a module's forward, so ``functional_call`` can swap parameters."""

    def __init__(self, model: RecurrentModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.model.step(h, x)


def rows_accuracy(model: RecurrentModel, batched: dict[str, torch.Tensor], stream_of: torch.Tensor,
                  streams: Streams, heads: Sequence[int], n_active: int,
                  columns: Sequence[int] | None = None) -> torch.Tensor:
    """Streaming accuracy of V variants of ``model`` that differ only in the parameters ``batched``
    (name -> (V, *shape)), variant v scored on stream ``stream_of[v]``: (V, len(heads)) fractions.

    The variants run as one batch through ``torch.vmap`` of the model's ``step``: shared
    parameters enter every variant's product once, so V variants cost one (V, H) x (H, H) product
    per step.
    """
    columns = list(heads) if columns is None else list(columns)
    names = set(dict(model.named_parameters()))
    unknown = sorted(set(batched) - names)
    if unknown:
        raise ValueError(f"{type(model).__name__} has no parameters {unknown}")
    stream_of = torch.as_tensor(stream_of, dtype=torch.long, device=streams.inputs.device)
    params = {f"model.{k}": v for k, v in batched.items()}
    module = _Step(model)
    step = vmap(lambda p, h, x: functional_call(module, p, (h, x)), in_dims=(0, 0, 0))
    x = streams.inputs[:, stream_of, None]  # (time, V, 1, input)
    targets = streams.scored_targets(columns)[:, stream_of]  # (length, V, heads)
    h = streams.h0[stream_of, None]  # (V, 1, H)
    correct = torch.zeros(len(stream_of), len(heads), dtype=torch.float64, device=h.device)
    with torch.no_grad():
        for t in range(x.shape[0]):
            h = step(params, h, x[t])
            if t >= streams.warmup:
                pred = model.readout(h[:, 0], n_active).argmax(-1)[..., list(heads)]
                correct += pred == targets[t - streams.warmup]
    return correct / targets.shape[0]


def relative_accuracy(accuracy: np.ndarray | float, baseline: np.ndarray | float,
                      chance: float = CHANCE) -> np.ndarray:
    """(accuracy - chance) / (baseline - chance), elementwise; NaN where baseline <= chance (a
    network at chance has nothing to lose)."""
    acc = np.asarray(accuracy, dtype=np.float64)
    base = np.broadcast_to(np.asarray(baseline, dtype=np.float64), acc.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base > chance, (acc - chance) / (base - chance), np.nan)


BASELINES = ("max", "mean")


def baseline_accuracy(accuracies: np.ndarray, how: str = "max") -> float:
    """The unchanged network's accuracy that relative accuracy divides by: the ``max`` over its
    repeats (the paper code's plots) or their ``mean``."""
    if how not in BASELINES:
        raise ValueError(f"unknown baseline {how!r}; choose one of {', '.join(BASELINES)}")
    a = np.asarray(accuracies, dtype=np.float64)
    return float(a.max() if how == "max" else a.mean())
