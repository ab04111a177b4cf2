"""Accuracy of a trained network on each of its heads: at the level it was trained at, for the
binary tasks also in streaming mode (docs/science.md, tasks), for delayed recall also at the steps that
call for no response."""

from __future__ import annotations

import pandas as pd
import torch

from rnn_timescales.analysis.extrapolation import null_accuracy
from rnn_timescales.runs.checkpoints import LoadedCheckpoint
from rnn_timescales.training.steps import accuracy, streaming_accuracy
from rnn_timescales.studies.contract import Study


def evaluate_checkpoint(
    ckpt: LoadedCheckpoint,
    n_batches: int = 50,
    batch_size: int = 256,
    n_streams: int = 10,
    warmup: int = 100,
    length: int = 1000,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> pd.DataFrame:
    """One row per head: ``head`` and ``accuracy`` over ``n_batches`` x ``batch_size`` fresh
    sequences at the checkpoint's level (as the task scores it: the last step for parity and DMS,
    every scored step for the flip-flop, the response step for delayed recall, on held-out images).
    For the binary tasks also ``n`` (the N the head answers) and ``streaming_accuracy`` over
    ``n_streams`` streams of ``warmup + length`` steps; for delayed recall also ``null_accuracy``
    (the other steps before T_max, where the answer is null, on as many fresh batches).
    Accuracies are fractions."""
    device = torch.device(device)
    model = ckpt.model.to(device).eval()
    task = ckpt.make_task()
    generator = torch.Generator(device=device).manual_seed(seed)
    acc = accuracy(model, task, ckpt.level, n_batches, batch_size, generator, device)
    table = pd.DataFrame({"head": range(len(acc)), "accuracy": acc.cpu().numpy()})
    if task.streaming:
        stream = streaming_accuracy(model, task, ckpt.ns, warmup, length, n_streams, generator, device)
        table.insert(1, "n", ckpt.ns)
        table["streaming_accuracy"] = stream.cpu().numpy()
    if task.recall:
        table["null_accuracy"] = null_accuracy(model, task, ckpt.level, n_batches, batch_size, generator, device)
    return table


STUDY = Study("evaluate", "per-head accuracy of a network (streaming and null accuracy where defined)", None, ())
