"""One optimisation step and one evaluation pass: the inner loop of training, free of bookkeeping."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.tasks.base import Batch, BinaryTask


def multi_head_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum over heads of each head's mean cross-entropy over the batch.

    logits: (batch, heads, classes); targets: (batch, heads) long. Returns a scalar.
    """
    batch = logits.shape[0]
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum") / batch


def train_step(
    model: RecurrentModel,
    optimizer: torch.optim.Optimizer,
    batch: Batch,
    grad_clip: float | None = 2.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Forward, backward, clip the global gradient L2 norm to ``grad_clip``, and step.

    Returns the (detached) loss, a scalar tensor, without forcing a device sync.
    """
    optimizer.zero_grad(set_to_none=True)
    out = model(batch.inputs, n_heads=batch.targets.shape[1], generator=generator)
    loss = multi_head_loss(out.logits, batch.targets)
    loss.backward()
    if grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=grad_clip)
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def correct_counts(model: RecurrentModel, batch: Batch, generator: torch.Generator | None = None) -> torch.Tensor:
    """Number of correct end-of-sequence predictions per head: (heads,) long."""
    out = model(batch.inputs, n_heads=batch.targets.shape[1], generator=generator)
    return (out.logits.argmax(-1) == batch.targets).sum(0)


@torch.no_grad()
def accuracy(
    model: RecurrentModel,
    task: BinaryTask,
    ns: list[int],
    n_batches: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """End-of-sequence accuracy of head k on N = ns[k], over ``n_batches`` fresh batches: (heads,)
    fractions in [0, 1]."""
    correct = torch.zeros(len(ns), dtype=torch.long, device=device)
    for _ in range(n_batches):
        correct += correct_counts(model, task.sample(ns, batch_size, generator, device), generator)
    return correct.double() / (n_batches * batch_size)


@torch.no_grad()
def streaming_accuracy(
    model: RecurrentModel,
    task: BinaryTask,
    ns: list[int],
    warmup: int = 100,
    length: int = 1000,
    n_streams: int = 10,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Streaming ("classify in time") accuracy (SPEC section 2): head k's prediction at every step
    after ``warmup`` is compared with the label for N = ns[k] over the window ending there.

    Each of ``n_streams`` independent Bernoulli(0.5) streams is the spec's single stream; averaging
    several only lowers the variance. Returns (heads,) fractions in [0, 1].
    """
    if warmup < max(ns) - 1:
        raise ValueError(f"warm-up of {warmup} steps is shorter than N - 1 = {max(ns) - 1}")
    batch = task.stream(ns, warmup + length, n_streams, generator, device)
    out = model(batch.inputs, n_heads=len(ns), generator=generator, return_step_logits=True)
    pred = out.step_logits[warmup:].argmax(-1)  # (length, streams, heads)
    return (pred == batch.targets[warmup:]).double().mean(dim=(0, 1))
