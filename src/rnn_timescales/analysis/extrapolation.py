"""How long a delayed-recall network remembers: accuracy against the delay t_a - t_s, far beyond
the delays it was trained on [H19].

A network trained with T_max saw delays from the minimum gap g to T_max - 1. For each delay d
asked for, trials are made as in training except for their timing: the stimulus time t_s is
uniform over the trained range 0 ... T_max - g - 1, the response is asked for at t_a = t_s + d,
and a trial lasts until t_a (noise frames all the way, fresh every step, held-out images). The
vocabulary is the one the network was trained with. Accuracy is the share of trials whose
prediction at t_a is the image's class; null accuracy the share of the steps before t_a at which it
correctly said nothing (a network that forgets often answers early, or answers null).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from rnn_timescales.models.base import RecurrentModel
from rnn_timescales.tasks.delayed_recall import DelayedRecall
from rnn_timescales.tasks.base import batch_logits

EXTRAPOLATION_COLUMNS = ["delay", "accuracy", "n_trials", "null_accuracy", "trained"]
DEFAULT_FACTOR = 5
_ELEMENTS_PER_CHUNK = 2 ** 25  # floats of input and state held at once (about 128 MB each)


def extrapolation_delays(trained_max_delay: int, min_gap: int, max_delay: int | None = None,
                         factor: int = DEFAULT_FACTOR) -> list[int]:
    """Delays g ... D, every step: D = ``max_delay``, by default ``factor`` times the trained T_max."""
    top = factor * trained_max_delay if max_delay is None else max_delay
    if top < min_gap:
        raise ValueError(f"the largest delay ({top}) is below the minimum gap ({min_gap})")
    return list(range(min_gap, top + 1))


@torch.no_grad()
def recall_by_delay(
    model: RecurrentModel,
    task: DelayedRecall,
    level: Mapping[str, Any],
    delays: Sequence[int],
    n_trials: int = 256,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    progress: Callable[[int], None] | None = None,
    by_class: bool = False,
) -> pd.DataFrame:
    """Accuracy at each delay, ``n_trials`` held-out trials per delay (see the module docstring).

    ``level``: the network's training level (its T_max and vocabulary). Trials of similar delays
    are run together, in chunks that bound memory. ``progress`` is called with the number of
    trials done after each chunk. Returns one row per delay: ``delay`` (steps), ``accuracy`` and
    ``null_accuracy`` (fractions), ``n_trials``, ``trained`` (whether training asked for it).
    ``by_class``: one row per delay and class instead, with a ``class`` column (1 ... C - 1) after
    ``delay`` (each trial's class is drawn uniformly, so each class gets about n_trials / (C - 1)).
    """
    n_classes, t_max = task.check_level(level)
    g = task.params.min_gap
    wanted = np.asarray(delays, dtype=np.int64)
    if wanted.size == 0 or (wanted < g).any():
        raise ValueError(f"delays must be at least the minimum gap {g}, got {list(delays)}")
    if n_trials < 1:
        raise ValueError(f"n_trials must be positive, got {n_trials}")
    device = torch.device(device)
    model = model.to(device).eval()
    per_trial = torch.as_tensor(np.repeat(np.sort(wanted), n_trials), device=device)
    longest = t_max - g + int(wanted.max())
    chunk = max(1, _ELEMENTS_PER_CHUNK // (longest * (task.input_size + model.state_size)))
    hits = torch.zeros(per_trial.numel(), dtype=torch.long, device=device)
    null_hits = torch.zeros_like(hits)
    null_scored = torch.zeros_like(hits)
    labels = torch.zeros_like(hits)
    for start in range(0, per_trial.numel(), chunk):
        delay = per_trial[start:start + chunk]
        t_s = torch.randint(0, t_max - g, delay.shape, generator=generator, device=device)
        t_a = t_s + delay
        batch = task.trials(t_s, t_a, t_a + 1, int(t_a.max()) + 1, n_classes, generator, held_out=True)
        prediction = batch_logits(model, batch, generator)[:, :, 0].argmax(-1)  # (time, trials)
        rows = torch.arange(delay.numel(), device=device)
        hits[start:start + chunk] = (prediction[t_a, rows] == batch.labels).long()
        labels[start:start + chunk] = batch.labels
        before = torch.arange(prediction.shape[0], device=device).unsqueeze(1) < t_a
        null_hits[start:start + chunk] = ((prediction == 0) & before).sum(0)
        null_scored[start:start + chunk] = before.sum(0)
        if progress is not None:
            progress(delay.numel())
    grouped = pd.DataFrame({"delay": per_trial.cpu().numpy(), "class": labels.cpu().numpy(), "hit": hits.cpu().numpy(),
                            "null_hit": null_hits.cpu().numpy(), "null_scored": null_scored.cpu().numpy()})
    keys = ["delay", "class"] if by_class else "delay"
    table = grouped.groupby(keys, sort=True).agg(accuracy=("hit", "mean"), n_trials=("hit", "size"),
                                                    null_hits=("null_hit", "sum"), null_scored=("null_scored", "sum"))
    table["null_accuracy"] = table["null_hits"] / table["null_scored"]
    table = table.reset_index()
    table["trained"] = table["delay"] <= t_max - 1
    columns = EXTRAPOLATION_COLUMNS[:1] + ["class"] + EXTRAPOLATION_COLUMNS[1:] if by_class else EXTRAPOLATION_COLUMNS
    return table[columns]


@torch.no_grad()
def null_accuracy(
    model: RecurrentModel,
    task: DelayedRecall,
    level: Mapping[str, Any],
    n_batches: int,
    batch_size: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> float:
    """Share of the steps before T_max, other than t_a, at which the network correctly outputs
    null, over ``n_batches`` fresh held-out batches at ``level``: a fraction."""
    correct = scored = 0
    for _ in range(n_batches):
        batch = task.sample_held_out(level, batch_size, generator, device)
        c, n = task.score_null(batch_logits(model, batch, generator), batch)
        correct += int(c.sum())
        scored += int(n.sum())
    return correct / max(scored, 1)
