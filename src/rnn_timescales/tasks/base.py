"""The contract every task offers: what a batch holds, what a task declares, what a curriculum may change.

A task makes fresh batches on the device, vectorised over the batch. It declares

- ``input_size`` (D) and ``n_classes`` (C, logits per head), and how many heads it uses at a
  given *level*;
- its *level*: the parameters a curriculum may change, as a plain JSON-serialisable dict (the N
  of each head, ``{"ns": [2, 3, 4]}``, for parity and DMS; the number of classes and the maximum
  delay for delayed recall; nothing, ``{}``, for the flip-flop);
- its settings (``Params``, a pydantic model validated with the run configuration, under
  ``task:`` in ``config.yaml``), and which curriculum and how many readout heads it takes when
  the configuration does not say.

A :class:`Batch` holds inputs for every step and a target for every step and head, with
:data:`IGNORE` where nothing is scored; a task that scores only the last step says so
(``final_only``), which lets the model return just its final state (the fast path of the leaky
RNN never forms the (time, batch, hidden) gradient of states nobody reads).

Tasks are registered by name (:data:`rnn_timescales.tasks.TASKS`); the configuration
accepts exactly the registered names.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

import torch
from pydantic import BaseModel

from rnn_timescales.registry import NoParams

IGNORE = -1
"""Target marking a (step, sequence, head) that is not scored."""

Level = dict[str, Any]


@dataclass
class Batch:
    """One freshly generated batch. Time-major.

    inputs: (time, batch, input_size) float.
    targets: (time, batch, heads) long, the class each head must output at each step;
        :data:`IGNORE` where nothing is scored.
    weights: (time, batch) float loss weight of each step, or None (all 1).
    final_only: True when only the last step is scored, for every head (``targets[:-1]`` is all
        :data:`IGNORE`, ``targets[-1]`` has none).
    class_mask: (heads, classes) bool, the classes each head may output (the others are removed
        from its softmax, e.g. classes not yet in a vocabulary curriculum); None: all of them.
    time_scale: k >= 1, the continuous-time rescaling the batch was made for (docs/science.md, the
        model): every input is already held for k steps, and the model must run with every
        timescale tau replaced by max(tau k, 1). 1 (the default) is the plain discrete-time task.
    """

    inputs: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor | None = None
    final_only: bool = False
    class_mask: torch.Tensor | None = None
    time_scale: int = 1

    @property
    def n_heads(self) -> int:
        return self.targets.shape[-1]

    @property
    def final_targets(self) -> torch.Tensor:
        """(batch, heads) targets of the last step."""
        return self.targets[-1]


def repeat_steps(inputs: torch.Tensor, k: int) -> torch.Tensor:
    """Every time step of ``inputs`` (time, ...) held for k steps: (time * k, ...). The input of a
    network discretised k times finer (docs/science.md, the model); k = 1 returns ``inputs`` itself."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return inputs if k == 1 else inputs.repeat_interleave(int(k), dim=0)


def final_step_targets(labels: torch.Tensor, length: int) -> torch.Tensor:
    """Targets for a task scored at the last step only: labels (batch, heads) ->
    (length, batch, heads), :data:`IGNORE` everywhere but the last step."""
    targets = labels.new_full((length, *labels.shape), IGNORE)
    targets[-1] = labels
    return targets


def batch_logits(model: Any, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
    """The logits of ``model`` (a :class:`~rnn_timescales.models.base.RecurrentModel`) that the
    batch's targets are compared with: (batch, heads, classes) read from the final
    state when ``batch.final_only``, else (time, batch, heads, classes) read at every step; classes
    outside ``batch.class_mask`` are set to -inf. A batch made for ``time_scale`` k runs the model k
    times finer in time (every tau replaced by max(tau k, 1))."""
    out = model(batch.inputs, n_heads=batch.n_heads, generator=generator, return_step_logits=not batch.final_only,
                time_scale=batch.time_scale)
    return mask_classes(out.logits if batch.final_only else out.step_logits, batch)


def mask_classes(logits: torch.Tensor, batch: Batch) -> torch.Tensor:
    """``logits`` (..., heads, classes) with the classes outside ``batch.class_mask`` set to -inf."""
    return logits if batch.class_mask is None else logits.masked_fill(~batch.class_mask, float("-inf"))


class Task(ABC):
    """Base class of every task. Subclasses set the class attributes and implement :meth:`sample`.

    Class attributes: ``name`` (the registry name), ``Params`` (its settings), ``default_curriculum``
    (the curriculum kind used when the configuration names none), ``level_keys`` (what its level
    holds). ``params`` is the validated instance of ``Params``.
    """

    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    default_curriculum: ClassVar[str] = "none"
    level_keys: ClassVar[tuple[str, ...]] = ()
    # Capabilities beyond the common contract (docs/contracts.md). The configuration, the studies
    # and the command line ask these, never the class: a new task that has one declares it here.
    streaming: ClassVar[bool] = False  # accuracy "in time" on one long stream (streaming_accuracy, evaluate)
    recall: ClassVar[bool] = False  # a class recalled after a delay, null before the response, a rest input
    # (noise_stats): extrapolate, recall-memory, speed regularisation; not slow-points
    image_shape: ClassVar[tuple[int, int, int] | None] = None  # inputs are images of this shape (model.encoder: cnn)

    def __init__(self, **params: Any) -> None:
        self.params = self.Params(**params)

    @property
    @abstractmethod
    def input_size(self) -> int:
        """D, the size of each step's input."""

    @property
    def n_classes(self) -> int:
        """C, logits per head."""
        return 2

    @property
    def default_heads(self) -> int:
        """Readout heads a model allocates for this task when the configuration does not say."""
        return 1

    def default_level(self) -> Level:
        """The level trained when no curriculum changes it."""
        return {}

    def n_heads(self, level: Mapping[str, Any]) -> int:
        """Heads in use at ``level`` (head k reads logits k of the readout)."""
        return self.default_heads

    @property
    def time_scales(self) -> tuple[int, ...]:
        """The continuous-time rescalings k its batches are made for (``Batch.time_scale``):
        ``(1,)`` unless the task's settings say otherwise."""
        return (1,)

    def describe(self, level: Mapping[str, Any]) -> str:
        """A short text for progress bars, e.g. ``N=2..11``."""
        return ", ".join(f"{k}={v}" for k, v in level.items()) or self.name

    @abstractmethod
    def sample(
        self,
        level: Mapping[str, Any],
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> Batch:
        """A fresh batch at ``level``: every random draw from ``generator``, on ``device``."""

    def sample_held_out(
        self,
        level: Mapping[str, Any],
        batch_size: int,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> Batch:
        """A fresh batch for measuring accuracy: like :meth:`sample`, but drawn from held-out data
        where the task has any (the test images of delayed recall). By default, :meth:`sample`."""
        return self.sample(level, batch_size, generator, device)

    def check(self) -> None:
        """Check that everything the task reads (data files) is there and well formed, so a run
        is refused before it writes anything; ConfigError with a one-line message otherwise.
        Constructing a task never reads files; this does (a task without files: nothing to do)."""

    def input_source(
        self, n_trials: int, generator: torch.Generator | None = None, device: torch.device | str = "cpu"
    ) -> Callable[[int], torch.Tensor]:
        """Endless input under the task's statistics, for the timescale analyses: a function that,
        called with a number of steps, returns the next (steps, n_trials, input_size) of it.

        The default strings together the inputs of fresh batches at :meth:`default_level`.
        """
        level = self.default_level()
        pending: list[torch.Tensor] = []

        def next_steps(length: int) -> torch.Tensor:
            while sum(x.shape[0] for x in pending) < length:
                pending.append(self.sample(level, n_trials, generator, device).inputs)
            joined = torch.cat(pending)
            pending[:] = [joined[length:]]
            return joined[:length]

        return next_steps

    def score(self, logits: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Correct predictions and scored predictions per head: ((heads,), (heads,)) long.

        ``logits``: (batch, heads, classes) read from the final state when ``batch.final_only``,
        else (time, batch, heads, classes) read at every step. The default counts every target
        that is not :data:`IGNORE`; a task whose accuracy is defined on fewer steps overrides it.
        """
        targets = batch.final_targets if batch.final_only else batch.targets
        scored = targets != IGNORE
        correct = (logits.argmax(-1) == targets) & scored
        dims = tuple(range(targets.dim() - 1))
        return correct.sum(dims), scored.sum(dims)
