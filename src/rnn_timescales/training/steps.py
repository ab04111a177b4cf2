"""One optimisation step and one evaluation pass: the inner loop of training, free of bookkeeping.

The loss of a batch is, for every head, the weighted mean cross-entropy over the (step, sequence)
entries that head is scored on, summed over heads (docs/science.md, training: "cross-entropy, summed over
heads"). For a task scored at the last step only, that is each head's mean over the batch, and the
model computes only its final state.
"""

from __future__ import annotations

from typing import Any, Mapping

import torch
import torch.nn.functional as F

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.tasks.base import IGNORE, Batch, Task, batch_logits, mask_classes


def multi_head_loss(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None, all_scored: bool = False
) -> torch.Tensor:
    """Sum over heads of each head's weighted mean cross-entropy over its scored entries.

    logits: (..., heads, classes); targets: (..., heads) long, :data:`IGNORE` where not scored;
    weights: (...) per-entry weights, or None (all 1). ``all_scored``: the caller knows no target
    is :data:`IGNORE` (the last step of a final-only task). Returns a scalar.
    """
    if all_scored and weights is None:
        # plain means over the entries, in one kernel
        return F.cross_entropy(logits.flatten(0, -2), targets.flatten(), reduction="sum") / targets[..., 0].numel()
    ce = F.cross_entropy(logits.flatten(0, -2), targets.flatten(), ignore_index=IGNORE, reduction="none")
    ce = ce.view(targets.shape)  # (..., heads), 0 where not scored
    scored = (targets != IGNORE).to(ce.dtype)
    w = scored if weights is None else scored * weights.unsqueeze(-1)
    dims = tuple(range(targets.dim() - 1))
    return ((ce * w).sum(dims) / w.sum(dims).clamp(min=torch.finfo(ce.dtype).tiny)).sum()


def batch_loss(model: RecurrentModel, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
    """The training loss of ``batch`` (see the module docstring): a scalar."""
    logits = batch_logits(model, batch, generator)
    if batch.final_only:
        weights = batch.weights[-1] if batch.weights is not None else None
        return multi_head_loss(logits, batch.final_targets, weights, all_scored=True)
    return multi_head_loss(logits, batch.targets, batch.weights)


def trajectory_loss(model: RecurrentModel, batch: Batch,
                    generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The training loss of a batch scored at every step (as :func:`batch_loss`, with the same
    logits) and the states it went through: (scalar, (time, batch, state)), for losses that also
    need the states (:mod:`rnn_timescales.training.regularizers`)."""
    out = model(batch.inputs, n_heads=batch.n_heads, generator=generator, return_trajectory=True,
                return_step_logits=True, time_scale=batch.time_scale)
    return multi_head_loss(mask_classes(out.step_logits, batch), batch.targets, batch.weights), out.trajectory


def train_step(
    model: RecurrentModel,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    grad_clip: float | None = 2.0,
    generator: torch.Generator | None = None,
    regularizer=None,
) -> torch.Tensor:
    """Forward, backward, clip the global gradient L2 norm to ``grad_clip``, and step.

    ``regularizer``: an object whose ``loss(model, batch, generator)`` replaces the plain loss
    (e.g. :class:`~rnn_timescales.training.regularizers.SpeedRegularizer`), or None.
    Returns the (detached) loss, a scalar tensor, without forcing a device sync.
    """
    optimizer.zero_grad(set_to_none=True)
    loss = batch_loss(model, batch, generator) if regularizer is None else regularizer.loss(model, batch, generator)
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=grad_clip)
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def correct_counts(
    model: RecurrentModel, task: Task, batch: Batch, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Correct and scored predictions per head on ``batch``, as ``task.score`` defines them:
    ((heads,), (heads,)) long."""
    return task.score(batch_logits(model, batch, generator), batch)


@torch.no_grad()
def accuracy(
    model: RecurrentModel,
    task: Task,
    level: Mapping[str, Any],
    n_batches: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Accuracy of every head at ``level`` over ``n_batches`` fresh batches (held-out data where
    the task has any, :meth:`Task.sample_held_out`): (heads,) fractions in [0, 1] (for parity and
    DMS, head k on N = ns[k] at the end of the sequence)."""
    heads = task.n_heads(level)
    correct = torch.zeros(heads, dtype=torch.long, device=device)
    total = torch.zeros(heads, dtype=torch.long, device=device)
    for _ in range(n_batches):
        c, n = correct_counts(model, task, task.sample_held_out(level, batch_size, generator, device), generator)
        correct += c
        total += n
    return correct.double() / total.clamp(min=1)


@torch.no_grad()
def streaming_accuracy(
    model: RecurrentModel,
    task,
    ns: list[int],
    warmup: int = 100,
    length: int = 1000,
    n_streams: int = 10,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Streaming ("classify in time") accuracy of a binary task (docs/science.md, tasks): head k's
    prediction at every step after ``warmup`` is compared with the label for N = ns[k] over the
    window ending there.

    Each of ``n_streams`` independent Bernoulli(0.5) streams is the spec's single stream; averaging
    several only lowers the variance. Returns (heads,) fractions in [0, 1].
    """
    if warmup < max(ns) - 1:
        raise ValueError(f"warm-up of {warmup} steps is shorter than N - 1 = {max(ns) - 1}")
    batch = task.stream(ns, warmup + length, n_streams, generator, device)
    out = model(batch.inputs, n_heads=len(ns), generator=generator, return_step_logits=True)
    pred = out.step_logits[warmup:].argmax(-1)  # (length, streams, heads)
    return (pred == batch.targets[warmup:]).double().mean(dim=(0, 1))
